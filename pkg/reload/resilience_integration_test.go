//go:build integration

package reload

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/hotreload/hotreload/internal/kubeletdir"
	"github.com/hotreload/hotreload/internal/testenv"
	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/revision"
	"github.com/hotreload/hotreload/pkg/validate"
)

// podWithRunningApp creates pod "web" with container "app" running as
// container cid, as the kubelet would report it.
func podWithRunningApp(t testing.TB, cs kubernetes.Interface, ns string, volumes ...corev1.Volume) {
	ctx := context.Background()
	_, err := cs.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{annotations.EnableLabel: "true", "app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx"}}, Volumes: volumes},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	setAppStatus(t, cs, ns, runningApp(cid))
}

func runningApp(id string) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: "app", ContainerID: "containerd://" + id, Started: ptrTo(true),
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}}
}

func setAppStatus(t testing.TB, cs kubernetes.Interface, ns string, st corev1.ContainerStatus) {
	ctx := context.Background()
	pod, err := cs.CoreV1().Pods(ns).Get(ctx, "web", metav1.GetOptions{})
	require.NoError(t, err)
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{st}
	_, err = cs.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
	require.NoError(t, err)
}

func release(t *testing.T, cs kubernetes.Interface, ns, rev string) {
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{annotations.Released: rev}}})
	_, err := cs.CoreV1().Pods(ns).Patch(context.Background(), "web", types.MergePatchType, patch, metav1.PatchOptions{})
	require.NoError(t, err)
}

// waitPod waits until the pod satisfies ok and returns it.
func waitPod(t testing.TB, cs kubernetes.Interface, ns, what string, ok func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	var got *corev1.Pod
	require.Eventually(t, func() bool {
		p, err := cs.CoreV1().Pods(ns).Get(context.Background(), "web", metav1.GetOptions{})
		if err == nil && ok(p) {
			got = p
			return true
		}
		return false
	}, time.Minute, 20*time.Millisecond, "pod: %s", what)
	return got
}

func appliedIs(rev string) func(*corev1.Pod) bool {
	return func(p *corev1.Pod) bool { return p.Labels[annotations.Applied] == rev }
}

func startReloader(t *testing.T, r *Reloader) {
	t.Cleanup(runReloader(t, r))
}

// runReloader runs r until the returned function is called, which waits
// for Run to return and checks its error; calling it again does nothing.
func runReloader(t *testing.T, r *Reloader) func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	return func() { once.Do(func() { cancel(); require.NoError(t, <-done) }) }
}

