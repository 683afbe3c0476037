package charts_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/pmezard/go-difflib/difflib"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// helmLabels are the labels Helm's conventions add to every object, which an
// install by kustomize has not: the only labels allowed to differ.
var helmLabels = map[string]string{
	"helm.sh/chart":                "hotreload-0.0.0-dev",
	"app.kubernetes.io/managed-by": "Helm",
	"app.kubernetes.io/instance":   "hotreload",
	"app.kubernetes.io/version":    "dev",
}

// servingNames are the DNS names the webhook's serving certificate is for.
var servingNames = []string{"hotreload-webhook.hotreload-system.svc", "hotreload-webhook.hotreload-system.svc.cluster.local"}

// TestChartInstallsWhatTheOverlaysInstall renders the chart and builds the
// kustomize overlay of the same certificate choice, and requires the same
// objects, each equal whole, once Helm's own labels are removed and the
// certificates, generated anew by each, are checked and set aside. A file of
// deploy/ that changes without the chart fails it.
func TestChartInstallsWhatTheOverlaysInstall(t *testing.T) {
	deploy := t.TempDir()
	require.NoError(t, os.CopyFS(deploy, os.DirFS("../deploy")))
	certs := exec.Command("go", "run", "./certs", "--force", "--out", filepath.Join(deploy, "selfsigned", "certs"))
	certs.Dir = ".."
	out, err := certs.CombinedOutput()
	require.NoError(t, err, "go run ./certs: %s", out)

	for _, tc := range []struct {
		name    string
		overlay string
		values  []string
		// selfSigned: the install holds the Secret and the CA bundle
		// generated for it; else cert-manager makes them.
		selfSigned bool
	}{
		{
			name:       "default values: deploy/selfsigned with the files of certs/",
			overlay:    "selfsigned",
			selfSigned: true,
		},
		{
			name:    "certManager.enabled: deploy/default",
			overlay: "default",
			values:  []string{"--set", "certManager.enabled=true"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			chart := byKey(t, helmTemplate(t, chartDir, tc.values...))
			overlay := byKey(t, kustomize(t, filepath.Join(deploy, tc.overlay)))
			for k, o := range chart {
				labels := o.GetLabels()
				for name, value := range helmLabels {
					require.Equal(t, value, labels[name], "%s: label %s", k, name)
					delete(labels, name)
				}
				o.SetLabels(labels)
			}
			if tc.selfSigned {
				setCertificatesAside(t, chart, true)
				setCertificatesAside(t, overlay, false)
			}
			require.Equal(t, keys(overlay), keys(chart), "the same objects")
			for _, k := range keys(overlay) {
				if d := diff(t, canonicalCEL(overlay[k].Object), canonicalCEL(chart[k].Object)); d != "" {
					t.Errorf("%s: the chart's is not deploy/%s's:\n%s", k, tc.overlay, d)
				}
			}
		})
	}
}

// setCertificatesAside checks the webhook's TLS Secret and the CA bundle of
// its MutatingWebhookConfiguration in objs: the bundle is the Secret's CA,
// which signed its serving certificate for the Service's names, and the key
// is the certificate's. verify: also check the serving certificate against
// the CA (the chart's; certs/ has tests of its own). It then replaces the
// bytes, which each generation makes anew, with a placeholder.
func setCertificatesAside(t *testing.T, objs map[string]*unstructured.Unstructured, verify bool) {
	t.Helper()
	secret := objs["Secret hotreload-system/hotreload-webhook-tls"]
	require.NotNil(t, secret, "the webhook's TLS Secret")
	data, _, err := unstructured.NestedStringMap(secret.Object, "data")
	require.NoError(t, err)
	decoded := map[string][]byte{}
	for _, name := range []string{"ca.crt", "tls.crt", "tls.key"} {
		decoded[name], err = base64.StdEncoding.DecodeString(data[name])
		require.NoError(t, err, name)
	}
	pair, err := tls.X509KeyPair(decoded["tls.crt"], decoded["tls.key"])
	require.NoError(t, err, "tls.key is the key of tls.crt")
	if verify {
		block, _ := pem.Decode(decoded["ca.crt"])
		require.NotNil(t, block, "ca.crt is PEM")
		ca, err := x509.ParseCertificate(block.Bytes)
		require.NoError(t, err)
		roots := x509.NewCertPool()
		roots.AddCert(ca)
		for _, name := range servingNames {
			_, err := pair.Leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots})
			require.NoError(t, err, "the serving certificate, for %s", name)
		}
	}
	require.NoError(t, unstructured.SetNestedStringMap(secret.Object,
		map[string]string{"ca.crt": "CA", "tls.crt": "CERT", "tls.key": "KEY"}, "data"))

	mwc := objs["MutatingWebhookConfiguration /hotreload"]
	require.NotNil(t, mwc, "the MutatingWebhookConfiguration")
	webhooks, _, err := unstructured.NestedSlice(mwc.Object, "webhooks")
	require.NoError(t, err)
	require.Len(t, webhooks, 1)
	w := webhooks[0].(map[string]any)
	bundle, _, err := unstructured.NestedString(w, "clientConfig", "caBundle")
	require.NoError(t, err)
	require.Equal(t, data["ca.crt"], bundle, "the CA bundle is the Secret's ca.crt")
	require.NoError(t, unstructured.SetNestedField(w, "CA", "clientConfig", "caBundle"))
	require.NoError(t, unstructured.SetNestedSlice(mwc.Object, webhooks, "webhooks"))
}

// diff is a unified diff of two objects as YAML, empty when they are equal.
func diff(t *testing.T, overlay, chart map[string]any) string {
	t.Helper()
	a, err := yaml.Marshal(overlay)
	require.NoError(t, err)
	b, err := yaml.Marshal(chart)
	require.NoError(t, err)
	d, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(string(a)), B: difflib.SplitLines(string(b)),
		FromFile: "deploy", ToFile: "chart", Context: 3,
	})
	require.NoError(t, err)
	return d
}

var spaces = regexp.MustCompile(`\s+`)

// canonicalCEL returns obj with each CEL expression's runs of whitespace made
// one space. kustomize's YAML round trip adds a blank line inside some folded
// scalars of the policies (a line ending before a more-indented one), which
// the chart's copy of the same file, like the file itself, has not; CEL reads
// both alike. Every other value is compared as it is.
func canonicalCEL(obj map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range obj {
		if s, ok := v.(string); ok && k == "expression" {
			v = spaces.ReplaceAllString(s, " ")
		}
		out[k] = canonicalValue(v)
	}
	return out
}

func canonicalValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return canonicalCEL(v)
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = canonicalValue(x)
		}
		return out
	}
	return v
}
