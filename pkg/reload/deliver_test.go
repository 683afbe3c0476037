package reload

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hotreload/hotreload/internal/kubeletdir"
	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/contract"
)

// liveConfig publishes content as config/app.conf in a live copy and returns
// the Live and the app's path to the file.
func liveConfig(t *testing.T, content string) (*Live, string) {
	l, write := newLive(t)
	write(files("app.conf", content), files("tls.crt", "A"))
	stageAndSwap(t, l, "")
	return l, filepath.Join(l.LiveRoot, "config", "app.conf")
}

func deliver(t *testing.T, d *Deliverer, id string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if d.Grace == 0 {
		d.Grace = 100 * time.Millisecond
	}
	return d.Deliver(ctx, id)
}

func TestDeliverSignal(t *testing.T) {
	_, config := liveConfig(t, "a=1")
	c := startChild(t, config)
	pid, err := deliver(t, &Deliverer{Procs: fakeProc(t, cid, c.cmd.Process.Pid), Method: Method{Signal: syscall.SIGHUP}}, cid)
	require.NoError(t, err)
	assert.Equal(t, c.cmd.Process.Pid, pid)
	assert.Equal(t, []string{"ready", "SIGHUP 3 a=1"}, c.waitLines(t, 2))
}

func TestDeliverSignalToTheProcessTheRegexpPicks(t *testing.T) {
	_, config := liveConfig(t, "a=1")
	main := startChild(t, config)
	worker := startChild(t, config, "CHILD_ROLE=worker")
	// The regexp matches the command line: tell the two apart by argument.
	procs := fakeProc(t, cid, main.cmd.Process.Pid, worker.cmd.Process.Pid)
	method, err := MethodOf(contract.Delivery{Signal: "SIGUSR1"})
	require.NoError(t, err)
	pid, err := deliver(t, &Deliverer{Procs: procs, Method: method, Process: regexp.MustCompile(`hotreload-test-app worker$`)}, cid)
	require.NoError(t, err)
	assert.Equal(t, worker.cmd.Process.Pid, pid)
	assert.Equal(t, []string{"ready", "SIGUSR1 3 a=1"}, worker.waitLines(t, 2))
	assert.Equal(t, []string{"ready"}, main.lines())

	_, err = deliver(t, &Deliverer{Procs: procs, Method: method, Process: regexp.MustCompile("postgres")}, cid)
	require.ErrorIs(t, err, ErrNoProcess)
}

func TestDeliverHTTP(t *testing.T) {
	_, config := liveConfig(t, "a=1")
	c := startChild(t, config, "CHILD_HTTP="+filepath.Join(t.TempDir(), "addr"))
	method, err := MethodOf(contract.Delivery{Signal: "SIGHUP", URL: "http://" + c.addr + "/-/reload"})
	require.NoError(t, err)
	assert.Equal(t, Method{URL: "http://" + c.addr + "/-/reload"}, method, "a URL wins over the signal")
	_, err = deliver(t, &Deliverer{Method: method}, cid)
	require.NoError(t, err)
	assert.Equal(t, []string{"ready", "POST 3 a=1"}, c.waitLines(t, 2))

	_, err = deliver(t, &Deliverer{Method: Method{URL: "http://" + c.addr + "/-/fail"}}, cid)
	require.ErrorIs(t, err, ErrHTTPStatus)
	assert.Contains(t, err.Error(), "bad config")
}

func TestMethodOf(t *testing.T) {
	tests := []struct {
		name     string
		delivery contract.Delivery
		want     Method
		wantErr  error
	}{
		{"SIGHUP", contract.Delivery{Signal: "SIGHUP"}, Method{Signal: syscall.SIGHUP}, nil},
		{"SIGTSTP", contract.Delivery{Signal: "SIGTSTP"}, Method{Signal: syscall.SIGTSTP}, nil},
		{"none", contract.Delivery{Signal: annotations.SignalNone}, Method{}, nil},
		{"a name that is not canonical", contract.Delivery{Signal: "SIGIOT"}, Method{}, ErrUnknownSignal},
		{"a loopback URL", contract.Delivery{URL: "http://127.0.0.1:9090/-/reload"}, Method{URL: "http://127.0.0.1:9090/-/reload"}, nil},
		{"IPv6 loopback", contract.Delivery{URL: "http://[::1]:9090/-/reload"}, Method{URL: "http://[::1]:9090/-/reload"}, nil},
		{"localhost in upper case", contract.Delivery{URL: "http://LOCALHOST:9090/-/reload"}, Method{URL: "http://LOCALHOST:9090/-/reload"}, nil},
		{"the pod IP", contract.Delivery{URL: "http://10.0.0.7:9090/-/reload"}, Method{}, ErrNotLoopback},
		{"another host", contract.Delivery{URL: "http://example.com/-/reload"}, Method{}, ErrNotLoopback},
		{"another scheme", contract.Delivery{URL: "file:///etc/passwd"}, Method{}, ErrNotLoopback},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := MethodOf(tc.delivery)
			require.ErrorIs(t, err, tc.wantErr)
			assert.Equal(t, tc.want, got)
		})
	}
}

