package rollout

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/contract"
	"github.com/hotreload/hotreload/pkg/revision"
)

// The objects that keep a source's content: one immutable object per
// revision the release needs (the stable and the candidate), and one mutable
// stable copy that pods mount. Only here does the controller read data: the
// source's, when it captures a revision, and a revision object's, when it
// writes the stable copy. The data is never logged nor put in an Event.

var (
	// errTaken means an object hotreload would write has a user's name.
	errTaken = errors.New("is taken by an object hotreload does not own")
	// errNotKept means the object that keeps a revision was deleted.
	errNotKept = errors.New("is no longer kept")
)

// content is the data of a ConfigMap or Secret: what a revision keeps.
type content struct {
	data       map[string]string
	binaryData map[string][]byte // a ConfigMap's binaryData, or a Secret's data
}

func (c content) keys(kind revision.Kind) revision.Keys {
	if kind == revision.KindSecret {
		return revision.KeysOf(c.binaryData)
	}
	return revision.ConfigMapKeys(&corev1.ConfigMap{Data: c.data, BinaryData: c.binaryData})
}

// size is the content's bytes: its keys and values.
func (c content) size() int64 {
	var n int64
	for k, v := range c.data {
		n += int64(len(k) + len(v))
	}
	for k, v := range c.binaryData {
		n += int64(len(k) + len(v))
	}
	return n
}

// read returns the data of the source (or of any ConfigMap or Secret) as the
// API server holds it now.
func (r *Reconciler) read(ctx context.Context, kind revision.Kind, ns, name string) (content, client.Object, error) {
	if kind == revision.KindSecret {
		s := &corev1.Secret{}
		if err := r.API.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, s); err != nil {
			return content{}, nil, err
		}
		return content{binaryData: s.Data}, s, nil
	}
	cm := &corev1.ConfigMap{}
	if err := r.API.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, cm); err != nil {
		return content{}, nil, err
	}
	return content{data: cm.Data, binaryData: cm.BinaryData}, cm, nil
}

// keptForAnnotation names, on an object hotreload keeps, the source it keeps
// it for (a name may be too long for a label).
const keptForAnnotation = "hotreload.dev/source-name"

// keptMeta is the metadata of an object the controller keeps for source s.
func keptMeta(rel *v1alpha1.ConfigRelease, s SourceRef, name, role, rev string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: s.Namespace, Labels: keptLabels(s, role, rev),
		Annotations: map[string]string{keptForAnnotation: s.Name}, OwnerReferences: ownerOf(rel)}
}

// labels are those of the objects the controller keeps for source s.
func keptLabels(s SourceRef, role, rev string) map[string]string {
	return map[string]string{
		contract.ManagedByLabel: contract.ManagedBy,
		contract.SourceLabel:    contract.SourceDigest(string(s.Kind), s.Name),
		contract.RoleLabel:      role,
		contract.RevisionLabel:  rev,
	}
}

// newObject returns a ConfigMap or Secret holding c.
func newObject(kind revision.Kind, meta metav1.ObjectMeta, c content, immutable bool) client.Object {
	if kind == revision.KindSecret {
		s := &corev1.Secret{ObjectMeta: meta, Data: c.binaryData, Type: corev1.SecretTypeOpaque}
		if immutable {
			s.Immutable = ptr.To(true)
		}
		return s
	}
	cm := &corev1.ConfigMap{ObjectMeta: meta, Data: c.data, BinaryData: c.binaryData}
	if immutable {
		cm.Immutable = ptr.To(true)
	}
	return cm
}

func ownerOf(rel *v1alpha1.ConfigRelease) []metav1.OwnerReference {
	return []metav1.OwnerReference{*metav1.NewControllerRef(rel, v1alpha1.GroupVersion.WithKind("ConfigRelease"))}
}

// capture reads the source now and keeps its content in the object of its
// revision, which it returns. The revision is what the API server holds,
// which may be newer than the cache.
func (r *Reconciler) capture(ctx context.Context, rel *v1alpha1.ConfigRelease, s SourceRef) (string, content, error) {
	c, _, err := r.read(ctx, s.Kind, s.Namespace, s.Name)
	if err != nil {
		return "", content{}, fmt.Errorf("reading %s: %w", s, err)
	}
	rev := sourceRevision(c.keys(s.Kind))
	meta := keptMeta(rel, s, contract.RevisionName(s.Name, rev), contract.RoleRevision, rev)
	err = r.Client.Create(ctx, newObject(s.Kind, meta, c, true))
	if apierrors.IsAlreadyExists(err) {
		// Kept already (a capture that ran before), or a user's object.
		if _, existing, rerr := r.read(ctx, s.Kind, s.Namespace, meta.Name); rerr == nil && !owned(existing) {
			return "", content{}, fmt.Errorf("%s %s/%s %w", s.Kind, s.Namespace, meta.Name, errTaken)
		}
		err = nil
	}
	if err != nil {
		return "", content{}, fmt.Errorf("keeping revision %s of %s: %w", rev, s, err)
	}
	return rev, c, nil
}

