package rollout

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
)

// A release outlives its source object: it is keyed by the source's
// namespace, kind and name, never owned by the object, so deleting and
// creating the source again (kubectl replace --force, helm --force, an
// immutable ConfigMap replaced) goes on with the same release, its content
// an ordinary candidate, and a halt holds. A source deleted for good ends
// its release, and the kept copies the release owns with it, after a grace
// period (docs/design/2026-12-07-release-integrity.md).

// DefaultSourceGrace is how long a release outlives its deleted source.
const DefaultSourceGrace = 10 * time.Minute

// ReasonSourceDeleted says a release's source is gone, and when its release
// ends unless it comes back.
const ReasonSourceDeleted = "SourceDeleted"

// goneStep is what becomes of the release of a source found deleted.
type goneStep int

const (
	// goneMark records when the source was found gone.
	goneMark goneStep = iota
	// goneWait waits for the grace to pass, or the source to come back.
	goneWait
	// goneEnd ends the release.
	goneEnd
)

// whenGone decides what becomes of the release in state st of a source
// found deleted at now, and for goneWait, how long is left of the grace.
func whenGone(st v1alpha1.ConfigReleaseStatus, now time.Time, grace time.Duration) (goneStep, time.Duration) {
	if st.SourceGoneSince == nil {
		return goneMark, grace
	}
	if left := st.SourceGoneSince.Add(grace).Sub(now); left > 0 {
		return goneWait, left
	}
	return goneEnd, 0
}

func (r *Reconciler) sourceGrace() time.Duration {
	if r.SourceGrace > 0 {
		return r.SourceGrace
	}
	return DefaultSourceGrace
}

// sourceDeleted carries out whenGone for rel, whose source s is gone.
func (r *Reconciler) sourceDeleted(ctx context.Context, rel *v1alpha1.ConfigRelease, s SourceRef) (reconcile.Result, error) {
	now := r.Now()
	step, left := whenGone(rel.Status, now, r.sourceGrace())
	switch step {
	case goneMark:
		next := *rel.Status.DeepCopy()
		next.SourceGoneSince = &metav1.Time{Time: now}
		if err := r.writeStatus(ctx, rel, s, next); err != nil {
			return reconcile.Result{}, err
		}
		r.announcer(ctx, rel, s).normal(ReasonSourceDeleted, actionRelease,
			"%s %s was deleted: its release (stable revision %s, %s) ends with its kept copies in %s unless it is created again; created again, it goes on with this release",
			s.Kind, s.Name, rel.Status.Stable, rel.Status.Phase, r.sourceGrace())
	case goneEnd:
		log.FromContext(ctx).Info("the source stayed deleted: its release ends", "since", rel.Status.SourceGoneSince.Time)
		if err := r.Client.Delete(ctx, rel, client.Preconditions{UID: &rel.UID}); err != nil && !apierrors.IsNotFound(err) {
			return reconcile.Result{}, fmt.Errorf("ending the release of %s: %w", s, err)
		}
		return reconcile.Result{}, nil
	}
	return reconcile.Result{RequeueAfter: left}, nil
}

// sourceBack clears the release's mark of a deleted source, which is there
// again: the release goes on.
func (r *Reconciler) sourceBack(ctx context.Context, rel *v1alpha1.ConfigRelease, s SourceRef) (*v1alpha1.ConfigRelease, error) {
	next := *rel.Status.DeepCopy()
	next.SourceGoneSince = nil
	if err := r.writeStatus(ctx, rel, s, next); err != nil {
		return nil, err
	}
	log.FromContext(ctx).Info("the source was created again: its release goes on")
	out := rel.DeepCopy()
	out.Status = next
	return out, nil
}

// disown drops the owner reference to the source object from a release an
// earlier version made, which would have ended the release with the object.
func (r *Reconciler) disown(ctx context.Context, rel *v1alpha1.ConfigRelease, s SourceRef) error {
	var keep []metav1.OwnerReference
	for _, o := range rel.OwnerReferences {
		if o.APIVersion != "v1" || o.Kind != string(s.Kind) || o.Name != s.Name {
			keep = append(keep, o)
		}
	}
	if len(keep) == len(rel.OwnerReferences) {
		return nil
	}
	patch := client.MergeFrom(rel.DeepCopy())
	upd := rel.DeepCopy()
	upd.OwnerReferences = keep
	if err := r.Client.Patch(ctx, upd, patch); err != nil {
		return fmt.Errorf("dropping the source's owner reference from the release of %s: %w", s, err)
	}
	return nil
}

// sourceUID is the UID of the source object s as the cache has it, for the
// Events about it; empty when it is gone.
func (r *Reconciler) sourceUID(ctx context.Context, s SourceRef) types.UID {
	o := emptyObject(s.Kind)
	if err := r.Cache.Get(ctx, client.ObjectKey{Namespace: s.Namespace, Name: s.Name}, o); err != nil {
		return ""
	}
	return o.GetUID()
}