// TestThePOSTConnectsOnlyToLoopback: whatever a host name resolves to, the
// reloader's connection goes to a loopback address or nowhere.
func TestThePOSTConnectsOnlyToLoopback(t *testing.T) {
	for _, tc := range []struct {
		address string
		ok      bool
	}{{"127.0.0.1:80", true}, {"127.8.9.1:80", true}, {"[::1]:443", true}, {"10.0.0.7:80", false}, {"[2001:db8::1]:80", false}} {
		err := loopbackOnly("tcp", tc.address, nil)
		if tc.ok {
			assert.NoError(t, err, tc.address)
		} else {
			assert.ErrorIs(t, err, ErrNotLoopback, tc.address)
		}
	}
}

// TestEverySignalTheWebhookAdmitsResolves: each canonical name pkg/annotations
// accepts is a signal this reloader can send (the webhook writes only those).
func TestEverySignalTheWebhookAdmitsResolves(t *testing.T) {
	names := annotations.SignalNames()
	require.Len(t, names, 29)
	for _, name := range names {
		m, err := MethodOf(contract.Delivery{Signal: name})
		require.NoError(t, err, "signal %s", name)
		assert.Equal(t, string(name), m.String())
	}
}

func TestDeliverNoneSendsNothing(t *testing.T) {
	_, config := liveConfig(t, "a=1")
	c := startChild(t, config)
	pid, err := deliver(t, &Deliverer{Procs: fakeProc(t, cid, c.cmd.Process.Pid)}, cid)
	require.NoError(t, err)
	assert.Equal(t, 0, pid)
	// Prove the child is still responsive and got nothing before this signal.
	require.NoError(t, c.cmd.Process.Signal(syscall.SIGUSR2))
	assert.Equal(t, []string{"ready", "SIGUSR2 3 a=1"}, c.waitLines(t, 2))
}

func TestDeliverReportsAProcessThatDies(t *testing.T) {
	_, config := liveConfig(t, "a=1")
	c := startChild(t, config, "CHILD_EXIT_ON_SIGNAL=1")
	// The child exits on the signal and stays a zombie until the test reaps it.
	_, err := deliver(t, &Deliverer{Procs: fakeProc(t, cid, c.cmd.Process.Pid), Method: Method{Signal: syscall.SIGHUP}, Grace: time.Second}, cid)
	require.ErrorIs(t, err, ErrProcessDied)
	assert.Equal(t, []string{"ready", "SIGHUP 3 a=1"}, c.waitLines(t, 2))
}

// TestDeliverSeesADeathBeforeTheGraceEnds: a process that exits on its
// signal is reported at once, not when a long grace period ends, so the
// previous config is back before the kubelet starts the container again.
func TestDeliverSeesADeathBeforeTheGraceEnds(t *testing.T) {
	_, config := liveConfig(t, "a=1")
	c := startChild(t, config, "CHILD_EXIT_ON_SIGNAL=1")
	const grace = time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), grace/2)
	defer cancel()
	_, err := (&Deliverer{Procs: fakeProc(t, cid, c.cmd.Process.Pid), Method: Method{Signal: syscall.SIGHUP}, Grace: grace}).Deliver(ctx, cid)
	require.ErrorIs(t, err, ErrProcessDied, "reported before half the grace period")
	assert.Equal(t, []string{"ready", "SIGHUP 3 a=1"}, c.waitLines(t, 2))
}

