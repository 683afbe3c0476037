//go:build integration

package reload

import (
	"context"
	"encoding/json"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/hotreload/hotreload/internal/testenv"
	"github.com/hotreload/hotreload/pkg/annotations"
)

// TestIntegrationRunAppliesAReleasedRevision runs the reloader in-process
// against a real API server: the test plays the kubelet (writes the source
// directory and the container status) and the controller (sets
// hotreload/released); the pod ends labelled with the revision, with an Event,
// and the app got one signal with the new config.
func TestIntegrationRunAppliesAReleasedRevision(t *testing.T) {
	env := testenv.Get(t)
	ns := env.Namespace(t, map[string]string{annotations.InjectionLabel: annotations.InjectionEnabled})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cs := env.Clientset

	l, write := newLive(t)
	revA := write(files("app.conf", "a=1"), files("tls.crt", "A"))
	require.NoError(t, func() error {
		s, err := l.Stage(ctx, "")
		if err != nil {
			return err
		}
		return s.Swap()
	}())
	app := startChild(t, filepath.Join(l.LiveRoot, "config", "app.conf"))

	pod, err := cs.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{annotations.EnableLabel: "true"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx"}}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", ContainerID: "containerd://" + cid, Started: ptrTo(true),
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}}}
	_, err = cs.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
	require.NoError(t, err)

	log := &reloaderLog{}
	r := New(Options{
		Client: newAPI(t, env), Namespace: ns, PodName: "web", Live: l, Containers: []string{"app"}, Log: log.logger(),
		Deliverer:   &Deliverer{Procs: fakeProc(t, cid, app.cmd.Process.Pid), Method: Method{Signal: syscall.SIGHUP}, Grace: 50 * time.Millisecond},
		WaitRelease: true, Resync: time.Second, VerifyTimeout: 3 * time.Second,
	})
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(rctx) }()
	t.Cleanup(func() { stop(); <-done })

	waitLabel := func(want string) *corev1.Pod {
		var got *corev1.Pod
		require.Eventually(t, func() bool {
			got, err = cs.CoreV1().Pods(ns).Get(ctx, "web", metav1.GetOptions{})
			return err == nil && got.Labels[annotations.Applied] == want
		}, time.Minute, 50*time.Millisecond, "pod labelled %s=%s", annotations.Applied, want)
		return got
	}
	waitLabel(revA)
	assert.True(t, r.Ready())

	// The kubelet writes B; the reloader waits for the release.
	revB := write(files("app.conf", "a=2"), files("tls.crt", "B"))
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{annotations.Released: revB}}})
	_, err = cs.CoreV1().Pods(ns).Patch(ctx, "web", types.MergePatchType, patch, metav1.PatchOptions{})
	require.NoError(t, err)

	got := waitLabel(revB)
	_, err = time.Parse(time.RFC3339, got.Annotations[annotations.AppliedAt])
	require.NoError(t, err)
	assert.NotContains(t, got.Annotations, annotations.Failed)
	assert.Equal(t, []string{"ready", "SIGHUP 3 a=2"}, app.waitLines(t, 2))

	log.waitApplied(t, revB, "SIGHUP delivered to app")
	assert.Empty(t, podEvents(t, cs, ns), "an applied revision records no Event")

	// A released revision the kubelet never mounts fails, reported on the pod.
	patch, _ = json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{annotations.Released: "0123456789ab"}}})
	_, err = cs.CoreV1().Pods(ns).Patch(ctx, "web", types.MergePatchType, patch, metav1.PatchOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		got, err = cs.CoreV1().Pods(ns).Get(ctx, "web", metav1.GetOptions{})
		return err == nil && got.Annotations[annotations.Failed] != ""
	}, time.Minute, 50*time.Millisecond)
	rev, reason, ok := annotations.FailedOf(got.Annotations)
	require.True(t, ok)
	assert.Equal(t, "0123456789ab", rev)
	assert.Contains(t, reason, ErrVerifyTimeout.Error())
	assert.Equal(t, revB, got.Labels[annotations.Applied], "the applied revision stays")
}

func ptrTo[T any](v T) *T { return &v }

// newAPI is the reloader's API client for the test's control plane.
func newAPI(t *testing.T, env *testenv.Env) API {
	t.Helper()
	api, err := NewAPI(env.Config)
	require.NoError(t, err)
	return api
}

// slowPodList is the reloader's API client for the test's control plane,
// whose first list of the pod waits until open is closed: the API server (or
// the token exchange in front of it) is slow while the pod starts.
type slowPodList struct {
	API
	open chan struct{}
}

func (s slowPodList) ListPods(ctx context.Context, namespace string, opts metav1.ListOptions) (*corev1.PodList, error) {
	select {
	case <-s.open:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.API.ListPods(ctx, namespace, opts)
}

// TestIntegrationRunAppliesWhatWasMountedWhileItWaitedForItsPod: at rollout
// 100%, a revision the kubelet mounted after the live copy was made, while
// the reloader still waited for its pod from the API server, is applied as
// soon as the pod arrives, not at the next periodic re-hash (an hour here).
// The app may be Ready by then: it starts once the live copy exists.
func TestIntegrationRunAppliesWhatWasMountedWhileItWaitedForItsPod(t *testing.T) {
	env := testenv.Get(t)
	ns := env.Namespace(t, nil)
	cs := env.Clientset
	l, write := newLive(t)
	revA := write(files("app.conf", "a=1"), files("tls.crt", "A"))
	podWithRunningApp(t, cs, ns)
	app := startChild(t, filepath.Join(l.LiveRoot, "config", "app.conf"))
	api := slowPodList{API: newAPI(t, env), open: make(chan struct{})}
	r := New(Options{
		Client: api, Namespace: ns, PodName: "web", Live: l, Containers: []string{"app"},
		Deliverer: &Deliverer{Procs: fakeProc(t, cid, app.cmd.Process.Pid), Method: Method{Signal: syscall.SIGHUP}, Grace: 50 * time.Millisecond},
		Resync:    time.Hour, VerifyTimeout: 20 * time.Second,
	})
	startReloader(t, r)
	require.Eventually(t, r.Ready, 30*time.Second, 10*time.Millisecond)
	live, err := l.LiveRevision()
	require.NoError(t, err)
	require.Equal(t, revA, live)

	revB := write(files("app.conf", "a=2"), files("tls.crt", "B"))
	close(api.open)

	waitPod(t, cs, ns, "applied "+revB, appliedIs(revB))
	live, err = l.LiveRevision()
	require.NoError(t, err)
	assert.Equal(t, revB, live)
	assert.Equal(t, []string{"ready", "SIGHUP 3 a=2"}, app.waitLines(t, 2))
}
