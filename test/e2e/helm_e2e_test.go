//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
)

// helmRelease is the release the test installs, and the namespace of Helm's
// record of it: any but hotreload-system, which the chart owns.
const helmRelease, helmReleaseNamespace = "hotreload", "default"

// TestHelmInstallUpgradeUninstall installs hotreload as a Helm user does:
// the chart of version N pushed to the cluster's registry as an OCI artifact
// (make chart), helm install from there with N's images pinned by digest, the
// tag from the chart's appVersion. An injected demo reloads an edit. Then
// helm upgrade to the chart of N+1 (make push of another version: other
// binaries, other digests), an edit made while the webhook rolls over
// reaching the same processes, the certificates Helm generated kept. Then helm
// uninstall: no object of the chart is left, namespaced or cluster-wide, nor
// anything the controller made in the enabled namespace, and the pods serve
// their last config. The install of the other tests (kubectl apply -f of
// HOTRELOAD_INSTALL) is removed first and put back at the end.
func TestHelmInstallUpgradeUninstall(t *testing.T) {
	h := newHelm(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cs := clusterClient(t)
	if h.installed(ctx, t) { // left by a run that was stopped
		h.uninstall(ctx, t)
		waitNamespaceGone(ctx, t, cs, hotreloadNamespace)
	}
	installHotreload(ctx, t, cs)
	n := installedImages(ctx, t, cs)
	versionN := injectedVersion(ctx, t, cs, enabledNamespace(ctx, t, cs, "hotreload-helm-probe-"))
	n1 := installedImagesOf(t, pushRelease(ctx, t, n, "dev-next", versionN+"-next"))
	registry := parseRef(t, n.webhook).host
	chartN := pushChart(ctx, t, registry, "0.0.0-e2e.1", parseRef(t, n.webhook).tag)
	chartN1 := pushChart(ctx, t, registry, "0.0.0-e2e.2", parseRef(t, n1.webhook).tag)

	kubectl(ctx, t, "delete", "-f", installFile(t), "--wait=true")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if h.installed(ctx, t) {
			h.uninstall(ctx, t)
		}
		waitNamespaceGone(ctx, t, cs, hotreloadNamespace)
		installHotreload(ctx, t, cs)
	})

	h.run(ctx, t, append([]string{"install", helmRelease, chartN.ref, "--version", chartN.version}, chartArgs(t, n)...)...)
	waitInjecting(ctx, t, cs)
	require.Equal(t, n, installedImages(ctx, t, cs), "N's images, their tag the chart's appVersion")
	require.Equal(t, []helmListed{{Name: helmRelease, Revision: "1", Status: "deployed", Chart: "hotreload-0.0.0-e2e.1", AppVersion: "dev"}}, h.list(ctx, t))

	d := demo{name: "helm", replicas: 2, subPath: true, inject: true}
	pods := d.start(ctx, t, cs, uniqueConfig("version 1"))
	before := statuses(ctx, t, pods)
	t.Run("an injected pod reloads an edit under the chart's install", func(t *testing.T) {
		v2 := uniqueConfig("version 2")
		waitServing(ctx, t, pods, v2, d.edit(ctx, t, cs, v2), 30*time.Second)
		waitApplied(ctx, t, cs, d.ns, pods, releasedRevision(ctx, t, cs, d.ns, pods))
		requireSameProcesses(ctx, t, cs, d, pods, before)
	})

	certs := webhookCertificates(ctx, t, cs)
	t.Run("helm upgrade to N+1 while the pods reload an edit, same processes, same certificates", func(t *testing.T) {
		generation := webhookDeployment(ctx, t, cs).Generation
		args := append([]string{"upgrade", helmRelease, chartN1.ref, "--version", chartN1.version}, chartArgs(t, n1)...)
		upgraded := make(chan error, 1)
		var out []byte
		go func() {
			var err error
			out, err = h.output(ctx, args...)
			upgraded <- err
		}()
		waitRollingOver(ctx, t, cs, generation)
		v3 := uniqueConfig("version 3")
		waitServing(ctx, t, pods, v3, d.edit(ctx, t, cs, v3), time.Minute)
		require.NoError(t, <-upgraded, "helm %s:\n%s", strings.Join(args, " "), out)
		waitInjecting(ctx, t, cs)

		require.Equal(t, n1, installedImages(ctx, t, cs), "N+1's images")
		require.Equal(t, versionN+"-next", injectedVersion(ctx, t, cs, d.ns), "N+1 injects pods")
		require.Equal(t, []helmListed{{Name: helmRelease, Revision: "2", Status: "deployed", Chart: "hotreload-0.0.0-e2e.2", AppVersion: "dev-next"}}, h.list(ctx, t))
		require.Equal(t, certs, webhookCertificates(ctx, t, cs), "the certificates Helm generated at install, kept")

		v4 := uniqueConfig("version 4")
		waitServing(ctx, t, pods, v4, d.edit(ctx, t, cs, v4), 30*time.Second)
		waitApplied(ctx, t, cs, d.ns, pods, releasedRevision(ctx, t, cs, d.ns, pods))
		requireSameProcesses(ctx, t, cs, d, pods, before)
	})

	waitObjects(ctx, t, cs, d.ns, "what the controller made for the pods", func(o namespaceObjects) bool {
		return len(o.configReleases) == 1 && len(o.roleBindings) == 2
	})
	last := uniqueConfigOf(t, ctx, cs, d.ns, d.name)
	h.uninstall(ctx, t)
	t.Run("helm uninstall leaves nothing of hotreload behind, and the pods serve their last config", func(t *testing.T) {
		waitNamespaceGone(ctx, t, cs, hotreloadNamespace)
		for _, label := range []string{"app.kubernetes.io/part-of=hotreload", "app.kubernetes.io/instance=" + helmRelease} {
			require.Empty(t, kubectl(ctx, t, "get", "namespaces,customresourcedefinitions,clusterroles,clusterrolebindings,"+
				"mutatingwebhookconfigurations,validatingadmissionpolicies,validatingadmissionpolicybindings,"+
				"deployments,services,serviceaccounts,secrets,configmaps,roles,rolebindings,networkpolicies,poddisruptionbudgets",
				"-A", "-l", label, "-o", "name"), "no object labelled %s", label)
		}
		require.Empty(t, h.list(ctx, t), "no release")
		require.Empty(t, kubectl(ctx, t, "get", "secrets", "-n", helmReleaseNamespace, "-l", "owner=helm,name="+helmRelease, "-o", "name"),
			"no record of the release")
		waitObjects(ctx, t, cs, d.ns, "the release, its copies and the controller's objects gone", func(o namespaceObjects) bool {
			return o.equal(namespaceObjects{serviceAccounts: []string{"default"}, configMaps: []string{"helm", "kube-root-ca.crt"}})
		})
		require.Empty(t, kubectl(ctx, t, "get", "serviceaccounts,roles,rolebindings,configmaps,secrets", "-A",
			"-l", "app.kubernetes.io/managed-by=hotreload", "-o", "name"), "nothing hotreload made is left in any namespace")
		requireServing(ctx, t, pods, last, "its last config")
		requireSamePIDs(ctx, t, cs, d, pods, before)
	})
}

