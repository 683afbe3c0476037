package access

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// What the reconciler makes in an enabled namespace (the reloader's
// ServiceAccount, both RoleBindings, the exchange's CA bundle) is owned by
// the namespace hotreload is installed in: uninstalling, which deletes that
// namespace, has the garbage collector delete them in every namespace, and
// nothing of hotreload is left behind. A namespace is cluster-scoped, so it
// may own objects of any namespace.

// installOwner returns the owner reference to the namespace name, read
// through c.
func installOwner(ctx context.Context, c client.Reader, name string) (*metav1.OwnerReference, error) {
	ns := &corev1.Namespace{}
	if err := c.Get(ctx, client.ObjectKey{Name: name}, ns); err != nil {
		return nil, fmt.Errorf("reading hotreload's namespace %s, the owner of what it makes in enabled namespaces: %w", name, err)
	}
	return &metav1.OwnerReference{APIVersion: "v1", Kind: "Namespace", Name: ns.Name, UID: ns.UID}, nil
}

// ownedBy reports whether o's owners are what withOwner makes of them.
func ownedBy(o metav1.Object, owner *metav1.OwnerReference) bool {
	if owner == nil {
		return true
	}
	for _, ref := range o.GetOwnerReferences() {
		if isInstallRef(ref, owner) {
			return ref.UID == owner.UID && ref.APIVersion == owner.APIVersion
		}
	}
	return false
}

// withOwner returns refs with owner in place of any reference to a namespace
// of owner's name (an earlier install's, deleted since), the other owners
// kept. With no owner, refs as they are.
func withOwner(refs []metav1.OwnerReference, owner *metav1.OwnerReference) []metav1.OwnerReference {
	if owner == nil {
		return refs
	}
	out := []metav1.OwnerReference{*owner}
	for _, ref := range refs {
		if !isInstallRef(ref, owner) {
			out = append(out, ref)
		}
	}
	return out
}

func isInstallRef(ref metav1.OwnerReference, owner *metav1.OwnerReference) bool {
	return ref.Kind == "Namespace" && ref.Name == owner.Name
}

// own makes o owned by r's owner, when it has one, and returns o.
func own[T client.Object](r *Reconciler, o T) T {
	o.SetOwnerReferences(withOwner(o.GetOwnerReferences(), r.Owner))
	return o
}

// ensureOwner adds r's owner to have, an object of the reconciler's that
// lacks it (made by a version before owners, or by an earlier install).
func (r *Reconciler) ensureOwner(ctx context.Context, have client.Object) error {
	if ownedBy(have, r.Owner) {
		return nil
	}
	patch := client.MergeFromWithOptions(have.DeepCopyObject().(client.Object), client.MergeFromWithOptimisticLock{})
	have.SetOwnerReferences(withOwner(have.GetOwnerReferences(), r.Owner))
	if err := r.Client.Patch(ctx, have, patch); err != nil {
		return fmt.Errorf("making %T %s/%s owned by hotreload's namespace %s: %w", have, have.GetNamespace(), have.GetName(), r.Owner.Name, err)
	}
	return nil
}
