//go:build e2e

package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// TestReloaderTokenIsConfinedToItsPod takes the token the kubelet gave a
// running pod's sidecar (audience hotreload), trades it at the controller as
// the sidecar does, and checks what the API server lets that identity do: patch
// its own pod's hotreload keys and nothing else. The app's own token can neither
// be traded nor patch the pod, and the sidecar's pod token is refused by the
// API server. The real sidecar keeps working afterwards.
func TestReloaderTokenIsConfinedToItsPod(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cs := clusterClient(t)
	installHotreload(ctx, t, cs)
	d := demo{name: "policy", replicas: 2, subPath: true, inject: true}
	d.ns = enabledNamespace(ctx, t, cs, "hotreload-policy-")
	pods := d.create(ctx, t, cs, uniqueConfig("version 1"))
	names := keys(pods)
	a, b := names[0], names[1]
	podA, err := cs.CoreV1().Pods(d.ns).Get(ctx, a, metav1.GetOptions{})
	require.NoError(t, err)

	sidecarPodToken := kubeletToken(t, podA, "hotreload-token")
	appToken := kubeletToken(t, podA, "kube-api-access-")

	t.Run("the app's API token is not traded", func(t *testing.T) {
		_, err := exchange(ctx, cs, appToken)
		require.EqualError(t, err, "401 Unauthorized: the token is not a valid token with audience hotreload")
	})
	t.Run("the API server refuses the sidecar's pod token", func(t *testing.T) {
		_, err := as(t, sidecarPodToken).CoreV1().Pods(d.ns).Get(ctx, a, metav1.GetOptions{})
		require.EqualError(t, err, "Unauthorized")
	})

	tok, err := exchange(ctx, cs, sidecarPodToken)
	require.NoError(t, err)
	reloader := as(t, tok)
	app := as(t, appToken)
	sa := func(name string) string { return "system:serviceaccount:" + d.ns + ":" + name }
	denied := func(pod, msg string) string {
		return `pods "` + pod + `" is forbidden: ValidatingAdmissionPolicy 'hotreload-reloader' with binding 'hotreload-reloader' denied request: ` + msg
	}
	now := time.Now().UTC().Format(time.RFC3339)
	for _, tc := range []struct {
		name    string
		c       kubernetes.Interface
		pod     string
		patch   string
		wantErr string // "" when allowed
	}{
		{"the reloader annotates its pod", reloader, a,
			`{"metadata":{"annotations":{"hotreload/applied-at":"` + now + `"}}}`, ""},
		{"the reloader may not annotate another pod", reloader, b,
			`{"metadata":{"annotations":{"hotreload/applied-at":"` + now + `"}}}`,
			denied(b, "hotreload-reloader may patch only the pod its token was issued for")},
		{"the reloader may not change another label of its pod", reloader, a,
			`{"metadata":{"labels":{"role":"leader"}}}`,
			denied(a, "hotreload-reloader may change no label but hotreload/applied")},
		{"the reloader may not release a revision", reloader, a,
			`{"metadata":{"annotations":{"hotreload/released":"r9"}}}`,
			denied(a, "hotreload-reloader may change no annotation but hotreload/applied-at and hotreload/failed")},
		{"the reloader may not change its pod's spec", reloader, a,
			`{"spec":{"containers":[{"name":"app","image":"` + installedImages(ctx, t, cs).reloader + `"}]}}`,
			denied(a, "hotreload-reloader may not change a pod's spec")},
		{"the app may not patch its pod", app, a,
			`{"metadata":{"annotations":{"hotreload/applied-at":"` + now + `"}}}`,
			`pods "` + a + `" is forbidden: User "` + sa("default") + `" cannot patch resource "pods" in API group "" in the namespace "` + d.ns + `"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, err := cs.CoreV1().Pods(d.ns).Get(ctx, tc.pod, metav1.GetOptions{})
			require.NoError(t, err)
			_, err = tc.c.CoreV1().Pods(d.ns).Patch(ctx, tc.pod, types.StrategicMergePatchType, []byte(tc.patch), metav1.PatchOptions{})
			after, gerr := cs.CoreV1().Pods(d.ns).Get(ctx, tc.pod, metav1.GetOptions{})
			require.NoError(t, gerr)
			if tc.wantErr == "" {
				require.NoError(t, err)
				require.Equal(t, now, after.Annotations["hotreload/applied-at"])
				return
			}
			require.EqualError(t, err, tc.wantErr)
			// The kubelet and the real sidecar go on writing the pod's status
			// and their keys meanwhile.
			require.Equal(t, before.Spec, after.Spec, "the pod's spec is unchanged")
			require.Equal(t, notWrittenBySidecar(before.Labels), notWrittenBySidecar(after.Labels), "the pod's labels are unchanged")
			require.Equal(t, notWrittenBySidecar(before.Annotations), notWrittenBySidecar(after.Annotations), "the pod's annotations are unchanged")
		})
	}
	t.Run("the reloader reads no Secret and deletes no pod", func(t *testing.T) {
		_, err := reloader.CoreV1().Secrets(d.ns).List(ctx, metav1.ListOptions{})
		require.EqualError(t, err, `secrets is forbidden: User "`+sa("hotreload-reloader")+`" cannot list resource "secrets" in API group "" in the namespace "`+d.ns+`"`)
		err = reloader.CoreV1().Pods(d.ns).Delete(ctx, b, metav1.DeleteOptions{})
		require.EqualError(t, err, `pods "`+b+`" is forbidden: User "`+sa("hotreload-reloader")+`" cannot delete resource "pods" in API group "" in the namespace "`+d.ns+`"`)
	})
	t.Run("the real sidecars still report what they apply", func(t *testing.T) {
		v2 := uniqueConfig("version 2")
		edited := d.edit(ctx, t, cs, v2)
		waitServing(ctx, t, pods, v2, edited, 20*time.Second)
		waitApplied(ctx, t, cs, d.ns, pods, releasedRevision(ctx, t, cs, d.ns, pods))
	})
}

// notWrittenBySidecar is m without the keys a running pod's sidecar writes
// (or has pinned for it when it trades its token).
func notWrittenBySidecar(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		switch k {
		case "hotreload/applied", "hotreload/applied-at", "hotreload/failed", "hotreload/reloader-credential":
		default:
			out[k] = v
		}
	}
	return out
}

// TestPodsStartWhileTheWebhookIsDown: with the webhook scaled to zero, a pod
// that asks for hotreload in an enabled namespace is still created and runs,
// without hotreload (failurePolicy: Ignore); once the webhook is back, pods
// are injected again.
func TestPodsStartWhileTheWebhookIsDown(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cs := clusterClient(t)
	installHotreload(ctx, t, cs)
	d := demo{name: "nowebhook", inject: true}
	d.ns = enabledNamespace(ctx, t, cs, "hotreload-nowebhook-")

	deployments := cs.AppsV1().Deployments(hotreloadNamespace)
	scale, err := deployments.GetScale(ctx, "hotreload-webhook", metav1.GetOptions{})
	require.NoError(t, err)
	replicas := scale.Spec.Replicas
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		s, err := deployments.GetScale(ctx, "hotreload-webhook", metav1.GetOptions{})
		require.NoError(t, err)
		s.Spec.Replicas = replicas
		_, err = deployments.UpdateScale(ctx, "hotreload-webhook", s, metav1.UpdateOptions{})
		require.NoError(t, err)
		waitInjecting(ctx, t, cs)
	})
	scale.Spec.Replicas = 0
	_, err = deployments.UpdateScale(ctx, "hotreload-webhook", scale, metav1.UpdateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		list, err := cs.CoreV1().Pods(hotreloadNamespace).List(ctx, metav1.ListOptions{LabelSelector: webhookSelector})
		return err == nil && len(list.Items) == 0
	}, time.Minute, 250*time.Millisecond, "the webhook's pods are gone")

	start := time.Now()
	pods := d.create(ctx, t, cs, uniqueConfig("version 1"))
	t.Logf("pod Ready and serving %v after the Deployment was created", time.Since(start).Round(10*time.Millisecond))
	for name := range pods {
		p, err := cs.CoreV1().Pods(d.ns).Get(ctx, name, metav1.GetOptions{})
		require.NoError(t, err)
		require.Empty(t, p.Annotations["hotreload/injected"], "pod %s was injected", name)
		var containers []string
		for _, c := range append(p.Spec.InitContainers, p.Spec.Containers...) {
			containers = append(containers, c.Name)
		}
		require.Equal(t, []string{"app"}, containers, "pod %s runs as written", name)
	}
}

// kubeletToken reads the token the kubelet wrote for pod into its projected
// volume named volume (or the first whose name starts with it).
func kubeletToken(t testing.TB, pod *corev1.Pod, volume string) string {
	t.Helper()
	dir := filepath.Join(repoRoot(), "bin", "cluster", "kubelet", "pods", string(pod.UID), "volumes", "kubernetes.io~projected")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err, "the kubelet's volumes of pod %s", pod.Name)
	for _, e := range entries {
		if e.Name() == volume || strings.HasPrefix(e.Name(), volume) {
			b, err := os.ReadFile(filepath.Join(dir, e.Name(), "token"))
			require.NoError(t, err)
			return strings.TrimSpace(string(b))
		}
	}
	t.Fatalf("pod %s has no projected volume %s in %s", pod.Name, volume, dir)
	return ""
}

// exchange trades a pod token at the controller's /reloader-token, through the
// webhook's Service's exchange port and trusting its CA, as the sidecar does.
// Errors are "<status>: <body>".
func exchange(ctx context.Context, cs kubernetes.Interface, podToken string) (string, error) {
	svc, err := cs.CoreV1().Services(hotreloadNamespace).Get(ctx, "hotreload-webhook", metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	ca, err := os.ReadFile(filepath.Join(repoRoot(), "deploy", "selfsigned", "certs", "ca.crt"))
	if err != nil {
		return "", err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: pool, ServerName: "hotreload-webhook.hotreload-system.svc", MinVersion: tls.VersionTLS12,
	}}}
	var port int32
	for _, p := range svc.Spec.Ports {
		if p.Name == "exchange" {
			port = p.Port
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+net.JoinHostPort(svc.Spec.ClusterIP, strconv.Itoa(int(port)))+"/reloader-token", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+podToken)
	body, err := do(client, req)
	if err != nil {
		return "", err
	}
	var st authenticationv1.TokenRequestStatus
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		return "", err
	}
	return st.Token, nil
}

// as is a client of the local cluster's API server authenticating with token.
func as(t testing.TB, token string) kubernetes.Interface {
	t.Helper()
	admin, err := clientcmd.BuildConfigFromFlags("", kubeconfigPath())
	require.NoError(t, err)
	cfg := &rest.Config{Host: admin.Host, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAData: admin.CAData, CAFile: admin.CAFile}}
	cs, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	return cs
}
