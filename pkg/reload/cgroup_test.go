package reload

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cgroupLayout is where a test can make a container's cgroup as the kubelet
// does on this machine: the hierarchy to make it in, the cgroup of the test
// process there (to move the child back to), and the container's path below
// the hierarchy.
type cgroupLayout struct {
	hierarchy, own string
	path           func(id string) string
}

// machineCgroups returns the layout of this machine's cgroups: cgroup v2
// (unified) with the kubelet's systemd driver naming, else the cgroup v1 pids
// hierarchy with its cgroupfs driver naming. It skips the test where neither
// can be written.
func machineCgroups(t *testing.T) cgroupLayout {
	if os.Geteuid() != 0 {
		t.Skip("creating a cgroup needs root")
	}
	own, err := os.ReadFile("/proc/self/cgroup")
	require.NoError(t, err)
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		var self string
		for line := range strings.Lines(string(own)) {
			if p, ok := strings.CutPrefix(strings.TrimSpace(line), "0::"); ok {
				self = p
			}
		}
		return cgroupLayout{hierarchy: "/sys/fs/cgroup", own: self, path: func(id string) string {
			uid := "hotreload_test_" + id[56:]
			return filepath.Join("kubepods.slice", "kubepods-burstable.slice", "kubepods-burstable-pod"+uid+".slice", "cri-containerd-"+id+".scope")
		}}
	}
	const pids = "/sys/fs/cgroup/pids"
	if _, err := os.Stat(filepath.Join(pids, "cgroup.procs")); err != nil {
		t.Skipf("neither cgroup v2 nor a cgroup v1 pids hierarchy (own cgroups: %q)", own)
	}
	return cgroupLayout{hierarchy: pids, own: "/", path: func(id string) string {
		return filepath.Join("kubepods", "burstable", "podhotreload-test-"+id[56:], id)
	}}
}

// TestFindOnARealCgroup puts a real child into a cgroup named as the
// kubelet's cgroup driver names a container's on this machine (cgroup v2 and
// the systemd driver, or v1 and cgroupfs) and finds and signals it through
// the real /proc.
func TestFindOnARealCgroup(t *testing.T) {
	layout := machineCgroups(t)
	id := fmt.Sprintf("%064x", time.Now().UnixNano())
	dir := filepath.Join(layout.hierarchy, layout.path(id))
	var created []string // the cgroups this test makes, parents first
	for d := dir; d != layout.hierarchy; d = filepath.Dir(d) {
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
		os.WriteFile(filepath.Join(layout.hierarchy, layout.own, "cgroup.procs"), []byte(fmt.Sprint(pid)), 0o644)
	})

	got, err := Procs{}.Find(id, nil)
	require.NoError(t, err)
	assert.Equal(t, pid, got)

	got, err = deliver(t, &Deliverer{Method: Method{Signal: syscall.SIGHUP}}, id)
	require.NoError(t, err)
	assert.Equal(t, pid, got)
	assert.Equal(t, []string{"ready", "SIGHUP 3 a=1"}, c.waitLines(t, 2))
}
