package reload

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The test binary doubles as the app under test: run with HOTRELOAD_TEST_CHILD
// set, it records every reload it gets (signal or POST /-/reload) with the
// config file it reads then, one line each, into CHILD_RECORD.
func TestMain(m *testing.M) {
	switch os.Getenv("HOTRELOAD_TEST_CHILD") {
	case "app":
		runChildApp()
		return
	case "worker":
		for { // until its master kills it, or dies (Pdeathsig)
			time.Sleep(time.Hour)
		}
	case "read":
		// Read the config once and record it: an app starting mid-update.
		b, err := os.ReadFile(os.Getenv("CHILD_CONFIG"))
		record(fmt.Sprintf("read %s", describe(b, err)))
		return
	case "hide":
		// A reloader: it hides from the app, or not, then waits for stdin to close.
		if os.Getenv("CHILD_HIDE") == "true" && HideFromApp() != nil {
			os.Exit(6)
		}
		fmt.Println("ready")
		io.Copy(io.Discard, os.Stdin)
		return
	case "peek":
		// An app: what it reads of the reloader through /proc.
		fmt.Println(peek(os.Getenv("CHILD_PEEK")))
		return
	}
	runTests(m)
}

// peek says whether the environment, the memory and the files (its root) of
// process pid can be read through /proc.
func peek(pid string) string {
	var out []string
	for what, read := range map[string]func() error{
		"environ": func() error { _, err := os.ReadFile("/proc/" + pid + "/environ"); return err },
		"mem": func() error {
			f, err := os.Open("/proc/" + pid + "/mem")
			if err == nil {
				f.Close()
			}
			return err
		},
		"root": func() error { _, err := os.ReadDir("/proc/" + pid + "/root/"); return err },
	} {
		switch err := read(); {
		case err == nil:
			out = append(out, what+": ok")
		case errors.Is(err, fs.ErrPermission):
			out = append(out, what+": permission denied")
		default:
			out = append(out, what+": "+err.Error())
		}
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

func record(line string) {
	f, err := os.OpenFile(os.Getenv("CHILD_RECORD"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		os.Exit(3)
	}
	fmt.Fprintln(f, line)
	f.Close()
}

// describe summarises a config read as "<len> <first line>" so large files
// are checked whole without logging them.
func describe(b []byte, err error) string {
	if err != nil {
		return "error " + err.Error()
	}
	first, _, _ := strings.Cut(string(b), "\n")
	if len(first) > 40 {
		first = first[:40]
	}
	return fmt.Sprintf("%d %s", len(b), first)
}

func runChildApp() {
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2)
	if addrFile := os.Getenv("CHILD_HTTP"); addrFile != "" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			os.Exit(4)
		}
		http.HandleFunc("POST /-/reload", func(w http.ResponseWriter, _ *http.Request) {
			b, err := os.ReadFile(os.Getenv("CHILD_CONFIG"))
			record("POST " + describe(b, err))
		})
		http.HandleFunc("POST /-/fail", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "bad config", http.StatusInternalServerError)
		})
		go http.Serve(ln, nil)
		os.WriteFile(addrFile+".tmp", []byte(ln.Addr().String()), 0o644)
		os.Rename(addrFile+".tmp", addrFile)
	}
	var worker *exec.Cmd
	if os.Getenv("CHILD_WORKERS") != "" {
		worker = startWorker()
	}
	record("ready")
	for s := range sigs {
		b, err := os.ReadFile(os.Getenv("CHILD_CONFIG"))
		record(fmt.Sprintf("%s %s", map[os.Signal]string{syscall.SIGHUP: "SIGHUP", syscall.SIGUSR1: "SIGUSR1", syscall.SIGUSR2: "SIGUSR2"}[s], describe(b, err)))
		if os.Getenv("CHILD_EXIT_ON_SIGNAL") != "" {
			os.Exit(1)
		}
		// A master and its workers, as nginx runs: a config it accepts gets
		// a new worker and the old one leaves; one it refuses changes nothing.
		if worker != nil && !strings.Contains(string(b), "broken") {
			next := startWorker()
			worker.Process.Kill()
			worker.Wait()
			worker = next
		}
	}
}

