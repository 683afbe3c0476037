package rollout

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/log"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/release"
	"github.com/hotreload/hotreload/pkg/revision"
)

// Consumers that cannot change in place (docs/design/2026-12-07-every-consumer.md):
// a pod that reads a source through env, envFrom or a mount hotreload leaves
// alone reads the revision its references were pinned to at admission
// (hotreload/pinned). It gets a new revision in a new pod: the release
// evicts it in its workload's steps, and its replacement is admitted on the
// candidate while the release lists its owner in status.admit.

// envReads reports whether what pod p reads of source s in ways that cannot
// change in place is the candidate's content, and whether it is the stable
// revision's: only the keys it reads count. A pod not pinned (admitted
// before the release existed) is taken to read the stable revision.
func (c *contents) envReads(p consumer, s SourceRef, st v1alpha1.ConfigReleaseStatus) (candidate, stable bool) {
	if p.restart == nil {
		return true, true
	}
	pinned := annotations.PinnedOf(p.pod.Annotations)[s.Key()]
	if pinned == "" {
		pinned = st.Stable
	}
	at, ok := c.keysAt(s, pinned)
	if !ok {
		return false, false
	}
	same := func(rev string) bool {
		keys, ok := c.keysAt(s, rev)
		return ok && sameKeys(at, keys, p.restart.Keys)
	}
	return pinned == st.Candidate || same(st.Candidate), pinned == st.Stable || same(st.Stable)
}

// sameKeys reports whether a and b hold the same digests for the keys read
// (every key when read is nil); a key absent from both is the same.
func sameKeys(a, b revision.Keys, read []string) bool {
	if read == nil {
		return maps.Equal(a, b)
	}
	for _, k := range read {
		d, okA := a[k]
		e, okB := b[k]
		if okA != okB || d != e {
			return false
		}
	}
	return true
}

// replaceable says whether the pod can be replaced to deliver what it reads
// in ways that cannot change in place: a controller must recreate it (never
// a bare pod nor a Job's), and its hotreload/restart must allow it.
func replaceable(p consumer) bool {
	return release.NotRecreated(p.pod) == ""
}

// ownerOfPod is the pod's controller, as status.admit names it; zero for none.
func ownerOfPod(p consumer) v1alpha1.PodOwner {
	if o := metav1.GetControllerOfNoCopy(p.pod); o != nil {
		return v1alpha1.PodOwner{Kind: o.Kind, Name: o.Name}
	}
	return v1alpha1.PodOwner{}
}

// sortedOwners returns the owners, each once, by kind and name.
func sortedOwners(owners []v1alpha1.PodOwner) []v1alpha1.PodOwner {
	slices.SortFunc(owners, func(a, b v1alpha1.PodOwner) int {
		return cmp.Or(strings.Compare(a.Kind, b.Kind), strings.Compare(a.Name, b.Name))
	})
	return slices.Compact(owners)
}

// ReasonNotDelivered says, on a workload, that a revision does not reach
// those of its pods that read the source in ways that cannot change in
// place and are never replaced.
const ReasonNotDelivered = "NotDelivered"

// ReasonPodReplaced says, on a pod, that the release evicted it to deliver
// what it reads in ways that cannot change in place.
const ReasonPodReplaced = "PodReplaced"

// errDisruptionBudget means an eviction waits for a PodDisruptionBudget.
var errDisruptionBudget = errors.New("a PodDisruptionBudget allows no disruption now")

// evict replaces pod p of source s's namespace through the Eviction API, so
// that PodDisruptionBudgets hold, with its UID as precondition: a pod of the
// same name made since is never evicted in its place.
func (r *Reconciler) evict(ctx context.Context, s SourceRef, p stepPod, why string) error {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: s.Namespace, UID: p.UID}}
	ev := &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: s.Namespace},
		DeleteOptions: &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: ptr.To(p.UID)}}}
	err := r.Client.SubResource("eviction").Create(ctx, pod, ev)
	switch {
	case apierrors.IsNotFound(err), apierrors.IsConflict(err):
		return nil // gone already, or another pod of that name
	case apierrors.IsTooManyRequests(err):
		return fmt.Errorf("evicting pod %s/%s: %w", s.Namespace, p.Name, errDisruptionBudget)
	case err != nil:
		return fmt.Errorf("evicting pod %s/%s: %w", s.Namespace, p.Name, err)
	}
	log.FromContext(ctx).Info("pod replaced", "pod", p.Name, "why", why)
	r.Recorder.Eventf(pod, nil, corev1.EventTypeNormal, ReasonPodReplaced, actionRelease, "%s", why)
	return nil
}

// evictAll replaces the pods a step decided, and says when to look again
// when a PodDisruptionBudget holds one back.
func (r *Reconciler) evictAll(ctx context.Context, s SourceRef, d stepDecision, st v1alpha1.ConfigReleaseStatus, pods []consumer) (retryIn time.Duration, err error) {
	for _, p := range d.Evict {
		var known []types.UID
		for _, c := range pods {
			if c.workload == p.Workload {
				known = append(known, c.pod.UID)
			}
		}
		why := fmt.Sprintf("replaced so that it starts on config revision %s of %s: it reads %s in ways that cannot change in place (env, envFrom or a mount hotreload leaves alone)",
			st.Candidate, s.Key(), s.Key())
		if d.Next.Phase == v1alpha1.PhaseHalted {
			why = fmt.Sprintf("replaced so that it starts on stable revision %s of %s again: revision %s halted", st.Stable, s.Key(), st.Candidate)
		}
		switch err := r.evict(ctx, s, p, why); {
		case err == nil:
			r.replacing.evicted(s, p.Workload, p.Owner, p.UID, r.Now(), known)
		case errors.Is(err, errDisruptionBudget):
			log.FromContext(ctx).Info("replacement waits", "pod", p.Name, "reason", err.Error())
			retryIn = disruptionRetry
		case err != nil:
			return 0, err
		}
	}
	return retryIn, nil
}

// disruptionRetry is how soon an eviction a PodDisruptionBudget refused is
// tried again.
const disruptionRetry = 5 * time.Second

// replacementState is the state planning reads of a pod with no reloader
// that reads the source only in ways that cannot change in place. When it
// started on the candidate (onCandidate), it applied it once Ready (its
// Ready transition is when), or, once a container restarted and it is not
// Ready, failed it: a pod starting is not a pod that stopped being Ready, but
// a restart on the candidate halts whenever it comes (a crash loop's restarts
// come later and later). Otherwise it runs what it started on.
func replacementState(st Pod, cand string, onCandidate bool) Pod {
	if !onCandidate {
		return st
	}
	st.Released = cand
	switch {
	case st.Ready:
		st.Applied, st.AppliedAt = cand, st.ReadySince
	case !st.LastRestart.IsZero():
		// It restarted and is not Ready: what it read at its start is what
		// fails, however long ago the step was released.
		st.Applied, st.AppliedAt = cand, st.Created
		st.Failed, st.FailedReason = cand, "a container restarted and it is not Ready: it reads the revision from its environment (env, envFrom or a mount left alone) since it started"
	}
	return st
}