// writeStable makes the source's stable copy hold c, the content of
// revision rev: created, or updated when it holds another revision.
func (r *Reconciler) writeStable(ctx context.Context, rel *v1alpha1.ConfigRelease, s SourceRef, rev string, c content) error {
	name := contract.StableName(s.Name)
	want := newObject(s.Kind, keptMeta(rel, s, name, contract.RoleStable, rev), c, false)
	_, have, err := r.read(ctx, s.Kind, s.Namespace, name)
	switch {
	case apierrors.IsNotFound(err):
		if err := r.Client.Create(ctx, want); err != nil {
			return fmt.Errorf("creating the stable copy of %s: %w", s, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("reading the stable copy of %s: %w", s, err)
	case !owned(have):
		return fmt.Errorf("the stable copy of %s: %s %s/%s %w; rename it", s, s.Kind, s.Namespace, name, errTaken)
	}
	want.SetResourceVersion(have.GetResourceVersion())
	if err := r.Client.Update(ctx, want); err != nil {
		return fmt.Errorf("updating the stable copy of %s: %w", s, err)
	}
	return nil
}

// stableFrom writes the stable copy from verified content of revision rev.
func (r *Reconciler) stableFrom(ctx context.Context, rel *v1alpha1.ConfigRelease, s SourceRef, rev string) error {
	c, _, err := r.verifiedContent(ctx, s, rev, contract.StableName(s.Name))
	if err != nil {
		return err
	}
	return r.writeStable(ctx, rel, s, rev, c)
}

// ReasonKeptCopyRestored: an object hotreload keeps did not hold the
// revision it keeps (someone changed or deleted it), and was restored.
const ReasonKeptCopyRestored = "KeptCopyRestored"

// verifiedContent returns content of source s that hashes to revision rev,
// and where it was read: the object that keeps rev, the source itself, or
// the stable copy, whichever holds it first (but the object named skip, the
// one to restore). errNotKept, naming the objects, when none does.
func (r *Reconciler) verifiedContent(ctx context.Context, s SourceRef, rev, skip string) (content, string, error) {
	names := []string{contract.RevisionName(s.Name, rev), s.Name, contract.StableName(s.Name)}
	for _, name := range names {
		if name == skip {
			continue
		}
		c, _, err := r.read(ctx, s.Kind, s.Namespace, name)
		switch {
		case err == nil && sourceRevision(c.keys(s.Kind)) == rev:
			return c, fmt.Sprintf("%s %s/%s", s.Kind, s.Namespace, name), nil
		case err != nil && !apierrors.IsNotFound(err):
			return content{}, "", fmt.Errorf("reading %s %s/%s: %w", s.Kind, s.Namespace, name, err)
		}
	}
	return content{}, "", fmt.Errorf("revision %s of %s %w: none of %s holds it; pods keep what they run, and an edit of the source releases a new revision",
		rev, s, errNotKept, strings.Join(names, ", "))
}

// restoreRevision makes the object that keeps revision rev of source s hold
// it again, from verified content: a deleted one is created again, one that
// holds something else (its content changed by someone who could delete
// and create it) is deleted and created again. The cache may only be
// behind: an object the API server has holding rev is left as it is.
func (r *Reconciler) restoreRevision(ctx context.Context, rel *v1alpha1.ConfigRelease, s SourceRef, rev string) error {
	name := contract.RevisionName(s.Name, rev)
	have, obj, err := r.read(ctx, s.Kind, s.Namespace, name)
	switch {
	case err == nil && !owned(obj):
		return fmt.Errorf("%s %s/%s %w", s.Kind, s.Namespace, name, errTaken)
	case err == nil && sourceRevision(have.keys(s.Kind)) == rev:
		return nil
	case err != nil && !apierrors.IsNotFound(err):
		return fmt.Errorf("reading %s %s/%s: %w", s.Kind, s.Namespace, name, err)
	}
	c, from, err := r.verifiedContent(ctx, s, rev, name)
	if err != nil {
		return err
	}
	what := "was deleted"
	if obj != nil {
		what = "did not hold revision " + rev
		if err := r.Client.Delete(ctx, obj, client.Preconditions{UID: ptr.To(obj.GetUID())}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting %s %s/%s, which does not hold revision %s: %w", s.Kind, s.Namespace, name, rev, err)
		}
	}
	if err := r.Client.Create(ctx, newObject(s.Kind, keptMeta(rel, s, name, contract.RoleRevision, rev), c, true)); err != nil {
		return fmt.Errorf("keeping revision %s of %s again: %w", rev, s, err)
	}
	r.announcer(ctx, rel, s).warning(ReasonKeptCopyRestored, actionRelease, "%s %s/%s %s: restored from %s", s.Kind, s.Namespace, name, what, from)
	return nil
}

// restoreStable makes the stable copy of source s hold its stable revision
// rev again, from verified content, and says so when the copy held
// something its own label does not name (someone changed it). A copy the
// API server has holding rev is left as it is: the cache is only behind.
func (r *Reconciler) restoreStable(ctx context.Context, rel *v1alpha1.ConfigRelease, s SourceRef, rev string) error {
	name := contract.StableName(s.Name)
	have, obj, err := r.read(ctx, s.Kind, s.Namespace, name)
	switch {
	case err == nil && !owned(obj):
		return fmt.Errorf("the stable copy of %s: %s %s/%s %w; rename it", s, s.Kind, s.Namespace, name, errTaken)
	case err == nil && obj.GetLabels()[contract.RevisionLabel] == rev && sourceRevision(have.keys(s.Kind)) == rev:
		return nil
	case err != nil && !apierrors.IsNotFound(err):
		return fmt.Errorf("reading the stable copy of %s: %w", s, err)
	}
	c, from, err := r.verifiedContent(ctx, s, rev, name)
	if err != nil {
		return err
	}
	if err := r.writeStable(ctx, rel, s, rev, c); err != nil {
		return err
	}
	if obj != nil && sourceRevision(have.keys(s.Kind)) != obj.GetLabels()[contract.RevisionLabel] {
		r.announcer(ctx, rel, s).warning(ReasonKeptCopyRestored, actionRelease, "%s %s/%s did not hold revision %s: restored from %s",
			s.Kind, s.Namespace, name, obj.GetLabels()[contract.RevisionLabel], from)
	}
	return nil
}

// maxKeptSize bounds the content of a revision kept for history, undo and
// diff: a larger one is kept only while it is stable or candidate.
const maxKeptSize = 256 << 10

// keptRevisions returns the revisions whose content the release keeps: its
// stable and candidate, and the newest n others of its history that are not
// over maxKeptSize.
func keptRevisions(st v1alpha1.ConfigReleaseStatus, n int) []string {
	keep := []string{st.Stable, st.Candidate}
	others := 0
	for _, h := range st.History {
		if others >= n {
			break
		}
		if slices.Contains(keep, h.Revision) {
			continue
		}
		if h.Size <= maxKeptSize {
			keep = append(keep, h.Revision)
			others++
		}
	}
	return keep
}

// pruneRevisions deletes the revision objects of the release but those it
// still needs, and those a live pod's references are pinned to: the
// kubelet reads them at each of its containers' starts.
func (r *Reconciler) pruneRevisions(ctx context.Context, s SourceRef, keep ...string) error {
	pinned, err := r.pinnedRevisions(ctx, s)
	if err != nil {
		return err
	}
	keep = append(keep, pinned...)
	var list client.ObjectList = &corev1.ConfigMapList{}
	if s.Kind == revision.KindSecret {
		list = &corev1.SecretList{}
	}
	sel := client.MatchingLabels{contract.SourceLabel: contract.SourceDigest(string(s.Kind), s.Name), contract.RoleLabel: contract.RoleRevision,
		contract.ManagedByLabel: contract.ManagedBy}
	if err := r.Cache.List(ctx, list, client.InNamespace(s.Namespace), sel); err != nil {
		return err
	}
	var errs []error
	eachObject(list, func(o client.Object) {
		if !slices.Contains(keep, o.GetLabels()[contract.RevisionLabel]) {
			if err := r.Client.Delete(ctx, o, client.Preconditions{UID: ptr.To(o.GetUID())}); err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, err)
			}
		}
	})
	return errors.Join(errs...)
}

// pinnedRevisions returns the revisions of source s that the references of
// the namespace's live opted-in pods are pinned to (hotreload/pinned).
func (r *Reconciler) pinnedRevisions(ctx context.Context, s SourceRef) ([]string, error) {
	var pods corev1.PodList
	if err := r.Cache.List(ctx, &pods, client.InNamespace(s.Namespace)); err != nil {
		return nil, fmt.Errorf("listing the pods of namespace %s: %w", s.Namespace, err)
	}
	var out []string
	for i := range pods.Items {
		p := &pods.Items[i]
		if rev := annotations.PinnedOf(p.Annotations)[s.Key()]; rev != "" && active(p) && !slices.Contains(out, rev) {
			out = append(out, rev)
		}
	}
	return out, nil
}

func eachObject(list client.ObjectList, f func(client.Object)) {
	switch l := list.(type) {
	case *corev1.ConfigMapList:
		for i := range l.Items {
			f(&l.Items[i])
		}
	case *corev1.SecretList:
		for i := range l.Items {
			f(&l.Items[i])
		}
	}
}
