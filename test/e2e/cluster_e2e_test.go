//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// TestClusterSmoke proves the local cluster (make cluster) does what the other
// end-to-end tests rely on: the scheduler places a pod, containerd runs it from
// an imported image, the kubelet writes a ConfigMap volume, the pod has its own
// address on the bridge (which this machine reaches), resolves Services through
// the cluster DNS, and reaches the API server through the `kubernetes` Service
// with its service-account token.
func TestClusterSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cs := clusterClient(t)

	ns := createNamespace(ctx, t, cs, "smoke-")
	want := "smoke " + rand.String(12) + "\n"
	_, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "demo-config"},
		Data:       map[string]string{"config": want},
	}, metav1.CreateOptions{})
	require.NoError(t, err)

	pod := demoPod("demo", "demo-config")
	_, err = cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	require.NoError(t, err)
	ip := waitPodReady(ctx, t, cs, ns, "demo")

	t.Run("the app serves the ConfigMap the kubelet wrote", func(t *testing.T) {
		require.Equal(t, want, httpGet(ctx, t, "http://"+ip+":8080/"))
	})
	t.Run("the pod reaches the API server through the kubernetes Service with its token", func(t *testing.T) {
		body := httpGet(ctx, t, "http://"+ip+":8080/whoami")
		require.Contains(t, body, fmt.Sprintf(`"username":"system:serviceaccount:%s:default"`, ns))
	})
	t.Run("the pod resolves Services through the cluster DNS", func(t *testing.T) {
		require.Equal(t, "10.96.0.1\n", httpGet(ctx, t, "http://"+ip+":8080/resolve?name=kubernetes.default"))
	})
	t.Run("the API server reads the container's log from the kubelet", func(t *testing.T) {
		raw, err := cs.CoreV1().Pods(ns).GetLogs("demo", &corev1.PodLogOptions{}).DoRaw(ctx)
		require.NoError(t, err)
		require.Contains(t, string(raw), "demoapp: loaded /etc/demoapp/config")
	})
}

// clusterClient returns a client for the local cluster: $KUBECONFIG, else
// bin/cluster/admin.kubeconfig. It fails with what to run when it is not up.
func clusterClient(t testing.TB) *kubernetes.Clientset {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfigPath())
	require.NoError(t, err, "no kubeconfig for the local cluster; run: make cluster")
	// The webhook's warnings (say, "the user of container app is unknown") are
	// asserted where they matter, not printed on every create.
	cfg.WarningHandler = rest.NoWarnings{}
	cs, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	require.NoError(t, err, "the local cluster does not answer at %s; run: make cluster", cfg.Host)
	return cs
}

// kubeconfigPath is $KUBECONFIG, else bin/cluster/admin.kubeconfig.
func kubeconfigPath() string {
	if path := os.Getenv("KUBECONFIG"); path != "" {
		return path
	}
	return filepath.Join(repoRoot(), "bin", "cluster", "admin.kubeconfig")
}

// createNamespace creates a namespace with a generated name, deleted when the
// test ends.
func createNamespace(ctx context.Context, t testing.TB, cs kubernetes.Interface, prefix string) string {
	t.Helper()
	ns, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{GenerateName: prefix},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() {
		if t.Failed() && os.Getenv("E2E_KEEP") != "" {
			t.Logf("keeping namespace %s (E2E_KEEP set)", ns.Name)
			return
		}
		_ = cs.CoreV1().Namespaces().Delete(context.Background(), ns.Name, metav1.DeleteOptions{})
	})
	return ns.Name
}

// demoPod is a pod of the demo app serving the "config" key of ConfigMap cm,
// mounted as a directory at /etc/demoapp.
func demoPod(name, cm string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: ptr(int64(1)),
			Containers: []corev1.Container{{
				Name:            "app",
				Image:           "hotreload/demoapp:dev",
				ImagePullPolicy: corev1.PullNever, // images are imported, never pulled
				Args:            []string{"--config=/etc/demoapp/config"},
				Ports:           []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
				ReadinessProbe: &corev1.Probe{
					ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}},
					PeriodSeconds: 1,
				},
				VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: "/etc/demoapp", ReadOnly: true}},
			}},
			Volumes: []corev1.Volume{{
				Name: "config",
				VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
					LocalObjectReference: corev1.LocalObjectReference{Name: cm},
				}},
			}},
		},
	}
}

// waitPodReady waits until the pod is Ready and returns its IP. On timeout it
// fails with the pod's status and events.
func waitPodReady(ctx context.Context, t testing.TB, cs kubernetes.Interface, ns, name string) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil && p.Status.PodIP != "" {
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
					return p.Status.PodIP
				}
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			var b strings.Builder
			if p != nil {
				fmt.Fprintf(&b, "phase %s, conditions %+v, containers %+v\n", p.Status.Phase, p.Status.Conditions, p.Status.ContainerStatuses)
			}
			if ev, err := cs.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{}); err == nil {
				for _, e := range ev.Items {
					fmt.Fprintf(&b, "event %s %s: %s\n", e.Type, e.Reason, e.Message)
				}
			}
			t.Fatalf("pod %s/%s not Ready after 60s (see bin/cluster/logs/kubelet.log):\n%s", ns, name, b.String())
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// httpGet returns the body of a 200 response, retrying briefly while the pod's
// network settles.
func httpGet(ctx context.Context, t testing.TB, url string) string {
	t.Helper()
	var lastErr error
	for i := 0; i < 20; i++ {
		body, err := tryGet(ctx, url)
		if err == nil {
			return body
		}
		lastErr = err
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("GET %s: %v", url, lastErr)
	return ""
}

var shortClient = &http.Client{Timeout: 2 * time.Second}

// tryGet returns the body of a 200 response, or an error.
func tryGet(ctx context.Context, url string) (string, error) {
	return getWith(ctx, shortClient, url)
}

// getWith GETs url with client; see do.
func getWith(ctx context.Context, client *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	return do(client, req)
}

// do returns the body of a 200 response, or an error "<status>: <body>".
func do(client *http.Client, req *http.Request) (string, error) {
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return string(body), nil
}

func ptr[T any](v T) *T { return &v }
