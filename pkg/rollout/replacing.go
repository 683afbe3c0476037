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
// moment. Until it comes, the workload is a pod short: the pod counts as
// unavailable against the workload's budget, and its owner stays admitted
// on the candidate, or the replacement would start on stable and be
// replaced again.

// replacementWait bounds how long a replacement is waited for: an owner that
// does not make one (scaled down meanwhile, or gone) holds nothing back
// after it.
const replacementWait = 2 * time.Minute

// replacing records, per source and workload, the pods evicted whose
// replacements have not come. It is this process's own record: a new leader
// starts without it, and at worst replaces a pod of a workload a moment
// early, which its PodDisruptionBudget still bounds.
type replacing struct {
	mu sync.Mutex
	m  map[replacingKey]*evictions
}

type replacingKey struct {
	source   SourceRef
	workload Workload
}

// evictions are a workload's pods evicted and not yet replaced.
type evictions struct {
	owners []v1alpha1.PodOwner
	// last is when the last of them was evicted.
	last time.Time
	// known are the workload's pods seen since the first of them was
	// evicted, the evicted ones included: a pod not among them is a
	// replacement.
	known []types.UID
	// evicted are the pods evicted; waiting counts the replacements that
	// have not come.
	evicted []types.UID
	waiting int
}

// awaited is what a step reads of a workload's evictions: the owners that
// stay admitted, how many replacements have not come, and the pods evicted
// (the cache may show one a moment longer: it is not evicted twice).
type awaited struct {
	Owners  []v1alpha1.PodOwner
	Pods    int
	Evicted []types.UID
}

// evicted records that pod uid of workload w, whose pods were known, was
// evicted at a time.
func (r *replacing) evicted(s SourceRef, w Workload, owner v1alpha1.PodOwner, uid types.UID, at time.Time, known []types.UID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[replacingKey]*evictions{}
	}
	e := r.m[replacingKey{s, w}]
	if e == nil {
		e = &evictions{}
		r.m[replacingKey{s, w}] = e
	}
	e.owners = sortedOwners(append(e.owners, owner))
	e.last = at
	e.evicted = append(e.evicted, uid)
	for _, u := range known {
		if !slices.Contains(e.known, u) {
			e.known = append(e.known, u)
		}
	}
	e.waiting++
}

// pending returns, per workload of source s, the evictions whose
// replacements have not all come: each pod of the workload now (pods) not
// known before is one that came. A workload's record is dropped once every
// replacement came, or replacementWait after its last eviction.
func (r *replacing) pending(s SourceRef, pods map[Workload][]types.UID, now time.Time) map[Workload]awaited {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[Workload]awaited{}
	for k, e := range r.m {
		if k.source != s {
			continue
		}
		for _, u := range pods[k.workload] {
			if !slices.Contains(e.known, u) {
				e.known = append(e.known, u)
				e.waiting--
			}
		}
		if e.waiting <= 0 || now.Sub(e.last) > replacementWait {
			delete(r.m, k)
			continue
		}
		out[k.workload] = awaited{Owners: slices.Clone(e.owners), Pods: e.waiting, Evicted: slices.Clone(e.evicted)}
	}
	return out
}