// helm runs the helm binary of make e2e against the local cluster, with
// configuration and caches of its own.
type helm struct {
	bin string
	env []string
}

// newHelm finds $HOTRELOAD_HELM (make e2e sets it to bin/tools/helm, which
// make helm builds), and skips the test without it.
func newHelm(t *testing.T) helm {
	t.Helper()
	bin := os.Getenv("HOTRELOAD_HELM")
	if bin == "" {
		t.Skip("HOTRELOAD_HELM is not set: make e2e sets it to bin/tools/helm (make helm builds it)")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("no helm binary at HOTRELOAD_HELM=%s (%v): make helm builds it", bin, err)
	}
	home := t.TempDir()
	return helm{bin: bin, env: append(os.Environ(),
		"KUBECONFIG="+kubeconfigPath(),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"),
	)}
}

// output runs helm with args and returns what it printed.
func (h helm) output(ctx context.Context, args ...string) ([]byte, error) {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, h.bin, args...)
	cmd.Env = h.env
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.Bytes(), err
}

// run runs helm with args, failing the test with its output when it fails.
func (h helm) run(ctx context.Context, t testing.TB, args ...string) []byte {
	t.Helper()
	out, err := h.output(ctx, args...)
	require.NoError(t, err, "helm %s:\n%s", strings.Join(args, " "), out)
	return out
}

// helmListed is a release as helm list -o json shows it.
type helmListed struct {
	Name       string `json:"name"`
	Revision   string `json:"revision"`
	Status     string `json:"status"`
	Chart      string `json:"chart"`
	AppVersion string `json:"app_version"`
}

// list is helm list of the release namespace, of releases in any state
// but gone (a pending or failed one too).
func (h helm) list(ctx context.Context, t testing.TB) []helmListed {
	t.Helper()
	var listed []helmListed
	out := h.run(ctx, t, "list", "--deployed", "--failed", "--pending", "--uninstalling", "--namespace", helmReleaseNamespace, "-o", "json")
	require.NoError(t, json.Unmarshal(out, &listed))
	return listed
}