// TestIntegrationRunReloadsAProjectedVolumeWithDownwardAPIItems: a projected
// volume of a ConfigMap and downwardAPI items reloads. The revision the
// controller computes from the API objects matches the mounted files, though
// the kubelet also writes the pod's labels there, and rewrites them when the
// reloader labels its pod; the app still sees the downwardAPI files.
func TestIntegrationRunReloadsAProjectedVolumeWithDownwardAPIItems(t *testing.T) {
	env := testenv.Get(t)
	ns := env.Namespace(t, nil)
	cs := env.Clientset
	ctx := context.Background()
	vol := corev1.Volume{Name: "settings", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
		{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "app"}}},
		{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{
			{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
			{Path: "pod/name", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}},
	}}}}
	_, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "app"},
		Data: map[string]string{"app.conf": "a=1"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	podWithRunningApp(t, cs, ns, vol)

	root := t.TempDir()
	l := &Live{SrcRoot: filepath.Join(root, "src"), LiveRoot: filepath.Join(root, "live"), Volumes: []string{"settings"}}
	// kubelet writes the volume from the current objects; controller
	// computes the revision from them.
	kubelet := func() {
		pod, err := cs.CoreV1().Pods(ns).Get(ctx, "web", metav1.GetOptions{})
		require.NoError(t, err)
		cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "app", metav1.GetOptions{})
		require.NoError(t, err)
		payload, err := kubeletdir.Payload(vol, kubeletdir.Objects{ConfigMaps: map[string]*corev1.ConfigMap{"app": cm}, Pod: pod})
		require.NoError(t, err)
		require.NoError(t, kubeletdir.Write(filepath.Join(l.SrcRoot, "settings"), payload))
	}
	controller := func() string {
		pod, err := cs.CoreV1().Pods(ns).Get(ctx, "web", metav1.GetOptions{})
		require.NoError(t, err)
		cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "app", metav1.GetOptions{})
		require.NoError(t, err)
		rev, err := revision.ForPod(pod, []string{"settings"}, func(kind revision.Kind, name string) (revision.Keys, bool) {
			return revision.ConfigMapKeys(cm), kind == revision.KindConfigMap && name == "app"
		})
		require.NoError(t, err)
		return rev
	}
	kubelet()
	revA := controller()
	app := startChild(t, filepath.Join(l.LiveRoot, "settings", "app.conf"))
	startReloader(t, New(Options{
		Client: newAPI(t, env), Namespace: ns, PodName: "web", Live: l, Containers: []string{"app"},
		Deliverer:   &Deliverer{Procs: fakeProc(t, cid, app.cmd.Process.Pid), Method: Method{Signal: syscall.SIGHUP}, Grace: 50 * time.Millisecond},
		WaitRelease: true, Resync: time.Second, VerifyTimeout: 20 * time.Second,
	}))
	waitPod(t, cs, ns, "applied the controller's revision at start-up", appliedIs(revA))

	// The reloader's own label changes the labels file: the kubelet rewrites
	// the volume. Then the ConfigMap changes and the controller releases it.
	kubelet()
	_, err = cs.CoreV1().ConfigMaps(ns).Update(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "app"},
		Data: map[string]string{"app.conf": "a=2"}}, metav1.UpdateOptions{})
	require.NoError(t, err)
	revB := controller()
	kubelet()
	release(t, cs, ns, revB)
	got := waitPod(t, cs, ns, "applied the released revision", appliedIs(revB))
	assert.NotContains(t, got.Annotations, annotations.Failed)
	assert.Equal(t, []string{"ready", "SIGHUP 3 a=2"}, app.waitLines(t, 2))

	src, err := os.ReadFile(filepath.Join(l.SrcRoot, "settings", "labels"))
	require.NoError(t, err)
	live, err := os.ReadFile(filepath.Join(l.LiveRoot, "settings", "labels"))
	require.NoError(t, err)
	assert.Equal(t, string(src), string(live), "the app sees the downwardAPI files")
	assert.Contains(t, string(live), annotations.Applied+`="`+revA+`"`)
}

// TestIntegrationRunReportsAContainerThatStopsAfterAURLReload: with a URL (or
// none) the reloader may not see the app's processes; it watches the
// container in the pod status instead, through the grace period.
func TestIntegrationRunReportsAContainerThatStopsAfterAURLReload(t *testing.T) {
	env := testenv.Get(t)
	ns := env.Namespace(t, nil)
	cs := env.Clientset
	podWithRunningApp(t, cs, ns)
	var crash atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if crash.Load() {
			// The app accepts the config, then dies; the kubelet reports it.
			setAppStatus(t, cs, ns, corev1.ContainerStatus{Name: "app", ContainerID: "containerd://" + cid, RestartCount: 0,
				State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error"}}})
		}
	}))
	defer srv.Close()

	l, write := newLive(t)
	revA := write(files("app.conf", "a=1"), files("tls.crt", "A"))
	startReloader(t, New(Options{
		Client: newAPI(t, env), Namespace: ns, PodName: "web", Live: l, Containers: []string{"app"},
		Deliverer:   &Deliverer{Method: Method{URL: srv.URL + "/-/reload"}, Grace: time.Second},
		WaitRelease: true, Resync: time.Second, VerifyTimeout: 20 * time.Second,
	}))
	waitPod(t, cs, ns, "start-up revision", appliedIs(revA))

	revB := write(files("app.conf", "a=2"), files("tls.crt", "A"))
	release(t, cs, ns, revB)
	waitPod(t, cs, ns, "a healthy app applies", appliedIs(revB))

	crash.Store(true)
	revC := write(files("app.conf", "a=3"), files("tls.crt", "A"))
	release(t, cs, ns, revC)
	got := waitPod(t, cs, ns, "failed", func(p *corev1.Pod) bool { return p.Annotations[annotations.Failed] != "" })
	rev, reason, ok := annotations.FailedOf(got.Annotations)
	require.True(t, ok)
	assert.Equal(t, revC, rev)
	reason, _, _ = strings.Cut(reason, " (at ")
	assert.Equal(t, "container app after POST "+srv.URL+"/-/reload: "+ErrContainerStopped.Error(), reason)
	assert.Equal(t, revB, got.Labels[annotations.Applied])
}

