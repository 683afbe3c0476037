//go:build integration

package reload

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hotreload/hotreload/internal/testenv"
)

// The real `reloader run`, running as its app's user against the API server,
// hides from the app: the app reads neither its environment, nor its memory
// (the reloader token), nor its files (the pod token's mount) through /proc.
func TestIntegrationTheReloaderHidesFromItsApp(t *testing.T) {
	env := testenv.Get(t)
	ns := env.Namespace(t, nil)
	podWithRunningApp(t, env.Clientset, ns)
	dir := appUserDir(t)
	bin := filepath.Join(dir, "reloader")
	build := exec.Command("go", "build", "-o", bin, "github.com/hotreload/hotreload/cmd/reloader")
	build.Stderr = os.Stderr
	require.NoError(t, build.Run(), "go build the reloader")
	kubeconfig := filepath.Join(dir, "kubeconfig")
	require.NoError(t, writeKubeconfig(env.Config, kubeconfig))
	l := &Live{SrcRoot: filepath.Join(dir, "src"), LiveRoot: filepath.Join(dir, "live"), Volumes: []string{"config", "tls"}}
	require.NoError(t, writeSources(l))
	rev, err := l.SourceRevision()
	require.NoError(t, err)
	if os.Geteuid() == 0 {
		require.NoError(t, filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(path, appUser, appUser)
		}))
	}

	reloader := asAppUser(exec.Command(bin, "run", "--src-dir", l.SrcRoot, "--live-dir", l.LiveRoot, "--volume", "config,tls",
		"--container", "app", "--signal", "none", "--wait-release", "--health-addr", "127.0.0.1:0",
		"--kubeconfig", kubeconfig, "--pod-name", "web", "--pod-namespace", ns))
	reloader.Stdout, reloader.Stderr = os.Stderr, os.Stderr
	require.NoError(t, reloader.Start())
	t.Cleanup(func() {
		reloader.Process.Kill()
		reloader.Wait()
	})
	waitPod(t, env.Clientset, ns, "the reloader reported its start-up revision", appliedIs(rev))

	app := asAppUser(exec.Command(appUserBinary(t), "-test.run=^$", "hotreload-test-app"))
	app.Env = append(os.Environ(), "HOTRELOAD_TEST_CHILD=peek", "CHILD_PEEK="+strconv.Itoa(reloader.Process.Pid))
	out, err := app.Output()
	require.NoError(t, err)
	assert.Equal(t, "environ: permission denied, mem: permission denied, root: permission denied\n", string(out))
}