// TestAProcessStartedMidUpdateSeesACompleteRevision swaps large revisions in
// a loop while apps start and read the config: each read is whole.
func TestAProcessStartedMidUpdateSeesACompleteRevision(t *testing.T) {
	big := func(c byte) string { return strings.Repeat(string(c), 256<<10) + "\n" }
	l, config := liveConfig(t, big('A'))
	recordFile := filepath.Join(t.TempDir(), "record")

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			c := byte('A' + i%2)
			if err := kubeletdir.Write(filepath.Join(l.SrcRoot, "config"), files("app.conf", big(c))); err != nil {
				panic(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			s, err := l.Stage(ctx, "")
			cancel()
			if err == nil {
				err = s.Swap()
			}
			if err != nil {
				panic(err)
			}
		}
	}()
	const readers = 20
	for range readers {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "HOTRELOAD_TEST_CHILD=read", "CHILD_RECORD="+recordFile, "CHILD_CONFIG="+config)
		require.NoError(t, cmd.Run())
	}
	close(stop)
	wg.Wait()

	c := &child{record: recordFile}
	lines := c.lines()
	require.Len(t, lines, readers)
	for _, line := range lines {
		assert.Contains(t, []string{
			fmt.Sprintf("read %d %s", 256<<10+1, strings.Repeat("A", 40)),
			fmt.Sprintf("read %d %s", 256<<10+1, strings.Repeat("B", 40)),
		}, line)
	}
}

func TestDeliverHTTPRetriesTransientFailuresOnly(t *testing.T) {
	tests := []struct {
		name     string
		answers  []int // status of each POST; the last repeats
		retries  int
		wantPOST int
		wantErr  string // "" for success
	}{
		{"retries 503 until the app answers 200", []int{503, 503, 200}, 3, 3, ""},
		{"retries 429, 502 and 504 too", []int{429, 502, 504, 204}, 3, 4, ""},
		{"gives up after the retries", []int{503}, 2, 3, `after 3 attempts: POST URL: 503 Service Unavailable: busy: reload URL answered with an error status`},
		{"never retries a 500: the app refused the config", []int{500, 200}, 3, 1, `refused by the app: POST URL: 500 Internal Server Error: busy`},
		{"does not retry without retries", []int{503, 200}, 0, 1, `POST URL: 503 Service Unavailable: busy: reload URL answered with an error status`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var posts int
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				code := tc.answers[min(posts, len(tc.answers)-1)]
				posts++
				mu.Unlock()
				if code >= 300 {
					http.Error(w, "busy", code)
					return
				}
				w.WriteHeader(code)
			}))
			defer srv.Close()
			url := srv.URL + "/-/reload"
			_, err := deliver(t, &Deliverer{Method: Method{URL: url}, Retries: tc.retries, RetryDelay: time.Millisecond}, cid)
			if tc.wantErr == "" {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, ErrHTTPStatus)
				assert.Equal(t, tc.wantErr, strings.ReplaceAll(err.Error(), url, "URL"))
				assert.Equal(t, strings.HasPrefix(tc.wantErr, "refused"), errors.Is(err, ErrRefused), "only a final error answer is the app's verdict")
			}
			assert.Equal(t, tc.wantPOST, posts)
		})
	}
}

func TestDeliverHTTPRetriesAnAppNotListeningYet(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	url := "http://" + ln.Addr().String() + "/-/reload"
	require.NoError(t, ln.Close())
	_, err = deliver(t, &Deliverer{Method: Method{URL: url}, Retries: 2, RetryDelay: time.Millisecond}, cid)
	require.ErrorIs(t, err, syscall.ECONNREFUSED)
	assert.Equal(t, "after 3 attempts: POST "+url+`: Post "`+url+`": dial tcp `+ln.Addr().String()+": connect: connection refused", err.Error())
}

// A process found in the container that is no longer in it when the signal
// goes (it exited and the kernel gave its PID to a process elsewhere) is not
// signalled: the pidfd is opened first, then the container checked.
func TestDeliverSignalsNoProcessThatLeftTheContainer(t *testing.T) {
	_, config := liveConfig(t, "a=1")
	c := startChild(t, config)
	pid := c.cmd.Process.Pid
	d := &Deliverer{Procs: fakeProc(t, "another-container", pid), Method: Method{Signal: syscall.SIGHUP}}
	err := d.signal(cid, pid)
	require.ErrorIs(t, err, ErrNoProcess)
	assert.EqualError(t, err, "it left the container: "+ErrNoProcess.Error())

	d.Procs = fakeProc(t, cid, pid)
	require.NoError(t, d.signal(cid, pid))
	assert.Equal(t, []string{"ready", "SIGHUP 3 a=1"}, c.waitLines(t, 2), "the allowed signal arrives")
}