// TestIntegrationRunReportsAgainWhenTheAPIServerFailedAReport: the API server
// answers 503 to the reloader's patches for a while; the reload goes on, and
// the outcome reaches the pod once the API server is back.
func TestIntegrationRunReportsAgainWhenTheAPIServerFailedAReport(t *testing.T) {
	env := testenv.Get(t)
	ns := env.Namespace(t, nil)
	podWithRunningApp(t, env.Clientset, ns)
	var failing atomic.Bool
	var refused atomic.Int32
	cfg := rest.CopyConfig(env.Config)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(req *http.Request) (*http.Response, error) {
			if failing.Load() && req.Method == http.MethodPatch {
				refused.Add(1)
				body := `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"unavailable","reason":"ServiceUnavailable","code":503}`
				return &http.Response{StatusCode: http.StatusServiceUnavailable, Status: "503 Service Unavailable",
					Header: http.Header{"Content-Type": []string{"application/json"}}, Body: io.NopCloser(strings.NewReader(body)), Request: req}, nil
			}
			return rt.RoundTrip(req)
		})
	}
	api, err := NewAPI(cfg)
	require.NoError(t, err)

	l, write := newLive(t)
	revA := write(files("app.conf", "a=1"), files("tls.crt", "A"))
	app := startChild(t, filepath.Join(l.LiveRoot, "config", "app.conf"))
	startReloader(t, New(Options{
		Client: api, Namespace: ns, PodName: "web", Live: l, Containers: []string{"app"},
		Deliverer:   &Deliverer{Procs: fakeProc(t, cid, app.cmd.Process.Pid), Method: Method{Signal: syscall.SIGHUP}, Grace: 50 * time.Millisecond},
		WaitRelease: true, Resync: 200 * time.Millisecond, VerifyTimeout: 20 * time.Second,
	}))
	waitPod(t, env.Clientset, ns, "start-up revision", appliedIs(revA))

	failing.Store(true)
	revB := write(files("app.conf", "a=2"), files("tls.crt", "A"))
	release(t, env.Clientset, ns, revB)
	assert.Equal(t, []string{"ready", "SIGHUP 3 a=2"}, app.waitLines(t, 2), "the app reloads whatever the API server says")
	require.Eventually(t, func() bool { return refused.Load() >= 5 }, time.Minute, 10*time.Millisecond,
		"the report is retried, then sent again at a resync")
	failing.Store(false)
	got := waitPod(t, env.Clientset, ns, "reported once the API server is back", appliedIs(revB))
	assert.NotContains(t, got.Annotations, annotations.Failed)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestIntegrationRunTakesAContainerWithoutAProcessForStopped: the pod status
// still says the app runs, but its process is gone (it crashed on the previous
// revision; the kubelet reports the stop within a second or so). The release
// is applied to the live copy, which the app reads when it starts again: that
// is no failure of the revision.
func TestIntegrationRunTakesAContainerWithoutAProcessForStopped(t *testing.T) {
	env := testenv.Get(t)
	ns := env.Namespace(t, nil)
	cs := env.Clientset
	createRunningWeb(t, cs, ns)

	l, write, log := startWithoutAppProcess(t, env, ns)

	revB := write(files("app.conf", "a=2"), files("tls.crt", "A"))
	release(t, cs, ns, revB)
	got := waitPod(t, cs, ns, "applied", appliedIs(revB))
	assert.NotContains(t, got.Annotations, annotations.Failed)
	live, err := l.LiveRevision()
	require.NoError(t, err)
	assert.Equal(t, revB, live)
	log.waitApplied(t, revB, "no running container to tell")
}

