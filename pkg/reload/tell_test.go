package reload

import (
	"context"
	"log/slog"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/hotreload/hotreload/pkg/annotations"
)

// Container IDs of a pod of two app containers.
const (
	nginxID = "1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a"
	fpmID   = "2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b"
)

// podOfTwo is the view of a pod sharing its process namespace whose
// container nginx runs as nginxID, and whose native sidecar (an init
// container with restartPolicy Always) second runs as fpmID.
func podOfTwo(second string) *PodView {
	running := func(name, id string) corev1.ContainerStatus {
		return corev1.ContainerStatus{Name: name, ContainerID: "containerd://" + id, Started: ptr.To(true),
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}}
	}
	return &PodView{pod: &corev1.Pod{
		Spec: corev1.PodSpec{ShareProcessNamespace: ptr.To(true),
			InitContainers: []corev1.Container{{Name: second, RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways)}},
			Containers:     []corev1.Container{{Name: "nginx"}}},
		Status: corev1.PodStatus{
			ContainerStatuses:     []corev1.ContainerStatus{running("nginx", nginxID)},
			InitContainerStatuses: []corev1.ContainerStatus{running(second, fpmID)},
		},
	}}
}

// tellAll tells the running containers of a, confirms, and returns how it
// reports them told.
func tellAll(t *testing.T, a *applier, wantRunning map[string]string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	running := a.running(a.log)
	require.Equal(t, wantRunning, running)
	at := time.Now()
	told, err := a.tell(ctx, a.log, running)
	require.NoError(t, err)
	require.NoError(t, a.confirm(ctx, running, at))
	return a.toldMessage(told)
}

// TestTellGivesEachContainerItsOwnSignal: nginx=SIGHUP,php-fpm=SIGUSR2, two
// real processes in two containers of one pod, php-fpm a native sidecar:
// each gets its own signal and no other.
func TestTellGivesEachContainerItsOwnSignal(t *testing.T) {
	_, config := liveConfig(t, "a=1")
	nginx, fpm := startChild(t, config), startChild(t, config)
	procs := fakeProc(t, nginxID, nginx.cmd.Process.Pid)
	addFakeProc(t, procs.Root, fpmID, fpm.cmd.Process.Pid)
	a := &applier{view: podOfTwo("php-fpm"), containers: []string{"nginx", "php-fpm"}, log: slog.New(slog.DiscardHandler),
		deliverer:  &Deliverer{Procs: procs, Method: Method{Signal: syscall.SIGHUP}, Grace: 50 * time.Millisecond},
		deliverers: map[string]*Deliverer{"php-fpm": {Procs: procs, Method: Method{Signal: syscall.SIGUSR2}, Grace: 50 * time.Millisecond}},
	}
	assert.Equal(t, "SIGHUP delivered to nginx; SIGUSR2 delivered to php-fpm", tellAll(t, a, map[string]string{"nginx": nginxID, "php-fpm": fpmID}))

	// A signal of the test's own after the delivery: each process got its
	// own signal, and nothing else before it.
	for _, c := range []*child{nginx, fpm} {
		require.NoError(t, c.cmd.Process.Signal(syscall.SIGUSR1))
	}
	assert.Equal(t, []string{"ready", "SIGHUP 3 a=1", "SIGUSR1 3 a=1"}, nginx.waitLines(t, 3))
	assert.Equal(t, []string{"ready", "SIGUSR2 3 a=1", "SIGUSR1 3 a=1"}, fpm.waitLines(t, 3))
}

// TestTellPostsTheURLOfOneContainerAndSignalsTheOther: prometheus=URL beside
// nginx told by SIGHUP and confirmed by its workers.
func TestTellPostsTheURLOfOneContainerAndSignalsTheOther(t *testing.T) {
	_, config := liveConfig(t, "a=1")
	nginx := startChild(t, config, "CHILD_WORKERS=1")
	prom := startChild(t, config, "CHILD_HTTP="+filepath.Join(t.TempDir(), "addr"))
	procs := fakeProc(t, nginxID, nginx.cmd.Process.Pid)
	addFakeProc(t, procs.Root, fpmID, prom.cmd.Process.Pid)
	url := "http://" + prom.addr + "/-/reload"
	a := &applier{view: podOfTwo("prometheus"), containers: []string{"nginx", "prometheus"}, log: slog.New(slog.DiscardHandler),
		deliverer: &Deliverer{Procs: procs, Method: Method{Signal: syscall.SIGHUP}, Grace: 50 * time.Millisecond,
			Confirm: annotations.Confirmation{Mode: annotations.ConfirmWorkers}},
		deliverers: map[string]*Deliverer{"prometheus": {Procs: procs, Method: Method{URL: url}, Grace: 50 * time.Millisecond}},
	}
	assert.Equal(t, "SIGHUP delivered to nginx, confirmed by workers; POST "+url+" delivered to prometheus",
		tellAll(t, a, map[string]string{"nginx": nginxID, "prometheus": fpmID}))

	require.NoError(t, prom.cmd.Process.Signal(syscall.SIGUSR1))
	assert.Equal(t, []string{"ready", "POST 3 a=1", "SIGUSR1 3 a=1"}, prom.waitLines(t, 3), "the POST, and no signal")
	lines := nginx.waitLines(t, 4)
	for i, l := range lines {
		lines[i] = regexp.MustCompile(`^worker \d+$`).ReplaceAllString(l, "worker PID")
	}
	assert.Equal(t, []string{"worker PID", "ready", "SIGHUP 3 a=1", "worker PID"}, lines, "the signal and its new worker, and no POST")
}
