//go:build integration

package reload

import (
	"context"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hotreload/hotreload/internal/testenv"
	"github.com/hotreload/hotreload/pkg/annotations"
)

// TestIntegrationRunTellsEachContainerItsOwnWay runs the reloader of a pod
// whose container nginx is told by SIGHUP and whose native sidecar php-fpm
// by SIGUSR2 (hotreload/signal: nginx=SIGHUP,php-fpm=SIGUSR2), against a
// real API server: a released revision reaches each process by its own
// signal, and the report says how each was told.
func TestIntegrationRunTellsEachContainerItsOwnWay(t *testing.T) {
	env := testenv.Get(t)
	ns := env.Namespace(t, nil)
	cs := env.Clientset
	ctx := context.Background()
	l, write := newLive(t)
	revA := write(files("app.conf", "a=1"), files("tls.crt", "A"))
	config := filepath.Join(l.LiveRoot, "config", "app.conf")
	nginx, fpm := startChild(t, config), startChild(t, config)
	procs := fakeProc(t, nginxID, nginx.cmd.Process.Pid)
	addFakeProc(t, procs.Root, fpmID, fpm.cmd.Process.Pid)

	pod, err := cs.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{annotations.EnableLabel: "true"}},
		Spec: corev1.PodSpec{ShareProcessNamespace: ptrTo(true),
			InitContainers: []corev1.Container{{Name: "php-fpm", Image: "php:8-fpm", RestartPolicy: ptrTo(corev1.ContainerRestartPolicyAlways)}},
			Containers:     []corev1.Container{{Name: "nginx", Image: "nginx"}}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	running := func(name, id string) corev1.ContainerStatus {
		return corev1.ContainerStatus{Name: name, ContainerID: "containerd://" + id, Started: ptrTo(true),
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}}
	}
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{running("nginx", nginxID)}
	pod.Status.InitContainerStatuses = []corev1.ContainerStatus{running("php-fpm", fpmID)}
	_, err = cs.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
	require.NoError(t, err)

	log := &reloaderLog{}
	r := New(Options{
		Client: newAPI(t, env), Namespace: ns, PodName: "web", Live: l, Containers: []string{"nginx", "php-fpm"}, Log: log.logger(),
		Deliverer:   &Deliverer{Procs: procs, Method: Method{Signal: syscall.SIGHUP}, Grace: 50 * time.Millisecond},
		Deliverers:  map[string]*Deliverer{"php-fpm": {Procs: procs, Method: Method{Signal: syscall.SIGUSR2}, Grace: 50 * time.Millisecond}},
		WaitRelease: true, Resync: time.Second, VerifyTimeout: 20 * time.Second,
	})
	startReloader(t, r)
	waitPod(t, cs, ns, "applied "+revA, appliedIs(revA))

	revB := write(files("app.conf", "a=2"), files("tls.crt", "B"))
	release(t, cs, ns, revB)
	waitPod(t, cs, ns, "applied "+revB, appliedIs(revB))
	log.waitApplied(t, revB, "SIGHUP delivered to nginx; SIGUSR2 delivered to php-fpm")
	for _, c := range []*child{nginx, fpm} {
		require.NoError(t, c.cmd.Process.Signal(syscall.SIGUSR1))
	}
	assert.Equal(t, []string{"ready", "SIGHUP 3 a=2", "SIGUSR1 3 a=2"}, nginx.waitLines(t, 3))
	assert.Equal(t, []string{"ready", "SIGUSR2 3 a=2", "SIGUSR1 3 a=2"}, fpm.waitLines(t, 3))
}
