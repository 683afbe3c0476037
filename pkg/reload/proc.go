package reload

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

var (
	// ErrNoProcess means no process of the container (or none matching the
	// process regexp) is visible: the container is not running, or the pod
	// does not share its process namespace.
	ErrNoProcess = errors.New("no matching process in the container")
	// ErrContainerID means a container ID from the pod status is malformed.
	ErrContainerID = errors.New("malformed container ID")
)

// ParseContainerID returns the ID of a pod status containerID such as
// "containerd://<id>", "cri-o://<id>" or "docker://<id>".
func ParseContainerID(s string) (string, error) {
	_, id, ok := strings.Cut(s, "://")
	if !ok || id == "" || strings.ContainsAny(id, "/.") {
		return "", fmt.Errorf("%q: %w", s, ErrContainerID)
	}
	return id, nil
}

// CgroupHas reports whether a /proc/<pid>/cgroup file places the process in
// (a descendant of) the cgroup of container id, in any of the forms the
// kubelet's cgroup drivers and the container runtimes use, for cgroup v1 and
// v2: ".../<id>" (cgroupfs driver), ".../cri-containerd-<id>.scope",
// ".../crio-<id>.scope" and ".../docker-<id>.scope" (systemd driver). CRI-O's
// conmon scope ("crio-conmon-<id>.scope") is not the container.
func CgroupHas(cgroupFile []byte, id string) bool {
	for line := range bytes.Lines(cgroupFile) {
		// hierarchy-ID:controllers:path
		parts := bytes.SplitN(bytes.TrimSpace(line), []byte(":"), 3)
		if len(parts) != 3 {
			continue
		}
		for el := range strings.SplitSeq(string(parts[2]), "/") {
			el = strings.TrimSuffix(el, ".scope")
			if el == id {
				return true
			}
			prefix, ok := strings.CutSuffix(el, "-"+id)
			if ok && (prefix == "cri-containerd" || prefix == "crio" || prefix == "docker") {
				return true
			}
		}
	}
	return false
}

// Procs reads processes from a proc filesystem mounted at Root ("/proc" when
// empty); tests point it at a fake tree.
type Procs struct {
	Root string
}

func (p Procs) root() string {
	if p.Root == "" {
		return "/proc"
	}
	return p.Root
}

// Proc is what Procs reads about one process.
type Proc struct {
	PID     int
	PPID    int
	State   byte   // from /proc/<pid>/stat: R, S, D, Z, ...
	Cmdline string // arguments joined by spaces
}

// Stat reads pid's state and parent from /proc/<pid>/stat.
func (p Procs) Stat(pid int) (Proc, error) {
	b, err := os.ReadFile(filepath.Join(p.root(), strconv.Itoa(pid), "stat"))
	if err != nil {
		return Proc{}, err
	}
	// pid (comm) state ppid ...; comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return Proc{}, fmt.Errorf("parse /proc/%d/stat: no command", pid)
	}
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 2 || len(fields[0]) != 1 {
		return Proc{}, fmt.Errorf("parse /proc/%d/stat: too short", pid)
	}
	ppid, err := strconv.Atoi(fields[1])
	if err != nil {
		return Proc{}, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
	}
	return Proc{PID: pid, PPID: ppid, State: fields[0][0]}, nil
}

// In reports whether pid is a process of container id now.
func (p Procs) In(pid int, id string) bool {
	cg, err := os.ReadFile(filepath.Join(p.root(), strconv.Itoa(pid), "cgroup"))
	return err == nil && CgroupHas(cg, id)
}

// Alive reports whether pid exists and is not a zombie.
func (p Procs) Alive(pid int) bool {
	st, err := p.Stat(pid)
	return err == nil && st.State != 'Z' && st.State != 'X' && st.State != 'x'
}

// Container returns the live processes in the cgroup of container id.
func (p Procs) Container(id string) ([]Proc, error) {
	entries, err := os.ReadDir(p.root())
	if err != nil {
		return nil, err
	}
	var out []Proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		dir := filepath.Join(p.root(), e.Name())
		cg, err := os.ReadFile(filepath.Join(dir, "cgroup"))
		if err != nil || !CgroupHas(cg, id) {
			continue // gone, or another container's
		}
		st, err := p.Stat(pid)
		if err != nil || st.State == 'Z' {
			continue
		}
		cmd, _ := os.ReadFile(filepath.Join(dir, "cmdline"))
		st.Cmdline = strings.TrimSpace(string(bytes.ReplaceAll(cmd, []byte{0}, []byte{' '})))
		out = append(out, st)
	}
	return out, nil
}

// Find returns the PID of the target process of container id: its main
// process (the one whose parent is outside the container), or, when process
// is set, the process nearest to the main one whose command line matches it
// (ties go to the lowest PID).
func (p Procs) Find(id string, process *regexp.Regexp) (int, error) {
	procs, err := p.Container(id)
	if err != nil {
		return 0, fmt.Errorf("find process of container %s: %w", id, err)
	}
	byPID := map[int]Proc{}
	for _, pr := range procs {
		byPID[pr.PID] = pr
	}
	depth := func(pr Proc) int {
		d := 0
		for seen := 0; seen <= len(byPID); seen++ {
			parent, ok := byPID[pr.PPID]
			if !ok {
				break
			}
			pr, d = parent, d+1
		}
		return d
	}
	var cands []Proc
	for _, pr := range procs {
		if process == nil || process.MatchString(pr.Cmdline) {
			cands = append(cands, pr)
		}
	}
	if len(cands) == 0 {
		if process != nil {
			return 0, fmt.Errorf("container %s, process %q: %w", id, process, ErrNoProcess)
		}
		return 0, fmt.Errorf("container %s: %w", id, ErrNoProcess)
	}
	best := slices.MinFunc(cands, func(a, b Proc) int {
		if da, db := depth(a), depth(b); da != db {
			return da - db
		}
		return a.PID - b.PID
	})
	return best.PID, nil
}

// Children returns the PIDs of pid's children: from the kernel's list of
// each of its threads' children (/proc/<pid>/task/<tid>/children), else,
// where the kernel keeps no such list, from the parents of the processes of
// container id.
func (p Procs) Children(pid int, id string) ([]int, error) {
	if out, err := p.childList(pid); err == nil {
		return out, nil
	}
	procs, err := p.Container(id)
	if err != nil {
		return nil, fmt.Errorf("children of pid %d: %w", pid, err)
	}
	var out []int
	for _, pr := range procs {
		if pr.PPID == pid {
			out = append(out, pr.PID)
		}
	}
	return out, nil
}

func (p Procs) childList(pid int) ([]int, error) {
	tasks := filepath.Join(p.root(), strconv.Itoa(pid), "task")
	entries, err := os.ReadDir(tasks)
	if err != nil {
		return nil, err
	}
	var out []int
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(tasks, e.Name(), "children"))
		if errors.Is(err, fs.ErrNotExist) {
			if _, serr := os.Stat(filepath.Join(tasks, e.Name())); serr == nil {
				return nil, err // the kernel keeps no list of children
			}
			continue // the thread ended
		}
		if err != nil {
			return nil, err
		}
		for _, f := range strings.Fields(string(b)) {
			if child, err := strconv.Atoi(f); err == nil {
				out = append(out, child)
			}
		}
	}
	return out, nil
}
