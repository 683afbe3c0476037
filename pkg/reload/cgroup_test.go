package reload

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFindOnARealCgroup puts a real child into a cgroup named as the kubelet's
// cgroupfs driver names a container's (kubepods/burstable/pod<uid>/<id>) and
// finds and signals it through the real /proc.
func TestFindOnARealCgroup(t *testing.T) {
	const hierarchy = "/sys/fs/cgroup/pids"
	if os.Geteuid() != 0 {
		t.Skip("creating a cgroup needs root")
	}
	own, err := os.ReadFile("/proc/self/cgroup")
	require.NoError(t, err)
	if _, err := os.Stat(filepath.Join(hierarchy, "cgroup.procs")); err != nil {
		t.Skipf("no cgroup v1 pids hierarchy at %s: %v (own cgroups: %q)", hierarchy, err, own)
	}
	id := fmt.Sprintf("%064x", time.Now().UnixNano())
	pod := filepath.Join(hierarchy, "kubepods", "burstable", "podhotreload-test-"+id[56:])
	dir := filepath.Join(pod, id)
	var created []string // the cgroups this test makes, parents first
	for d := dir; d != hierarchy; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err != nil {
			created = append([]string{d}, created...)
		}
	}
	t.Cleanup(func() {
		for i := len(created) - 1; i >= 0; i-- {
			os.Remove(created[i]) // rmdir; fails while the cgroup has processes
		}
	})
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Skipf("cannot create a cgroup here: %v", err)
	}

	_, config := liveConfig(t, "a=1")
	c := startChild(t, config)
	pid := c.cmd.Process.Pid
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(fmt.Sprint(pid)), 0o644); err != nil {
		t.Skipf("cannot move a process into the cgroup: %v", err)
	}
	t.Cleanup(func() {
		os.WriteFile(filepath.Join(hierarchy, "cgroup.procs"), []byte(fmt.Sprint(pid)), 0o644)
	})

	got, err := Procs{}.Find(id, nil)
	require.NoError(t, err)
	assert.Equal(t, pid, got)

	got, err = deliver(t, &Deliverer{Method: Method{Signal: syscall.SIGHUP}}, id)
	require.NoError(t, err)
	assert.Equal(t, pid, got)
	assert.Equal(t, []string{"ready", "SIGHUP 3 a=1"}, c.waitLines(t, 2))
}
