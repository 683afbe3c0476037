package rollout

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// writes remembers the annotations the controller wrote on pods until its
// cache shows them, so that a reconcile reading a cache that lags behind its
// own writes does not release or announce anything twice. It is a cover for
// cache lag only: after a restart the cache is fresh and the pods say it all.
type writes struct {
	mu sync.Mutex
	m  map[types.UID]written
}

type written struct {
	rv   uint64
	ann  map[string]string
	when time.Time
}

// writesTTL bounds how long a write is remembered; a cache lags by far less.
const writesTTL = time.Minute

func newWrites() *writes { return &writes{m: map[types.UID]written{}} }

// record remembers annotations written on the pod, which the API server
// stored at resourceVersion rv.
func (w *writes) record(uid types.UID, rv string, ann map[string]string, now time.Time) {
	n, err := strconv.ParseUint(rv, 10, 64)
	if err != nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	prev := w.m[uid]
	if prev.ann == nil {
		prev.ann = map[string]string{}
	}
	for k, v := range ann {
		prev.ann[k] = v
	}
	w.m[uid] = written{rv: max(n, prev.rv), ann: prev.ann, when: now}
}

// overlay returns the cached pod with the annotations written after its
// resourceVersion. The cached pod is not modified.
func (w *writes) overlay(pod *corev1.Pod, now time.Time) *corev1.Pod {
	w.mu.Lock()
	defer w.mu.Unlock()
	for uid, e := range w.m {
		if now.Sub(e.when) > writesTTL {
			delete(w.m, uid)
		}
	}
	e, ok := w.m[pod.UID]
	if !ok {
		return pod
	}
	if n, err := strconv.ParseUint(pod.ResourceVersion, 10, 64); err != nil || n >= e.rv {
		delete(w.m, pod.UID)
		return pod
	}
	out := pod.DeepCopy()
	if out.Annotations == nil {
		out.Annotations = map[string]string{}
	}
	for k, v := range e.ann {
		out.Annotations[k] = v
	}
	return out
}

// annotate merge-patches hotreload/ annotations onto the pod, on the
// condition that it is still the same pod (UID), and remembers the write.
func (r *Reconciler) annotate(ctx context.Context, pod *corev1.Pod, ann map[string]string) error {
	body, err := json.Marshal(map[string]any{"metadata": map[string]any{"uid": pod.UID, "annotations": ann}})
	if err != nil {
		return err
	}
	target := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace}}
	if err := r.Client.Patch(ctx, target, client.RawPatch(types.MergePatchType, body), client.FieldOwner(Name)); err != nil {
		return fmt.Errorf("annotating pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	r.writes.record(pod.UID, target.ResourceVersion, ann, r.Now())
	return nil
}

// annotateAll annotates pods, Patchers at a time, and returns the pods
// annotated and the first error.
func (r *Reconciler) annotateAll(ctx context.Context, pods []*corev1.Pod, ann map[string]string) ([]*corev1.Pod, error) {
	var (
		g    errgroup.Group
		mu   sync.Mutex
		done []*corev1.Pod
	)
	g.SetLimit(max(r.Patchers, 1))
	for _, p := range pods {
		g.Go(func() error {
			if err := r.annotate(ctx, p, ann); err != nil {
				return err
			}
			mu.Lock()
			done = append(done, p)
			mu.Unlock()
			return nil
		})
	}
	err := g.Wait()
	return done, err
}
