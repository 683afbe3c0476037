//go:build integration

package deploy_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/hotreload/hotreload/internal/testenv"
)

// webhookArgs are the webhook container's arguments in every overlay: the
// kubelet expands $(HOTRELOAD_RELOADER_IMAGE) from the container's env.
var webhookArgs = []string{
	"serve",
	"--port=9443",
	"--exchange-port=9444",
	"--cert-dir=/etc/hotreload/tls",
	"--metrics-bind-address=:8443",
	"--health-probe-bind-address=:8081",
	"--leader-elect=true",
	"--reloader-image=$(HOTRELOAD_RELOADER_IMAGE)",
	"--install-namespace=$(POD_NAMESPACE)",
}

// imagesOf is what an overlay's images: decides in the webhook container: its
// image, its arguments and its environment.
type imagesOf struct {
	Image string
	Args  []string
	Env   []corev1.EnvVar
}

// webhookContainer builds the kustomization dir and returns the images of the
// webhook Deployment's container.
func webhookContainer(t *testing.T, env *testenv.Env, dir string) imagesOf {
	t.Helper()
	for _, o := range env.Kustomize(t, dir) {
		if o.GetKind() != "Deployment" || o.GetName() != "hotreload-webhook" {
			continue
		}
		d := &appsv1.Deployment{}
		require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, d))
		require.Len(t, d.Spec.Template.Spec.Containers, 1)
		c := d.Spec.Template.Spec.Containers[0]
		return imagesOf{Image: c.Image, Args: c.Args, Env: c.Env}
	}
	t.Fatalf("%s has no Deployment hotreload-webhook", dir)
	return imagesOf{}
}

// reloaderEnv is the webhook's environment when it injects image: its own
// namespace, the image, and its Go memory limit.
func reloaderEnv(image string) []corev1.EnvVar {
	return []corev1.EnvVar{
		{Name: "POD_NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
		{Name: "HOTRELOAD_RELOADER_IMAGE", Value: image},
		{Name: "GOMEMLIMIT", Value: "112MiB"},
	}
}

func TestIntegrationAnOverlaysImagesMoveTheWebhookAndTheReloaderItInjects(t *testing.T) {
	env := testenv.Get(t)
	tree := copyTree(t, ".")
	const digest = "sha256:4b1d6e0f4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a392"
	for _, tc := range []struct {
		name   string
		base   string
		images string
		want   imagesOf
	}{
		{
			name: "base as it is: the images of the local cluster",
			base: "base",
			want: imagesOf{Image: "hotreload/webhook:dev", Args: webhookArgs, Env: reloaderEnv("hotreload/reloader:dev")},
		},
		{
			name: "hotreload/reloader by digest moves the reloader the webhook injects, not the webhook",
			base: "base",
			images: `
  - name: hotreload/reloader
    newName: registry.example.com/hotreload/reloader
    digest: ` + digest,
			want: imagesOf{Image: "hotreload/webhook:dev", Args: webhookArgs,
				Env: reloaderEnv("registry.example.com/hotreload/reloader@" + digest)},
		},
		{
			name: "hotreload/webhook moves the webhook, not the reloader",
			base: "base",
			images: `
  - name: hotreload/webhook
    newName: registry.example.com/hotreload/webhook
    newTag: v0.3.0`,
			want: imagesOf{Image: "registry.example.com/hotreload/webhook:v0.3.0", Args: webhookArgs,
				Env: reloaderEnv("hotreload/reloader:dev")},
		},
		{
			name: "both by tag and digest, in an overlay of the default overlay",
			base: "default",
			images: `
  - name: hotreload/webhook
    newName: registry.example.com/hotreload/webhook
    newTag: v0.3.0
    digest: ` + digest + `
  - name: hotreload/reloader
    newName: registry.example.com/hotreload/reloader
    newTag: v0.3.0`,
			want: imagesOf{Image: "registry.example.com/hotreload/webhook:v0.3.0@" + digest, Args: webhookArgs,
				Env: reloaderEnv("registry.example.com/hotreload/reloader:v0.3.0")},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, err := os.MkdirTemp(tree, "overlay-")
			require.NoError(t, err)
			k := "resources:\n  - ../" + tc.base + "\n"
			if tc.images != "" {
				k += "images:" + tc.images + "\n"
			}
			require.NoError(t, os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o644))
			require.Equal(t, tc.want, webhookContainer(t, env, dir))
		})
	}
}
