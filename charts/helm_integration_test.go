//go:build integration

package charts_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hotreload/hotreload/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// kubeconfig writes a kubeconfig for cfg, the control plane's admin, for helm.
func kubeconfig(t *testing.T, cfg *rest.Config) string {
	t.Helper()
	server := cfg.Host
	if !strings.Contains(server, "://") {
		server = "https://" + server
	}
	c := clientcmdapi.NewConfig()
	c.Clusters["envtest"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: cfg.CAData}
	c.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	c.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "admin", Namespace: "default"}
	c.CurrentContext = "envtest"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, clientcmd.WriteToFile(*c, path))
	return path
}

// TestIntegrationHelmInstallUpgradeUninstall installs the chart into a real
// API server with helm, as an admin does: every object it renders is
// accepted (the CRD, the admission policies' CEL, the webhook configuration).
// helm upgrade with another value changes that value and keeps the
// certificates Helm generated at install, and the CA bundle with them (the
// chart reads the installed Secret back). helm uninstall deletes every object
// of the chart, and the namespace hotreload-system is being deleted (a real
// cluster's namespace controller completes it; this control plane runs none).
func TestIntegrationHelmInstallUpgradeUninstall(t *testing.T) {
	env := testenv.Get(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	config := kubeconfig(t, env.Config)
	helm := func(args ...string) string {
		t.Helper()
		args = append(args, "--kubeconfig", config, "--namespace", "default")
		out, ok := run(t, helmBin(t), args...)
		require.True(t, ok, "helm %s:\n%s", strings.Join(args, " "), out)
		return out
	}
	rendered := helmTemplate(t, chartDir)

	helm("install", "hotreload", chartDir)
	for _, o := range rendered {
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(o.GroupVersionKind())
		require.NoError(t, env.Client.Get(ctx, client.ObjectKeyFromObject(o), got), "%s installed", key(o))
		require.Equal(t, "Helm", got.GetLabels()["app.kubernetes.io/managed-by"], key(o))
	}
	certs := installedCertificates(ctx, t, env)

	helm("upgrade", "hotreload", chartDir, "--set", "replicas=3")
	dep, err := env.Clientset.AppsV1().Deployments("hotreload-system").Get(ctx, "hotreload-webhook", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, int32(3), *dep.Spec.Replicas, "the upgrade's value")
	require.Equal(t, certs, installedCertificates(ctx, t, env), "the certificates of the install, kept")

	helm("uninstall", "hotreload")
	for _, o := range rendered {
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(o.GroupVersionKind())
		if o.GetKind() == "Namespace" {
			require.NoError(t, env.Client.Get(ctx, client.ObjectKeyFromObject(o), got))
			require.NotNil(t, got.GetDeletionTimestamp(), "hotreload-system is being deleted")
			continue
		}
		// The CRD goes once the API server has deleted its ConfigReleases.
		require.Eventually(t, func() bool {
			return apierrors.IsNotFound(env.Client.Get(ctx, client.ObjectKeyFromObject(o), got))
		}, 30*time.Second, 100*time.Millisecond, "%s deleted", key(o))
	}
	require.Equal(t, "[]\n", helm("list", "--deployed", "--failed", "--pending", "--uninstalling", "-o", "json"), "no release left")
}

// installedCertificates are the webhook's TLS Secret's data and the CA bundle
// of its MutatingWebhookConfiguration, which must be the Secret's CA.
func installedCertificates(ctx context.Context, t *testing.T, env *testenv.Env) map[string]string {
	t.Helper()
	s, err := env.Clientset.CoreV1().Secrets("hotreload-system").Get(ctx, "hotreload-webhook-tls", metav1.GetOptions{})
	require.NoError(t, err)
	m, err := env.Clientset.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, "hotreload", metav1.GetOptions{})
	require.NoError(t, err)
	require.Len(t, m.Webhooks, 1)
	require.Equal(t, string(s.Data["ca.crt"]), string(m.Webhooks[0].ClientConfig.CABundle), "the CA bundle is the Secret's CA")
	require.NotEmpty(t, s.Data["tls.crt"])
	return map[string]string{"ca.crt": string(s.Data["ca.crt"]), "tls.crt": string(s.Data["tls.crt"]), "tls.key": string(s.Data["tls.key"])}
}
