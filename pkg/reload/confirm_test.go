package reload

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hotreload/hotreload/pkg/annotations"
)

// workersOf returns the workers the test app recorded, in order.
func workersOf(c *child) []string {
	var out []string
	for _, l := range c.lines() {
		if w, ok := strings.CutPrefix(l, "worker "); ok {
			out = append(out, w)
		}
	}
	return out
}

// TestConfirmWorkers runs a master that forks a new worker for a config it
// accepts and keeps its worker for one it refuses, as nginx does: the first
// reload is confirmed, the second refused, and the master lives on.
func TestConfirmWorkers(t *testing.T) {
	l, write := newLive(t)
	write(files("app.conf", "a=1"), files("tls.crt", "A"))
	stageAndSwap(t, l, "")
	config := filepath.Join(l.LiveRoot, "config", "app.conf")
	master := startChild(t, config, "CHILD_WORKERS=1")
	require.Eventually(t, func() bool { return len(master.lines()) >= 2 }, 30*time.Second, 10*time.Millisecond)
	require.Len(t, workersOf(master), 1)
	d := &Deliverer{Procs: fakeProc(t, cid, master.cmd.Process.Pid), Method: Method{Signal: syscall.SIGHUP},
		Confirm: annotations.Confirmation{Mode: annotations.ConfirmWorkers}, ConfirmTimeout: 500 * time.Millisecond}

	pid, err := deliver(t, d, cid)
	require.NoError(t, err, "a new worker confirms the reload")
	assert.Equal(t, master.cmd.Process.Pid, pid)
	assert.Len(t, workersOf(master), 2)

	write(files("app.conf", "a=2 broken"), files("tls.crt", "A"))
	stageAndSwap(t, l, "")
	start := time.Now()
	_, err = deliver(t, d, cid)
	require.ErrorIs(t, err, ErrRefused)
	assert.EqualError(t, err, fmt.Sprintf("refused by the app: no new worker of pid %d within 500ms after SIGHUP: it kept its old config", pid))
	assert.GreaterOrEqual(t, time.Since(start), 500*time.Millisecond, "the refusal waits for the whole bound")
	assert.Len(t, workersOf(master), 2, "the refused config started no worker")
	assert.True(t, d.Procs.Alive(pid), "the master runs on its old config")
}

// TestConfirmWorkersOfAMasterThatDies: a master that exits on its new config
// is a death, not a missing worker.
func TestConfirmWorkersOfAMasterThatDies(t *testing.T) {
	_, config := liveConfig(t, "a=1")
	master := startChild(t, config, "CHILD_WORKERS=1", "CHILD_EXIT_ON_SIGNAL=1")
	d := &Deliverer{Procs: fakeProc(t, cid, master.cmd.Process.Pid), Method: Method{Signal: syscall.SIGUSR1},
		Confirm: annotations.Confirmation{Mode: annotations.ConfirmWorkers}}
	_, err := deliver(t, d, cid)
	require.ErrorIs(t, err, ErrProcessDied)
	assert.EqualError(t, err, fmt.Sprintf("process died after SIGUSR1: pid %d", master.cmd.Process.Pid))
	assert.True(t, isVerdict(err))
}

// TestChildrenWithoutTheKernelsList: where the kernel keeps no list of a
// thread's children, they are found by their parent among the container's
// processes.
func TestChildrenWithoutTheKernelsList(t *testing.T) {
	root := t.TempDir()
	for _, p := range []struct{ pid, ppid int }{{100, 1}, {101, 100}, {102, 100}, {103, 101}, {104, 100}} {
		dir := filepath.Join(root, fmt.Sprint(p.pid))
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "task", fmt.Sprint(p.pid)), 0o755))
		cg := "0::/kubepods/pod1/" + cid + "\n"
		if p.pid == 104 {
			cg = "0::/kubepods/pod1/another\n"
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, "cgroup"), []byte(cg), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "stat"), fmt.Appendf(nil, "%d (app) S %d 0 0", p.pid, p.ppid), 0o644))
	}
	procs := Procs{Root: root}
	kids, err := procs.Children(100, cid)
	require.NoError(t, err)
	assert.ElementsMatch(t, []int{101, 102}, kids, "children in the container only, grandchildren left out")

	require.NoError(t, os.WriteFile(filepath.Join(root, "100", "task", "100", "children"), []byte("101 102 104 "), 0o644))
	kids, err = procs.Children(100, cid)
	require.NoError(t, err)
	assert.Equal(t, []int{101, 102, 104}, kids, "the kernel's list when there is one")
}