// startWorker starts a worker of the test app, which dies with it.
func startWorker() *exec.Cmd {
	w := exec.Command(os.Args[0], "-test.run=^$", "hotreload-test-worker")
	w.Env = append(os.Environ(), "HOTRELOAD_TEST_CHILD=worker")
	w.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := w.Start(); err != nil {
		os.Exit(5)
	}
	record(fmt.Sprintf("worker %d", w.Process.Pid))
	return w
}

// child is a running test app.
type child struct {
	cmd    *exec.Cmd
	record string
	addr   string // host:port when started with HTTP
}

// startChild starts the test app reading config and waits until it is ready.
func startChild(t testing.TB, config string, env ...string) *child {
	t.Helper()
	dir := t.TempDir()
	c := &child{record: filepath.Join(dir, "record")}
	args := []string{"-test.run=^$", "hotreload-test-app"}
	for _, e := range env {
		if role, ok := strings.CutPrefix(e, "CHILD_ROLE="); ok {
			args = append(args, role) // shows in the command line
		}
	}
	c.cmd = exec.Command(os.Args[0], args...)
	c.cmd.Env = append(os.Environ(), append([]string{"HOTRELOAD_TEST_CHILD=app", "CHILD_RECORD=" + c.record, "CHILD_CONFIG=" + config}, env...)...)
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "CHILD_HTTP="); ok {
			defer func() { c.addr = waitFile(t, v) }()
		}
	}
	require.NoError(t, c.cmd.Start())
	t.Cleanup(func() {
		c.cmd.Process.Kill()
		c.cmd.Wait()
	})
	require.Eventually(t, func() bool { return len(c.lines()) > 0 }, 30*time.Second, 10*time.Millisecond, "child ready")
	return c
}

func waitFile(t testing.TB, name string) string {
	var b []byte
	require.Eventually(t, func() bool {
		var err error
		b, err = os.ReadFile(name)
		return err == nil
	}, 30*time.Second, 10*time.Millisecond)
	return string(b)
}

// lines returns what the child recorded so far.
func (c *child) lines() []string {
	f, err := os.Open(c.record)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	for s := bufio.NewScanner(f); s.Scan(); {
		out = append(out, s.Text())
	}
	return out
}

// waitLines waits until the child recorded n lines and returns them.
func (c *child) waitLines(t testing.TB, n int) []string {
	t.Helper()
	require.Eventually(t, func() bool { return len(c.lines()) >= n }, 30*time.Second, 10*time.Millisecond,
		"want %d lines, have %q", n, c.lines())
	return c.lines()
}

// fakeProc builds a proc tree where the given real pids appear in the cgroup
// of container id (their stat and cmdline are the real ones), so delivery can
// be tested without creating cgroups.
func fakeProc(t testing.TB, id string, pids ...int) Procs {
	t.Helper()
	root := t.TempDir()
	addFakeProc(t, root, id, pids...)
	return Procs{Root: root}
}

// addFakeProc adds the real pids to the fake proc tree at root, in the cgroup
// of container id.
func addFakeProc(t testing.TB, root, id string, pids ...int) {
	t.Helper()
	for _, pid := range pids {
		dir := filepath.Join(root, fmt.Sprint(pid))
		require.NoError(t, os.Mkdir(dir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "cgroup"),
			[]byte("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podabc.slice/cri-containerd-"+id+".scope\n"), 0o644))
		for _, f := range []string{"stat", "cmdline", "task"} {
			require.NoError(t, os.Symlink(fmt.Sprintf("/proc/%d/%s", pid, f), filepath.Join(dir, f)))
		}
	}
}