// TestIntegrationRunDatesAnApplyAfterAStopInTheSameSecond: the app crashed on
// the previous revision and waits for the kubelet to start it again. A release
// made in the second of the crash is reported with a later hotreload/applied-at
// second, so that the controller, which compares it with the whole seconds of
// the container's finishedAt, does not take that crash for the new revision's.
func TestIntegrationRunDatesAnApplyAfterAStopInTheSameSecond(t *testing.T) {
	env := testenv.Get(t)
	ns := env.Namespace(t, nil)
	cs := env.Clientset
	podWithRunningApp(t, cs, ns)
	_, write, _ := startWithoutAppProcess(t, env, ns)

	revB := write(files("app.conf", "a=2"), files("tls.crt", "A"))
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second))) // the start of a second
	crashed := metav1.Now()
	setAppStatus(t, cs, ns, corev1.ContainerStatus{Name: "app", RestartCount: 1,
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: 1, Reason: "Error", ContainerID: "containerd://" + cid, FinishedAt: crashed}}})
	release(t, cs, ns, revB)
	got := waitPod(t, cs, ns, "applied", appliedIs(revB))
	at, ok := annotations.AppliedAtOf(got.Annotations)
	require.True(t, ok, "%s: %q", annotations.AppliedAt, got.Annotations[annotations.AppliedAt])
	finished := got.Status.ContainerStatuses[0].LastTerminationState.Terminated.FinishedAt.Time
	assert.True(t, at.After(finished), "applied at %s, the app stopped at %s", at, finished)
}

// startWithoutAppProcess starts a reloader for pod web that signals app
// processes but sees none, and waits for its start-up report. It returns its
// Live and the function that writes the sources as the kubelet does.
func startWithoutAppProcess(t *testing.T, env *testenv.Env, ns string) (*Live, func(a, b map[string]kubeletdir.File) string, *reloaderLog) {
	t.Helper()
	l, write := newLive(t)
	revA := write(files("app.conf", "a=1"), files("tls.crt", "A"))
	log := &reloaderLog{}
	startReloader(t, New(Options{
		Client: newAPI(t, env), Namespace: ns, PodName: "web", Live: l, Containers: []string{"app"}, Log: log.logger(),
		Deliverer:   &Deliverer{Procs: fakeProc(t, cid), Method: Method{Signal: syscall.SIGHUP}, Grace: 50 * time.Millisecond},
		WaitRelease: true, Resync: time.Hour, VerifyTimeout: 20 * time.Second,
	}))
	waitPod(t, env.Clientset, ns, "start-up revision", appliedIs(revA))
	return l, write, log
}

// reloaderLog records a reloader's log, for a test to wait on a line.
type reloaderLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *reloaderLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, strings.TrimSpace(string(p)))
	return len(p), nil
}

func (l *reloaderLog) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

// waitApplied waits for the reloader's line saying it applied rev, with
// message.
func (l *reloaderLog) waitApplied(t *testing.T, rev, message string) {
	t.Helper()
	l.wait(t, fmt.Sprintf("msg=%q revision=%s message=%q", "config applied", rev, message))
}

// wait waits for a log line that contains want.
func (l *reloaderLog) wait(t *testing.T, want string) {
	t.Helper()
	require.Eventually(t, func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return slices.ContainsFunc(l.lines, func(line string) bool { return strings.Contains(line, want) })
	}, time.Minute, 20*time.Millisecond, "log line %q", want)
}

// podEvents returns the Events on pod web, as "reason: message".
func podEvents(t *testing.T, cs kubernetes.Interface, ns string) []string {
	t.Helper()
	events, err := cs.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
	require.NoError(t, err)
	var got []string
	for _, e := range events.Items {
		if e.InvolvedObject.Name == "web" {
			got = append(got, e.Reason+": "+e.Message)
		}
	}
	return got
}

