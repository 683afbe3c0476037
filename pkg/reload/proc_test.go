package reload

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const cid = "4f2a9c0e7b1d3e5f6a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f"

func TestParseContainerID(t *testing.T) {
	for _, s := range []string{"containerd://" + cid, "cri-o://" + cid, "docker://" + cid} {
		got, err := ParseContainerID(s)
		require.NoError(t, err)
		assert.Equal(t, cid, got, s)
	}
	for _, s := range []string{"", cid, "containerd://", "containerd://../x"} {
		_, err := ParseContainerID(s)
		assert.ErrorIs(t, err, ErrContainerID, s)
	}
}

// Recorded /proc/<pid>/cgroup contents, per runtime and cgroup version.
func TestCgroupHas(t *testing.T) {
	v1 := func(path string) string {
		var b strings.Builder
		for i, c := range []string{"pids", "memory", "cpu,cpuacct", "name=systemd"} {
			fmt.Fprintf(&b, "%d:%s:%s\n", 12-i, c, path)
		}
		return b.String()
	}
	tests := []struct {
		name string
		file string
		want bool
	}{
		{"containerd, cgroup v2, systemd driver",
			"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod8d5e_41b2.slice/cri-containerd-" + cid + ".scope\n", true},
		{"containerd, cgroup v2, cgroupfs driver", "0::/kubepods/burstable/pod8d5e-41b2/" + cid + "\n", true},
		{"containerd, cgroup v1, cgroupfs driver", v1("/kubepods/burstable/pod8d5e-41b2/" + cid), true},
		{"containerd, cgroup v1, systemd driver", v1("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod8d5e_41b2.slice/cri-containerd-" + cid + ".scope"), true},
		{"CRI-O, cgroup v2", "0::/kubepods.slice/kubepods-pod8d5e_41b2.slice/crio-" + cid + ".scope\n", true},
		{"CRI-O, cgroup v2, nested cgroup inside the container", "0::/kubepods.slice/kubepods-pod8d5e_41b2.slice/crio-" + cid + ".scope/container\n", true},
		{"CRI-O, cgroup v1", v1("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod8d5e_41b2.slice/crio-" + cid + ".scope"), true},
		{"docker, cgroup v1, systemd driver", v1("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod8d5e_41b2.slice/docker-" + cid + ".scope"), true},
		{"docker, cgroup v1, cgroupfs driver", v1("/kubepods/besteffort/pod8d5e-41b2/" + cid), true},
		{"CRI-O conmon is not the container", "0::/kubepods.slice/kubepods-pod8d5e_41b2.slice/crio-conmon-" + cid + ".scope\n", false},
		{"another container of the pod", "0::/kubepods.slice/kubepods-pod8d5e_41b2.slice/cri-containerd-" + strings.Repeat("a", 64) + ".scope\n", false},
		{"an ID that only starts with the container's", "0::/kubepods/burstable/pod8d5e-41b2/" + cid + "00\n", false},
		{"a process outside kubepods", "0::/system.slice/containerd.service\n", false},
		{"a namespaced cgroup v2 view", "0::/\n", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, CgroupHas([]byte(tc.file), cid))
		})
	}
}

// fakeTree writes a proc tree: pid -> (ppid, state, cmdline, container).
func fakeTree(t *testing.T, procs map[int][4]string) Procs {
	root := t.TempDir()
	for pid, p := range procs {
		dir := filepath.Join(root, fmt.Sprint(pid))
		require.NoError(t, os.Mkdir(dir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "stat"),
			[]byte(fmt.Sprintf("%d (weird) name) %s %s 1 1 0 -1\n", pid, p[1], p[0])), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "cmdline"), []byte(strings.ReplaceAll(p[2], " ", "\x00")+"\x00"), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "cgroup"), []byte("0::/kubepods/burstable/poduid/"+p[3]+"\n"), 0o644))
	}
	require.NoError(t, os.WriteFile(filepath.Join(root, "uptime"), []byte("1 1\n"), 0o644))
	return Procs{Root: root}
}

func TestFind(t *testing.T) {
	procs := fakeTree(t, map[int][4]string{
		1:  {"0", "S", "/pause", "pause"},
		7:  {"0", "S", "nginx: master process nginx -g daemon off;", cid},
		12: {"7", "S", "nginx: worker process", cid},
		13: {"7", "S", "nginx: worker process", cid},
		14: {"12", "S", "sh -c reload-helper", cid},
		20: {"7", "Z", "", cid},
		30: {"0", "S", "hotreload reloader run", "sidecar"},
	})
	tests := []struct {
		name    string
		process string
		want    int
		wantErr error
	}{
		{"picks the main process: the one whose parent is outside the container", "", 7, nil},
		{"picks the process nearest the main one among matches, lowest PID first", "worker", 12, nil},
		{"picks a deeper process when only it matches", `^sh -c reload`, 14, nil},
		{"fails when no process matches", "postgres", 0, ErrNoProcess},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var re *regexp.Regexp
			if tc.process != "" {
				re = regexp.MustCompile(tc.process)
			}
			got, err := procs.Find(cid, re)
			require.ErrorIs(t, err, tc.wantErr)
			assert.Equal(t, tc.want, got)
		})
	}
	_, err := procs.Find(strings.Repeat("b", 64), nil)
	require.ErrorIs(t, err, ErrNoProcess, "a container that is not running")
	assert.True(t, procs.Alive(7))
	assert.False(t, procs.Alive(20), "a zombie counts as dead")
	assert.False(t, procs.Alive(99), "a missing process is dead")
}
