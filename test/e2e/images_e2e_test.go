//go:build e2e

package e2e

import (
	"context"
	"maps"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// TestHotreloadImagesComeFromTheRegistry: the install runs the webhook image
// and injects the reloader image that make cluster pushed to the cluster's
// registry, both pinned by digest; the node pulled both from there (the
// containers run those digests) and has neither imported under the base's
// names.
func TestHotreloadImagesComeFromTheRegistry(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cs := clusterClient(t)
	installHotreload(ctx, t, cs)
	imgs := installedImages(ctx, t, cs)
	webhook, reloader := parseRef(t, imgs.webhook), parseRef(t, imgs.reloader)
	require.Equal(t, []string{"hotreload/webhook", "hotreload/reloader"}, []string{webhook.repo, reloader.repo})
	require.Equal(t, webhook.host, reloader.host, "both images come from one registry")
	for _, r := range []ref{webhook, reloader} {
		require.Equal(t, r.digest, tagDigest(ctx, t, r), "%s: the install pins what the registry's tag names", r)
	}

	list, err := cs.CoreV1().Pods(hotreloadNamespace).List(ctx, metav1.ListOptions{LabelSelector: webhookSelector})
	require.NoError(t, err)
	require.NotEmpty(t, list.Items)
	for _, p := range list.Items {
		require.Equal(t, map[string]string{"webhook": webhook.byDigest()}, imageIDs(p.Status.ContainerStatuses), "webhook pod %s", p.Name)
	}

	d := demo{name: "pulled", inject: true}
	d.ns = enabledNamespace(ctx, t, cs, "hotreload-pulled-")
	pods := d.create(ctx, t, cs, uniqueConfig("version 1"))
	for name := range pods {
		p, err := cs.CoreV1().Pods(d.ns).Get(ctx, name, metav1.GetOptions{})
		require.NoError(t, err)
		require.Equal(t, pulled(reloader), reloaderImageIDs(p), "pod %s runs the reloader image pulled", name)
	}

	out, err := exec.CommandContext(ctx, "ctr", "--address", containerdSocket(), "-n", "k8s.io", "images", "ls", "-q").CombinedOutput()
	require.NoError(t, err, "ctr images ls:\n%s", out)
	for _, name := range strings.Fields(string(out)) {
		require.NotContains(t, []string{"docker.io/hotreload/webhook:dev", "docker.io/hotreload/reloader:dev"}, name, "imported, not pulled")
	}
}

// images are the webhook's and the reloader's images of an install.
type images struct{ webhook, reloader string }

// installedImages reads the installed webhook Deployment: the image it runs,
// and the reloader image it injects (HOTRELOAD_RELOADER_IMAGE, which its
// --reloader-image names).
func installedImages(ctx context.Context, t testing.TB, cs kubernetes.Interface) images {
	t.Helper()
	dep, err := cs.AppsV1().Deployments(hotreloadNamespace).Get(ctx, "hotreload-webhook", metav1.GetOptions{})
	require.NoError(t, err)
	c := dep.Spec.Template.Spec.Containers[0]
	require.Contains(t, c.Args, "--reloader-image=$(HOTRELOAD_RELOADER_IMAGE)")
	for _, e := range c.Env {
		if e.Name == "HOTRELOAD_RELOADER_IMAGE" {
			return images{webhook: c.Image, reloader: e.Value}
		}
	}
	t.Fatalf("the webhook Deployment has no HOTRELOAD_RELOADER_IMAGE: %+v", c.Env)
	return images{}
}

// ref is an image reference HOST/REPO:TAG@DIGEST, as make manifests pins them.
type ref struct{ host, repo, tag, digest string }

func (r ref) String() string { return r.host + "/" + r.repo + ":" + r.tag + "@" + r.digest }

// byDigest is how the kubelet reports a container's image pulled as r.
func (r ref) byDigest() string { return r.host + "/" + r.repo + "@" + r.digest }

// parseRef splits HOST/REPO:TAG@DIGEST, failing on any other form.
func parseRef(t testing.TB, s string) ref {
	t.Helper()
	name, digest, ok := strings.Cut(s, "@")
	require.True(t, ok, "%s is not pinned by digest", s)
	host, path, ok := strings.Cut(name, "/")
	require.True(t, ok, "%s names no registry", s)
	repo, tag, ok := strings.Cut(path, ":")
	require.True(t, ok, "%s has no tag", s)
	return ref{host: host, repo: repo, tag: tag, digest: digest}
}

// tagDigest asks r's registry (plain HTTP) which digest r's tag names.
func tagDigest(ctx context.Context, t testing.TB, r ref) string {
	t.Helper()
	return manifestDigest(ctx, t, r, r.tag)
}

// manifestDigest asks r's registry for the manifest of r's repository named
// by tag or digest, and returns its digest; it fails when the registry has
// none.
func manifestDigest(ctx context.Context, t testing.TB, r ref, tagOrDigest string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, "http://"+r.host+"/v2/"+r.repo+"/manifests/"+tagOrDigest, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json")
	resp, err := shortClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "the registry has no %s:%s", r.host+"/"+r.repo, tagOrDigest)
	return resp.Header.Get("Docker-Content-Digest")
}

// imageIDs is, per container, the image the kubelet says it runs.
func imageIDs(statuses []corev1.ContainerStatus) map[string]string {
	out := map[string]string{}
	for _, s := range statuses {
		out[s.Name] = s.ImageID
	}
	return out
}

// reloaderImageIDs is the image the kubelet says each of p's containers
// that run the reloader's image (the install step and the sidecar) runs.
func reloaderImageIDs(p *corev1.Pod) map[string]string {
	out := imageIDs(p.Status.InitContainerStatuses)
	maps.DeleteFunc(out, func(name, _ string) bool { return name != "hotreload-install" && name != "hotreload-reloader" })
	return out
}

// pulled is what reloaderImageIDs is when both ran image r, pulled.
func pulled(r ref) map[string]string {
	return map[string]string{"hotreload-install": r.byDigest(), "hotreload-reloader": r.byDigest()}
}

// containerdSocket is the local cluster's containerd.
func containerdSocket() string {
	return filepath.Join(repoRoot(), "bin", "cluster", "containerd", "containerd.sock")
}
