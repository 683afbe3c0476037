package rollout

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// writes remembers the annotations the controller wrote on pods until its
// cache shows them, so that a reconcile reading a cache that lags behind its
// own writes does not release or announce anything twice. It is a cover for
// cache lag only: after a restart the cache is fresh and the pods say it all.
//
// It also serialises the reconciles of different sources on one pod: each
// computes the pod's release from the other sources' state, so two of them
// must not read, compute and write it at once (lock).
type writes struct {
	mu    sync.Mutex
	m     map[types.UID]written
	locks map[types.UID]*podLock
	// sweep is when expired entries are next removed.
	sweep time.Time
}

type written struct {
	rv   uint64
	ann  map[string]*string // nil value: removed
	when time.Time
}

type podLock struct {
	sync.Mutex
	users int
}

// writesTTL bounds how long a write is remembered; a cache lags by far less.
const writesTTL = time.Minute

func newWrites() *writes {
	return &writes{m: map[types.UID]written{}, locks: map[types.UID]*podLock{}}
}

// lock serialises the computation and write of one pod's release; the
// returned function unlocks.
func (w *writes) lock(uid types.UID) func() {
	w.mu.Lock()
	l := w.locks[uid]
	if l == nil {
		l = &podLock{}
		w.locks[uid] = l
	}
	l.users++
	w.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		w.mu.Lock()
		if l.users--; l.users == 0 {
			delete(w.locks, uid)
		}
		w.mu.Unlock()
	}
}

// record remembers annotations written on the pod (a nil value removed the
// key), which the API server stored at resourceVersion rv.
func (w *writes) record(uid types.UID, rv string, ann map[string]*string, now time.Time) {
	n, err := strconv.ParseUint(rv, 10, 64)
	if err != nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	prev := w.m[uid]
	if prev.ann == nil {
		prev.ann = map[string]*string{}
	}
	for k, v := range ann {
		prev.ann[k] = v
	}
	w.m[uid] = written{rv: max(n, prev.rv), ann: prev.ann, when: now}
	if now.After(w.sweep) {
		for id, e := range w.m {
			if now.Sub(e.when) > writesTTL {
				delete(w.m, id)
			}
		}
		w.sweep = now.Add(writesTTL)
	}
}

// overlay returns the cached pod with the annotations written after its
// resourceVersion. The cached pod is not modified.
func (w *writes) overlay(pod *corev1.Pod, now time.Time) *corev1.Pod {
	w.mu.Lock()
	defer w.mu.Unlock()
	e, ok := w.m[pod.UID]
	if !ok {
		return pod
	}
	if now.Sub(e.when) > writesTTL {
		delete(w.m, pod.UID)
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
		if v == nil {
			delete(out.Annotations, k)
		} else {
			out.Annotations[k] = *v
		}
	}
	return out
}

// annotate merge-patches hotreload/ annotations onto the pod (a nil value
// removes the key), on the condition that it is still the same pod (UID),
// and remembers the write.
func (r *Reconciler) annotate(ctx context.Context, pod *corev1.Pod, ann map[string]any) error {
	body, err := json.Marshal(map[string]any{"metadata": map[string]any{"uid": pod.UID, "annotations": ann}})
	if err != nil {
		return err
	}
	target := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace}}
	if err := r.Client.Patch(ctx, target, client.RawPatch(types.MergePatchType, body), client.FieldOwner(Name)); err != nil {
		return fmt.Errorf("annotating pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	rec := make(map[string]*string, len(ann))
	for k, v := range ann {
		if s, ok := v.(string); ok {
			rec[k] = &s
		} else {
			rec[k] = nil
		}
	}
	r.writes.record(pod.UID, target.ResourceVersion, rec, r.Now())
	return nil
}
