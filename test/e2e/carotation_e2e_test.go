//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// A rotation of the webhook's CA (new files from certs/, as `make certs
// FORCE=1` writes them, applied to its Secret) keeps running sidecars
// working: the controller puts the new CA beside the old one in each enabled
// namespace's bundle, the kubelet updates the sidecars' projected copy, and a
// sidecar that must trade its token again (its old one refused: its
// ServiceAccount was replaced) trusts the webhook's new certificate, with no
// restart, and goes on reporting what it applies.
func TestACARotationKeepsRunningSidecarsWorking(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cs := clusterClient(t)
	installHotreload(ctx, t, cs)
	d := demo{name: "rotation", replicas: 2, inject: true}
	d.ns = enabledNamespace(ctx, t, cs, "hotreload-rotation-")
	pods := d.create(ctx, t, cs, uniqueConfig("version 1"))

	certs := filepath.Join(repoRoot(), "deploy", "selfsigned", "certs")
	oldCA, err := os.ReadFile(filepath.Join(certs, "ca.crt"))
	require.NoError(t, err)
	waitBundle(ctx, t, cs, d.ns, oldCA, "the namespace's bundle is the webhook's CA")

	fresh := t.TempDir()
	cmd := exec.CommandContext(ctx, "go", "run", "./certs", "--out", fresh)
	cmd.Dir = repoRoot()
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go run ./certs:\n%s", out)
	newCA, err := os.ReadFile(filepath.Join(fresh, "ca.crt"))
	require.NoError(t, err)

	// Admission trusts both CAs while the webhook's pods move to the new
	// certificate; everything goes back as it was at the end, for the tests
	// after this one.
	setCABundle(ctx, t, cs, append(append([]byte{}, oldCA...), newCA...))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		setServingCert(ctx, t, cs, certs)
		waitServedBy(ctx, t, cs, oldCA, "the webhook serves its first certificate again")
		setCABundle(ctx, t, cs, oldCA)
	})
	setServingCert(ctx, t, cs, fresh)
	both := append(append([]byte{}, newCA...), oldCA...)
	waitBundle(ctx, t, cs, d.ns, both, "the new CA first, the old one beside it")
	waitServedBy(ctx, t, cs, newCA, "the webhook serves the new certificate")
	for name := range pods {
		pod, err := cs.CoreV1().Pods(d.ns).Get(ctx, name, metav1.GetOptions{})
		require.NoError(t, err)
		file := filepath.Join(repoRoot(), "bin", "cluster", "kubelet", "pods", string(pod.UID), "volumes", "kubernetes.io~projected", "hotreload-token", "exchange-ca.crt")
		require.Eventually(t, func() bool {
			b, err := os.ReadFile(file)
			return err == nil && bytes.Equal(b, both)
		}, 3*time.Minute, time.Second, "the kubelet gives pod %s's sidecar the new bundle", name)
	}

	// The sidecars' reloader tokens stop working: the account they belong
	// to is replaced (the controller makes it again). Each sidecar trades its
	// pod token again, over the new certificate.
	require.NoError(t, cs.CoreV1().ServiceAccounts(d.ns).Delete(ctx, "hotreload-reloader", metav1.DeleteOptions{}))
	ns, err := cs.CoreV1().Namespaces().Get(ctx, d.ns, metav1.GetOptions{})
	require.NoError(t, err)
	if ns.Annotations == nil {
		ns.Annotations = map[string]string{}
	}
	ns.Annotations["e2e/touched"] = time.Now().String() // the controller looks at the namespace again
	_, err = cs.CoreV1().Namespaces().Update(ctx, ns, metav1.UpdateOptions{})
	require.NoError(t, err)

	before := statuses(ctx, t, pods)
	v2 := uniqueConfig("version 2")
	edited := d.edit(ctx, t, cs, v2)
	waitServing(ctx, t, pods, v2, edited, 3*time.Minute)
	// A sidecar's first report with its old token is refused (401); the
	// refused token is dropped, and the retry (a backoff doubling from 1 s,
	// pkg/reload) trades the pod token again past the exchange's cache of
	// tokens it issued. A sidecar that got the refused token back from that
	// cache never reported again until its pod token rotated: an hour.
	waitAppliedWithin(ctx, t, cs, d.ns, pods, releasedRevision(ctx, t, cs, d.ns, pods), 3*time.Minute)
	requireSamePIDs(ctx, t, cs, d, pods, before)
}

// waitBundle waits until the exchange's CA bundle of namespace ns is want.
func waitBundle(ctx context.Context, t testing.TB, cs kubernetes.Interface, ns string, want []byte, msg string) {
	t.Helper()
	var got string
	require.Eventually(t, func() bool {
		cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "hotreload-exchange-ca", metav1.GetOptions{})
		if err == nil {
			got = cm.Data["ca.crt"]
		}
		return got == string(want)
	}, 3*time.Minute, time.Second, "%s; the bundle is:\n%s", msg, got)
}

// setServingCert puts the certificate files of dir in the webhook's Secret.
func setServingCert(ctx context.Context, t testing.TB, cs kubernetes.Interface, dir string) {
	t.Helper()
	s, err := cs.CoreV1().Secrets(hotreloadNamespace).Get(ctx, "hotreload-webhook-tls", metav1.GetOptions{})
	require.NoError(t, err)
	for _, f := range []string{"tls.crt", "tls.key", "ca.crt"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		require.NoError(t, err)
		s.Data[f] = b
	}
	_, err = cs.CoreV1().Secrets(hotreloadNamespace).Update(ctx, s, metav1.UpdateOptions{})
	require.NoError(t, err)
}

// setCABundle sets the CA bundle the API server trusts for admission.
func setCABundle(ctx context.Context, t testing.TB, cs kubernetes.Interface, bundle []byte) {
	t.Helper()
	m, err := cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, "hotreload", metav1.GetOptions{})
	require.NoError(t, err)
	for i := range m.Webhooks {
		m.Webhooks[i].ClientConfig.CABundle = bundle
	}
	_, err = cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Update(ctx, m, metav1.UpdateOptions{})
	require.NoError(t, err)
}

// waitServedBy waits until every webhook pod serves, on the exchange port, a
// certificate that ca signed.
func waitServedBy(ctx context.Context, t testing.TB, cs kubernetes.Interface, ca []byte, msg string) {
	t.Helper()
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(ca))
	require.Eventually(t, func() bool {
		list, err := cs.CoreV1().Pods(hotreloadNamespace).List(ctx, metav1.ListOptions{LabelSelector: webhookSelector})
		if err != nil || len(list.Items) == 0 {
			return false
		}
		for _, p := range list.Items {
			if p.Status.PodIP == "" || p.Status.Phase != corev1.PodRunning {
				return false
			}
			conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", net.JoinHostPort(p.Status.PodIP, "9444"),
				&tls.Config{RootCAs: pool, ServerName: "hotreload-webhook.hotreload-system.svc", MinVersion: tls.VersionTLS12})
			if err != nil {
				return false
			}
			conn.Close()
		}
		return true
	}, 4*time.Minute, time.Second, msg)
}
