package reload

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An app that runs as its reloader's user reads the reloader's environment,
// memory (the reloader token) and files (its root: the pod token is mounted
// in the sidecar alone) through /proc, unless the reloader hid from it.
func TestHideFromAppKeepsOutAProcessOfTheSameUser(t *testing.T) {
	bin := appUserBinary(t)
	mem := "mem: ok"
	if b, err := os.ReadFile("/proc/sys/kernel/yama/ptrace_scope"); err == nil && strings.TrimSpace(string(b)) != "0" {
		mem = "mem: permission denied" // Yama lets a process trace its descendants only
	}
	for _, tc := range []struct {
		name string
		hide bool
		want string
	}{
		{"reads nothing of a reloader that hid", true, "environ: permission denied, mem: permission denied, root: permission denied"},
		{"reads a reloader that did not hide", false, "environ: ok, " + mem + ", root: ok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reloader := asAppUser(exec.Command(bin, "-test.run=^$", "hotreload-test-reloader"))
			reloader.Env = append(os.Environ(), "HOTRELOAD_TEST_CHILD=hide", "CHILD_HIDE="+strconv.FormatBool(tc.hide))
			stdin, err := reloader.StdinPipe()
			require.NoError(t, err)
			stdout, err := reloader.StdoutPipe()
			require.NoError(t, err)
			require.NoError(t, reloader.Start())
			t.Cleanup(func() {
				stdin.Close()
				reloader.Wait()
			})
			ready, err := bufio.NewReader(stdout).ReadString('\n')
			require.NoError(t, err)
			require.Equal(t, "ready\n", ready, "the reloader hid, or not")

			app := asAppUser(exec.Command(bin, "-test.run=^$", "hotreload-test-app"))
			app.Env = append(os.Environ(), "HOTRELOAD_TEST_CHILD=peek", "CHILD_PEEK="+strconv.Itoa(reloader.Process.Pid))
			out, err := app.Output()
			require.NoError(t, err)
			assert.Equal(t, tc.want+"\n", string(out))
		})
	}
}

// appUser is the user an app and its reloader share when the test runs as
// root: an ordinary user, without capabilities.
const appUser = 65534

// asAppUser runs cmd as appUser when the test runs as root (whose
// CAP_SYS_PTRACE reads any process), else as the test's own user.
func asAppUser(cmd *exec.Cmd) *exec.Cmd {
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: appUser, Gid: appUser}}
	}
	return cmd
}

// appUserBinary returns the test binary, copied where appUser may run it
// when the test runs as root.
func appUserBinary(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		return os.Args[0]
	}
	b, err := os.ReadFile(os.Args[0])
	require.NoError(t, err)
	bin := filepath.Join(appUserDir(t), "reload.test")
	require.NoError(t, os.WriteFile(bin, b, 0o755))
	return bin
}

// appUserDir returns a new directory that appUser may enter (t.TempDir's
// parent is the test user's alone).
func appUserDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "hotreload-reload-test-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	return dir
}