func TestConfirmURL(t *testing.T) {
	const metrics = `# HELP prometheus_config_last_reload_successful Whether the last configuration reload attempt was successful.
# TYPE prometheus_config_last_reload_successful gauge
prometheus_config_last_reload_successful_total 7
prometheus_config_last_reload_successful %s
prometheus_config_last_reload_success_timestamp_seconds 1.7e+09
`
	tests := []struct {
		name    string
		confirm func(url string) annotations.Confirmation
		answers []func(w http.ResponseWriter) // the last repeats
		wantErr string                        // "" for confirmed; URL stands for the server's
	}{
		{"confirms a 2xx answer", httpConfirm, []func(http.ResponseWriter){status(204, "")}, ""},
		{"waits for a 2xx answer within the bound", httpConfirm,
			[]func(http.ResponseWriter){status(503, "starting"), status(503, "starting"), status(200, "ok")}, ""},
		{"refuses an error answer by its first line, escaped", httpConfirm,
			[]func(http.ResponseWriter){status(500, "\n bad config: \x1b[31mline 3\u202e\nstack trace\n")},
			`refused by the app: GET URL: 500 Internal Server Error: bad config: \x1b[31mline 3\u202e`},
		{"confirms a metric at its value", metricConfirm("1"), []func(http.ResponseWriter){status(200, fmt.Sprintf(metrics, "1"))}, ""},
		{"compares values as numbers", metricConfirm("1"), []func(http.ResponseWriter){status(200, fmt.Sprintf(metrics, "1.0e0"))}, ""},
		{"reads a sample with labels", metricConfirm("1"),
			[]func(http.ResponseWriter){status(200, `prometheus_config_last_reload_successful{instance="a b}"} 1 1700000000`+"\n")}, ""},
		{"refuses a metric at another value", metricConfirm("1"), []func(http.ResponseWriter){status(200, fmt.Sprintf(metrics, "0"))},
			"refused by the app: GET URL: prometheus_config_last_reload_successful is 0, want 1"},
		{"refuses a page without the metric", metricConfirm("1"), []func(http.ResponseWriter){status(200, "up 1\n")},
			"refused by the app: GET URL: no sample of prometheus_config_last_reload_successful"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var n atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				assert.Equal(t, http.MethodGet, r.Method)
				i := int(n.Add(1)) - 1
				tc.answers[min(i, len(tc.answers)-1)](w)
			}))
			defer srv.Close()
			url := srv.URL + "/metrics"
			d := &Deliverer{Method: Method{Signal: syscall.SIGHUP}, Confirm: tc.confirm(url), ConfirmTimeout: 500 * time.Millisecond}
			err := d.confirmURL(context.Background(), time.Now())
			if tc.wantErr == "" {
				require.NoError(t, err)
				assert.EqualValues(t, len(tc.answers), n.Load(), "read until it confirmed, then no more")
				return
			}
			require.ErrorIs(t, err, ErrRefused)
			assert.Equal(t, tc.wantErr, strings.ReplaceAll(err.Error(), url, "URL"))
		})
	}
}

func TestConfirmURLThatNeverAnswers(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/ready"
	srv.Close()
	d := &Deliverer{Method: Method{URL: "http://127.0.0.1:1/-/reload"}, Confirm: httpConfirm(url), ConfirmTimeout: 200 * time.Millisecond}
	err := d.confirmURL(context.Background(), time.Now())
	require.ErrorIs(t, err, ErrRefused)
	assert.Contains(t, err.Error(), "refused by the app: no 2xx answer within 200ms after POST http://127.0.0.1:1/-/reload: GET "+url+": ")
	assert.Contains(t, err.Error(), "connection refused")
}

func TestConfirmURLFollowsNoRedirectOffLoopback(t *testing.T) {
	srv := httptest.NewServer(http.RedirectHandler("http://10.0.0.7/ready", http.StatusFound))
	defer srv.Close()
	d := &Deliverer{Method: Method{Signal: syscall.SIGHUP}, Confirm: httpConfirm(srv.URL), ConfirmTimeout: 100 * time.Millisecond}
	err := d.confirmURL(context.Background(), time.Now())
	require.ErrorIs(t, err, ErrRefused)
	assert.Contains(t, err.Error(), "host must be loopback")
}

func httpConfirm(url string) annotations.Confirmation {
	return annotations.Confirmation{Mode: annotations.ConfirmHTTP, URL: url}
}

func metricConfirm(value string) func(string) annotations.Confirmation {
	return func(url string) annotations.Confirmation {
		return annotations.Confirmation{Mode: annotations.ConfirmMetric, URL: url, Metric: "prometheus_config_last_reload_successful", Value: value}
	}
}

func status(code int, body string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.WriteHeader(code)
		fmt.Fprint(w, body)
	}
}
