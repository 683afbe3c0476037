package reload

import (
	"context"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"

	"github.com/hotreload/hotreload/pkg/annotations"
)

// PodView is the reloader's view of its own pod, kept by an informer on that
// one pod (a field selector on its name, through API alone, so that the
// sidecar links no other API group): the revision released to it, and the
// state of its app containers.
type PodView struct {
	client          API
	namespace, name string

	mu  sync.Mutex
	pod *corev1.Pod
	// onReleased is told each released revision the pod carries.
	onReleased func(rev string)
	// onSeen is told each time the API server sends the pod.
	onSeen func()
}

// NewPodView returns the view of pod namespace/name; Start fills it.
func NewPodView(client API, namespace, name string) *PodView {
	return &PodView{client: client, namespace: namespace, name: name}
}

// OnReleased sets the function told the pod's released revision, at each
// update of the pod that carries one. Set it before Start, or it misses the
// updates before.
func (v *PodView) OnReleased(f func(rev string)) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.onReleased = f
}

// OnSeen sets the function told each time the API server sends the pod (an
// update, or the list after a watch broke): it answers again. Set it before
// Start.
func (v *PodView) OnSeen(f func()) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.onSeen = f
}

// Start runs the informer until ctx ends and returns once it has synced
// (false when ctx ended first). It waits for as long as the API server
// takes: the app runs on its live copy meanwhile.
func (v *PodView) Start(ctx context.Context) bool {
	selector := fields.OneTermEqualSelector("metadata.name", v.name).String()
	inf := cache.NewSharedIndexInformer(&cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = selector
			return v.client.ListPods(ctx, v.namespace, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = selector
			return v.client.WatchPods(ctx, v.namespace, o)
		},
	}, &corev1.Pod{}, 0, cache.Indexers{})
	onPod := func(obj any) {
		pod, ok := obj.(*corev1.Pod)
		if !ok {
			return
		}
		v.mu.Lock()
		v.pod = pod
		f, seen := v.onReleased, v.onSeen
		v.mu.Unlock()
		if seen != nil {
			seen()
		}
		if rel := annotations.ReleasedOf(pod.Annotations); rel != "" && f != nil {
			f(rel)
		}
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: onPod, UpdateFunc: func(_, obj any) { onPod(obj) },
	}); err != nil {
		return false // only after the informer stopped, which it has not
	}
	go inf.RunWithContext(ctx)
	return cache.WaitForCacheSync(ctx.Done(), inf.HasSynced)
}

// Pod returns the pod as last seen, nil before it was seen.
func (v *PodView) Pod() *corev1.Pod {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.pod
}

// Released returns the revision released to the pod, "" when none was.
func (v *PodView) Released() string {
	if pod := v.Pod(); pod != nil {
		return annotations.ReleasedOf(pod.Annotations)
	}
	return ""
}

// SharesProcesses reports whether the pod shares its process namespace, so
// that the sidecar sees the app's processes.
func (v *PodView) SharesProcesses() bool {
	pod := v.Pod()
	return pod != nil && pod.Spec.ShareProcessNamespace != nil && *pod.Spec.ShareProcessNamespace
}

// Running returns the ID of app container name (a container, or a native
// sidecar among the init containers), without its runtime prefix, when the
// pod status says it runs and has started.
func (v *PodView) Running(name string) (string, bool) {
	pod := v.Pod()
	if pod == nil {
		return "", false
	}
	for _, st := range slices.Concat(pod.Status.ContainerStatuses, pod.Status.InitContainerStatuses) {
		if st.Name != name || st.State.Running == nil || (st.Started != nil && !*st.Started) {
			continue
		}
		id, err := ParseContainerID(st.ContainerID)
		return id, err == nil
	}
	return "", false
}

// StoppedSince reports whether app container name, running as id before,
// has stopped or been replaced since, waiting up to lag for the pod status
// to show it.
func (v *PodView) StoppedSince(ctx context.Context, name, id string, lag time.Duration) bool {
	stopped := func(context.Context) (bool, error) {
		now, running := v.Running(name)
		return !running || now != id, nil
	}
	return wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, lag, true, stopped) == nil
}