// uninstall uninstalls the release and waits until its objects are deleted.
func (h helm) uninstall(ctx context.Context, t testing.TB) {
	t.Helper()
	h.run(ctx, t, "uninstall", helmRelease, "--namespace", helmReleaseNamespace, "--wait", "--cascade", "foreground", "--timeout", "3m")
}

// installed says whether the release is installed.
func (h helm) installed(ctx context.Context, t testing.TB) bool {
	t.Helper()
	for _, r := range h.list(ctx, t) {
		if r.Name == helmRelease {
			return true
		}
	}
	return false
}

// pushedChart is a chart version in the cluster's registry.
type pushedChart struct{ ref, version string }

// pushChart packages the chart as version, its images tagged imageTag, and
// pushes it to the registry as an OCI artifact, as make chart does for a
// release.
func pushChart(ctx context.Context, t testing.TB, registry, version, imageTag string) pushedChart {
	t.Helper()
	runMake(ctx, t, "chart", "CHART_VERSION="+version, "IMAGE_TAG="+imageTag, "CHART_REPO=oci://"+registry+"/charts", "INSECURE=1")
	return pushedChart{ref: "oci://" + registry + "/charts/hotreload", version: version}
}

// chartArgs are helm install's and upgrade's arguments but the chart: the
// release's namespace, the registry's plain HTTP, the images' repositories
// and digests (their tag is the chart's appVersion), and waiting until every
// object is ready.
func chartArgs(t testing.TB, i images) []string {
	t.Helper()
	w, r := parseRef(t, i.webhook), parseRef(t, i.reloader)
	return []string{
		"--namespace", helmReleaseNamespace, "--plain-http", "--wait", "--timeout", "3m",
		"--set", "image.webhook.repository=" + w.host + "/" + w.repo + ",image.webhook.digest=" + w.digest,
		"--set", "image.reloader.repository=" + r.host + "/" + r.repo + ",image.reloader.digest=" + r.digest,
	}
}

// installedImagesOf reads the images an install file names, as
// installedImages reads them from the cluster.
func installedImagesOf(t testing.TB, file string) images {
	t.Helper()
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	d := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var obj unstructured.Unstructured
		err := d.Decode(&obj.Object)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, "decoding %s", file)
		if obj.GetKind() != "Deployment" || obj.GetName() != "hotreload-webhook" {
			continue
		}
		var dep appsv1.Deployment
		require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &dep))
		c := dep.Spec.Template.Spec.Containers[0]
		for _, e := range c.Env {
			if e.Name == "HOTRELOAD_RELOADER_IMAGE" {
				return images{webhook: c.Image, reloader: e.Value}
			}
		}
	}
	t.Fatalf("%s has no webhook Deployment naming the reloader image", file)
	return images{}
}

// waitNamespaceGone waits until the namespace is deleted.
func waitNamespaceGone(ctx context.Context, t testing.TB, cs kubernetes.Interface, name string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		_, err := cs.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return
		}
		require.True(t, time.Now().Before(deadline), "namespace %s not gone after 2m (error: %v)", name, err)
		time.Sleep(250 * time.Millisecond)
	}
}

// webhookDeployment is the installed webhook Deployment.
func webhookDeployment(ctx context.Context, t testing.TB, cs kubernetes.Interface) *appsv1.Deployment {
	t.Helper()
	dep, err := cs.AppsV1().Deployments(hotreloadNamespace).Get(ctx, "hotreload-webhook", metav1.GetOptions{})
	require.NoError(t, err)
	return dep
}

// waitRollingOver waits until the webhook Deployment's spec changed from
// generation: an upgrade has started rolling it over.
func waitRollingOver(ctx context.Context, t testing.TB, cs kubernetes.Interface, generation int64) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for webhookDeployment(ctx, t, cs).Generation == generation {
		require.True(t, time.Now().Before(deadline), "the webhook Deployment did not change within 2m of helm upgrade")
		time.Sleep(100 * time.Millisecond)
	}
}

// webhookCertificates are the webhook's serving certificate, its CA, and the
// CA bundle the API server trusts it with.
func webhookCertificates(ctx context.Context, t testing.TB, cs kubernetes.Interface) map[string]string {
	t.Helper()
	s, err := cs.CoreV1().Secrets(hotreloadNamespace).Get(ctx, "hotreload-webhook-tls", metav1.GetOptions{})
	require.NoError(t, err)
	m, err := cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, "hotreload", metav1.GetOptions{})
	require.NoError(t, err)
	require.Len(t, m.Webhooks, 1)
	require.Equal(t, string(s.Data["ca.crt"]), string(m.Webhooks[0].ClientConfig.CABundle), "the CA bundle is the Secret's CA")
	return map[string]string{"ca.crt": string(s.Data["ca.crt"]), "tls.crt": string(s.Data["tls.crt"]), "tls.key": string(s.Data["tls.key"])}
}