// waitEvent waits for an Event "reason: message" on pod web. The reloader
// records it after it reports a failure on the pod.
func waitEvent(t *testing.T, cs kubernetes.Interface, ns, want string) {
	t.Helper()
	var got []string
	require.Eventually(t, func() bool {
		got = podEvents(t, cs, ns)
		return slices.Contains(got, want)
	}, time.Minute, 20*time.Millisecond, "Event %q; the pod has %q", want, got)
}

// TestIntegrationRunTakesAnAppThatStoppedBeforeItWasToldForStopped: the app's
// reload URL refuses connections because the app has just crashed (on the
// previous revision); the kubelet reports the stop while the reloader tries
// again. The app never got the new config: the revision is applied to the
// live copy, which the app reads when it starts, and is no failure.
func TestIntegrationRunTakesAnAppThatStoppedBeforeItWasToldForStopped(t *testing.T) {
	env := testenv.Get(t)
	ns := env.Namespace(t, nil)
	cs := env.Clientset
	podWithRunningApp(t, cs, ns)
	// The app's listener is going away: it accepts a connection and closes
	// it at once, which the reloader takes for an app that may come back.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	tried := make(chan struct{}, 1)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conn.Close()
			select {
			case tried <- struct{}{}:
			default:
			}
		}
	}()
	url := "http://" + ln.Addr().String() + "/-/reload"

	l, write := newLive(t)
	revA := write(files("app.conf", "a=1"), files("tls.crt", "A"))
	log := &reloaderLog{}
	startReloader(t, New(Options{
		Client: newAPI(t, env), Namespace: ns, PodName: "web", Live: l, Containers: []string{"app"}, Log: log.logger(),
		Deliverer:   &Deliverer{Method: Method{URL: url}, Grace: 50 * time.Millisecond, Retries: 2, RetryDelay: 200 * time.Millisecond},
		WaitRelease: true, Resync: time.Hour, VerifyTimeout: 20 * time.Second,
	}))
	waitPod(t, cs, ns, "start-up revision", appliedIs(revA))

	revB := write(files("app.conf", "a=2"), files("tls.crt", "A"))
	release(t, cs, ns, revB)
	select {
	case <-tried: // the reloader is trying the URL
	case <-time.After(time.Minute):
		t.Fatal("the reloader never tried the URL")
	}
	setAppStatus(t, cs, ns, corev1.ContainerStatus{Name: "app", RestartCount: 1,
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: 1, Reason: "Error", ContainerID: "containerd://" + cid, FinishedAt: metav1.Now()}}})
	got := waitPod(t, cs, ns, "applied", appliedIs(revB))
	assert.NotContains(t, got.Annotations, annotations.Failed)
	log.waitApplied(t, revB, "no running container to tell")
}

// TestIntegrationRunSwapsBackARevisionTheAppDiesOn: the app exits on the
// reload of a config it cannot run. Before it reports the failure, the
// reloader puts the previous live copy back, so the app that the kubelet
// starts again reads the config it ran, and hotreload/applied still names it.
func TestIntegrationRunSwapsBackARevisionTheAppDiesOn(t *testing.T) {
	env := testenv.Get(t)
	ns := env.Namespace(t, nil)
	cs := env.Clientset
	l, write, revA, config := liveWeb(t, cs, ns)
	app := startChild(t, config, "CHILD_EXIT_ON_SIGNAL=1")
	startReloader(t, New(Options{
		Client: newAPI(t, env), Namespace: ns, PodName: "web", Live: l, Containers: []string{"app"},
		Deliverer:   &Deliverer{Procs: fakeProc(t, cid, app.cmd.Process.Pid), Method: Method{Signal: syscall.SIGHUP}, Grace: 50 * time.Millisecond},
		WaitRelease: true, Resync: time.Hour, VerifyTimeout: 20 * time.Second,
	}))
	waitPod(t, cs, ns, "start-up revision", appliedIs(revA))

	revB := write(files("app.conf", "a=2 and broken"), files("tls.crt", "A"))
	release(t, cs, ns, revB)
	requireSwappedBack(t, cs, ns, l, config, revB, fmt.Sprintf("process died after SIGHUP: pid %d (container app)", app.cmd.Process.Pid), revA, "a=1")
	assert.Equal(t, []string{"ready", "SIGHUP 14 a=2 and broken"}, app.lines(), "the app was told once")
	assert.Equal(t, []string{"..data -> current", "app.conf -> ..data/app.conf", "current/"},
		liveLayout(t, filepath.Join(l.LiveRoot, "config")), "the rejected copy is gone")
}

