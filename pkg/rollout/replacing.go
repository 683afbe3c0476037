package rollout

import (
	"slices"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
)

// An evicted pod's replacement is not there at once: a StatefulSet makes it
// only once the old pod is gone, under its name, and any owner takes a
// moment. Until it comes, the workload is a pod short: no other pod of it is
// replaced, and its owner stays admitted on the candidate, or the
// replacement would start on stable and be replaced again.

// replacementWait bounds how long a replacement is waited for: an owner that
// does not make one (scaled down meanwhile, or gone) holds nothing back
// after it.
const replacementWait = 2 * time.Minute

// replacing records, per source and workload, the last pod evicted and when.
// It is this process's own record: a new leader starts without it, and at
// worst replaces a pod of a workload a moment early, which its
// PodDisruptionBudget still bounds.
type replacing struct {
	mu sync.Mutex
	m  map[replacingKey]eviction
}

type replacingKey struct {
	source   SourceRef
	workload Workload
}

type eviction struct {
	owner v1alpha1.PodOwner
	at    time.Time
	// known are the workload's pods when it was evicted, itself included.
	known []types.UID
}

// evicted records that a pod of workload w, whose pods were known, was
// evicted at a time.
func (r *replacing) evicted(s SourceRef, w Workload, owner v1alpha1.PodOwner, at time.Time, known []types.UID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[replacingKey]eviction{}
	}
	r.m[replacingKey{s, w}] = eviction{owner, at, known}
}

// pending returns, per workload of source s, the owner of a pod evicted
// whose replacement has not come: none of the workload's pods now (pods) is
// one it did not have then, and replacementWait has not passed. A record
// that is done is dropped.
func (r *replacing) pending(s SourceRef, pods map[Workload][]types.UID, now time.Time) map[Workload]v1alpha1.PodOwner {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[Workload]v1alpha1.PodOwner{}
	for k, e := range r.m {
		if k.source != s {
			continue
		}
		arrived := slices.ContainsFunc(pods[k.workload], func(u types.UID) bool { return !slices.Contains(e.known, u) })
		if arrived || now.Sub(e.at) > replacementWait {
			delete(r.m, k)
			continue
		}
		out[k.workload] = e.owner
	}
	return out
}
