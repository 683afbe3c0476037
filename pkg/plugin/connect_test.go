package plugin

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/cli-runtime/pkg/genericclioptions"
)

// twoContexts is a kubeconfig with contexts dev (current) and prod, each
// with its cluster, user and namespace.
const twoContexts = `apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: dev
  cluster: {server: "https://dev.example:6443"}
- name: prod
  cluster: {server: "https://prod.example:6443"}
users:
- name: dev-admin
  user: {token: dev-token}
- name: prod-admin
  user: {token: prod-token}
contexts:
- name: dev
  context: {cluster: dev, user: dev-admin, namespace: shop-dev}
- name: prod
  context: {cluster: prod, user: prod-admin, namespace: shop-prod}
`

// writeKubeconfig writes content to a kubeconfig file and returns its path.
func writeKubeconfig(t *testing.T, content string) string {
	path := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

// connection is what a session was opened with.
type connection struct {
	Server, Namespace, Token, As string
}

// TestRunConnectsWithKubectlsFlags: kubectl's connection flags, before or
// after the command, choose the cluster, the credentials and the namespace
// a session works in, as they do for kubectl.
func TestRunConnectsWithKubectlsFlags(t *testing.T) {
	kubeconfig := writeKubeconfig(t, twoContexts)
	dev := connection{Server: "https://dev.example:6443", Namespace: "shop-dev", Token: "dev-token"}
	prod := connection{Server: "https://prod.example:6443", Namespace: "shop-prod", Token: "prod-token"}
	tests := []struct {
		name string
		env  string // KUBECONFIG
		args []string
		want connection
	}{
		{"reads the kubeconfig of KUBECONFIG, in its current context", kubeconfig, []string{"status"}, dev},
		{"reads the kubeconfig of --kubeconfig", "", []string{"status", "--kubeconfig", kubeconfig}, dev},
		{"takes the context of --context", kubeconfig, []string{"status", "--context", "prod"}, prod},
		{"takes -n over the context's namespace", kubeconfig, []string{"status", "--context=prod", "-n", "web"},
			connection{Server: prod.Server, Namespace: "web", Token: prod.Token}},
		{"takes the connection flags before the command", "", []string{"--kubeconfig", kubeconfig, "--namespace=web", "--context", "prod", "status"},
			connection{Server: prod.Server, Namespace: "web", Token: prod.Token}},
		{"takes --cluster, --user and --as", kubeconfig, []string{"status", "--cluster", "prod", "--user", "prod-admin", "--as", "jane"},
			connection{Server: prod.Server, Namespace: dev.Namespace, Token: prod.Token, As: "jane"}},
		{"takes --server and --token", kubeconfig, []string{"status", "-s", "https://other.example", "--token", "t0k"},
			connection{Server: "https://other.example", Namespace: dev.Namespace, Token: "t0k"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("KUBECONFIG", tt.env)
			var got connection
			fake := cluster(t)
			recorded := func(k *genericclioptions.ConfigFlags) (*session, error) {
				sess, err := connect(k)
				require.NoError(t, err)
				cfg, err := k.ToRESTConfig()
				require.NoError(t, err)
				got = connection{Server: cfg.Host, Namespace: sess.namespace, Token: cfg.BearerToken, As: cfg.Impersonate.UserName}
				faked, err := fake(k)
				faked.namespace = sess.namespace
				return faked, err
			}
			code, stdout, stderr := runApp(t, recorded, tt.args...)
			require.Equal(t, 0, code, stderr)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, "No releases in namespace "+tt.want.Namespace+": no injected pod reloads a ConfigMap or Secret yet.\n", stdout)
		})
	}
}

// TestRunSaysWhenNoKubeconfigNamesACluster: without a kubeconfig, the plugin
// says so rather than trying http://localhost:8080.
func TestRunSaysWhenNoKubeconfigNamesACluster(t *testing.T) {
	t.Setenv("KUBERNETES_MASTER", "")
	t.Setenv("KUBERNETES_SERVICE_HOST", "") // not in a pod
	code, stdout, stderr := runApp(t, connect, "status", "--kubeconfig", writeKubeconfig(t, ""))
	assert.Equal(t, 1, code)
	assert.Empty(t, stdout)
	assert.Equal(t, "error: reading the kubeconfig: no configuration has been provided, try setting KUBERNETES_MASTER environment variable\n", stderr)

	code, _, stderr = runApp(t, connect, "status", "--kubeconfig", filepath.Join(t.TempDir(), "missing"))
	assert.Equal(t, 1, code)
	assert.Regexp(t, `^error: reading the kubeconfig: stat .*/missing: no such file or directory\n$`, stderr)
}