// TestIntegrationRunSwapsBackARevisionTheAppRefuses: a master that keeps
// its workers on a config it refuses, as nginx does, survives the reload. With
// hotreload/confirm: workers the revision is refused all the same: the
// previous live copy is back before the failure is reported, and the cause
// says the app refused it.
func TestIntegrationRunSwapsBackARevisionTheAppRefuses(t *testing.T) {
	env := testenv.Get(t)
	ns := env.Namespace(t, nil)
	cs := env.Clientset
	l, write, revA, config := liveWeb(t, cs, ns)
	app := startChild(t, config, "CHILD_WORKERS=1")
	startReloader(t, New(Options{
		Client: newAPI(t, env), Namespace: ns, PodName: "web", Live: l, Containers: []string{"app"},
		Deliverer: &Deliverer{Procs: fakeProc(t, cid, app.cmd.Process.Pid), Method: Method{Signal: syscall.SIGHUP}, Grace: 50 * time.Millisecond,
			Confirm: annotations.Confirmation{Mode: annotations.ConfirmWorkers}, ConfirmTimeout: time.Second},
		WaitRelease: true, Resync: time.Hour, VerifyTimeout: 20 * time.Second,
	}))
	waitPod(t, cs, ns, "start-up revision", appliedIs(revA))

	revB := write(files("app.conf", "a=2"), files("tls.crt", "A"))
	release(t, cs, ns, revB)
	waitPod(t, cs, ns, "a new worker confirms", appliedIs(revB))

	revC := write(files("app.conf", "a=3 broken"), files("tls.crt", "A"))
	release(t, cs, ns, revC)
	requireSwappedBack(t, cs, ns, l, config, revC,
		fmt.Sprintf("refused by the app: no new worker of pid %d within 1s after SIGHUP: it kept its old config (container app)", app.cmd.Process.Pid), revB, "a=2")
	assert.Len(t, workersOf(app), 2, "one worker at start, one for the accepted config, none for the refused one")
}

// TestIntegrationRunSwapsNothingTheAppsCheckRefuses: with a validator, the
// app's own check runs on the staged copy, at the app's own path, before the
// swap. A revision it accepts is applied as before; one it refuses is never
// live, the app is never told of it, and the cause is the check's own words.
// A validator that is gone is a fault, named so, and the sidecar goes on.
func TestIntegrationRunSwapsNothingTheAppsCheckRefuses(t *testing.T) {
	env := testenv.Get(t)
	ns := env.Namespace(t, nil)
	cs := env.Clientset
	l, write, revA, config := liveWeb(t, cs, ns)
	app := startChild(t, config)
	// The validator sees the live copies at CandidateRoot, here where they are.
	dir := t.TempDir()
	v := &Validators{StagedRoot: filepath.Join(dir, "staged"), CandidateRoot: l.LiveRoot,
		Sockets: []ContainerSocket{{Container: "app", Socket: filepath.Join(dir, "app.sock")}}}
	appPath := filepath.Join(v.StagedRoot, "config", "app.conf") // where the app's image reads it
	check := []string{"/bin/sh", "-c", `if grep -q broken "$0"; then echo "app: [emerg] broken value in $0"; exit 1; fi`, appPath}
	ln, err := validate.Listen(v.Sockets[0].Socket)
	require.NoError(t, err)
	checkCtx, stopCheck := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- (&validate.Checker{Command: check}).Serve(checkCtx, ln) }()
	startReloader(t, New(Options{
		Client: newAPI(t, env), Namespace: ns, PodName: "web", Live: l, Containers: []string{"app"},
		Deliverer:   &Deliverer{Procs: fakeProc(t, cid, app.cmd.Process.Pid), Method: Method{Signal: syscall.SIGHUP}, Grace: 50 * time.Millisecond},
		Validators:  v,
		WaitRelease: true, Resync: time.Hour, VerifyTimeout: 20 * time.Second,
	}))
	waitPod(t, cs, ns, "start-up revision", appliedIs(revA))

	revB := write(files("app.conf", "a=2"), files("tls.crt", "A"))
	release(t, cs, ns, revB)
	waitPod(t, cs, ns, "the check accepts B", appliedIs(revB))

	revC := write(files("app.conf", "a=3 broken"), files("tls.crt", "A"))
	release(t, cs, ns, revC)
	requireSwappedBack(t, cs, ns, l, config, revC,
		fmt.Sprintf("refused by the app: %s: exit status 1: app: [emerg] broken value in %s (container app)", strings.Join(check, " "), appPath), revB, "a=2")
	assert.Equal(t, []string{"ready", "SIGHUP 3 a=2"}, app.lines(), "the app was told of B only")
	assert.Equal(t, []string{"..data -> current", "app.conf -> ..data/app.conf", "current/"},
		liveLayout(t, filepath.Join(l.LiveRoot, "config")), "the refused copy is gone")

	stopCheck()
	require.NoError(t, <-served)
	revD := write(files("app.conf", "a=4"), files("tls.crt", "A"))
	release(t, cs, ns, revD)
	got := waitPod(t, cs, ns, "D failed", func(p *corev1.Pod) bool {
		rev, _, ok := annotations.FailedOf(p.Annotations)
		return ok && rev == revD
	})
	_, reason, _ := annotations.FailedOf(got.Annotations)
	assert.True(t, strings.HasPrefix(reason, "container app: validator unavailable: dial unix "+v.Sockets[0].Socket), reason)
	assert.Equal(t, revB, got.Labels[annotations.Applied], "nothing was swapped")
	assert.Equal(t, []string{"ready", "SIGHUP 3 a=2"}, app.lines())
}

// requireSwappedBack waits until the pod reports revision failed for
// reason (its Event too), and checks that the previous revision is live
// again, named by hotreload/applied, with the config file as it was.
func requireSwappedBack(t *testing.T, cs kubernetes.Interface, ns string, l *Live, config, failed, reason, previous, content string) {
	t.Helper()
	got := waitPod(t, cs, ns, "failed", func(p *corev1.Pod) bool { return p.Annotations[annotations.Failed] != "" })
	rev, gotReason, ok := annotations.FailedOf(got.Annotations)
	require.True(t, ok)
	assert.Equal(t, failed, rev)
	gotReason, _, _ = strings.Cut(gotReason, " (at ")
	assert.Equal(t, reason, gotReason)
	waitEvent(t, cs, ns, ReasonReloadFailed+": config revision "+failed+": "+reason)
	assert.Equal(t, previous, got.Labels[annotations.Applied], "hotreload/applied names what is live")
	live, err := l.LiveRevision()
	require.NoError(t, err)
	assert.Equal(t, previous, live, "the previous live copy is back")
	b, err := os.ReadFile(config)
	require.NoError(t, err)
	assert.Equal(t, content, string(b), "an app that starts again reads the config it ran")
}

// TestIntegrationARestartedReloaderLeavesAFailedReleaseAlone: the app dies
// on the reload of a released revision for a fault outside the config; the
// reloader swaps the previous copy back and reports the failure. Then the
// reloader restarts too, and the app the kubelet started again has lost its
// fault: it would now take that revision. The restarted reloader does not
// apply it: that success would clear hotreload/failed and date the apply
// after the app's restart, so the controller would not halt the release.
// It applies the revision once it is released again (a retry).
func TestIntegrationARestartedReloaderLeavesAFailedReleaseAlone(t *testing.T) {
	env := testenv.Get(t)
	ns := env.Namespace(t, nil)
	cs := env.Clientset
	l, write, revA, config := liveWeb(t, cs, ns)
	options := func(id string, pid int, log *slog.Logger) Options {
		return Options{Client: newAPI(t, env), Namespace: ns, PodName: "web", Live: l, Containers: []string{"app"}, Log: log,
			Deliverer:   &Deliverer{Procs: fakeProc(t, id, pid), Method: Method{Signal: syscall.SIGHUP}, Grace: 50 * time.Millisecond},
			WaitRelease: true, Resync: time.Hour, VerifyTimeout: 20 * time.Second}
	}
	faulty := startChild(t, config, "CHILD_EXIT_ON_SIGNAL=1")
	stop := runReloader(t, New(options(cid, faulty.cmd.Process.Pid, nil)))
	waitPod(t, cs, ns, "start-up revision", appliedIs(revA))
	revB := write(files("app.conf", "a=2"), files("tls.crt", "A"))
	release(t, cs, ns, revB)
	failed := waitPod(t, cs, ns, "failed", func(p *corev1.Pod) bool { return p.Annotations[annotations.Failed] != "" })
	stop()

	// The kubelet starts both again: the app as a new container.
	const restarted = "9e0f8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e"
	app := startChild(t, config)
	setAppStatus(t, cs, ns, runningApp(restarted))
	log := &reloaderLog{}
	startReloader(t, New(options(restarted, app.cmd.Process.Pid, log.logger())))
	log.wait(t, fmt.Sprintf("msg=%q revision=%s", "the released revision failed on this pod: it is applied again only once released again", revB))
	got, err := cs.CoreV1().Pods(ns).Get(context.Background(), "web", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, failed.Annotations[annotations.Failed], got.Annotations[annotations.Failed], "the failure stands")
	assert.Equal(t, revA, got.Labels[annotations.Applied])

	// A retry: the controller rolls the pod back to A, then releases B again
	// and clears the failure.
	release(t, cs, ns, revA)
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]any{annotations.Released: revB, annotations.Failed: nil}}})
	_, err = cs.CoreV1().Pods(ns).Patch(context.Background(), "web", types.MergePatchType, patch, metav1.PatchOptions{})
	require.NoError(t, err)
	waitPod(t, cs, ns, "retried revision applied", appliedIs(revB))
	assert.Equal(t, []string{"ready", "SIGHUP 3 a=2"}, app.lines(), "the restarted app was told once, on the retry")
	assert.Equal(t, []string{"ready", "SIGHUP 3 a=2"}, faulty.lines())
}

// liveWeb creates the pod "web" (createRunningWeb) and a Live whose
// sources are at revision A, app.conf "a=1". It returns the Live, the
// writer of its sources, revision A and the app's config file.
func liveWeb(t *testing.T, cs kubernetes.Interface, ns string) (*Live, func(a, b map[string]kubeletdir.File) string, string, string) {
	t.Helper()
	createRunningWeb(t, cs, ns)
	l, write := newLive(t)
	revA := write(files("app.conf", "a=1"), files("tls.crt", "A"))
	return l, write, revA, filepath.Join(l.LiveRoot, "config", "app.conf")
}

// createRunningWeb creates the pod "web" of an opted-in app, its container
// "app" running as container cid.
func createRunningWeb(t *testing.T, cs kubernetes.Interface, ns string) {
	t.Helper()
	_, err := cs.CoreV1().Pods(ns).Create(context.Background(), &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{annotations.EnableLabel: "true"}},
		Spec: corev1.PodSpec{ShareProcessNamespace: ptrTo(true),
			Containers: []corev1.Container{{Name: "app", Image: "nginx"}}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	setAppStatus(t, cs, ns, runningApp(cid))
}
