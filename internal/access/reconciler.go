package access

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/contract"
)

// Options configures Setup.
type Options struct {
	// MaxConcurrentReconciles bounds parallel namespace reconciles (default 1).
	MaxConcurrentReconciles int
	// CAFile, when set, is the token exchange's CA bundle, kept for the
	// sidecars of each enabled namespace (Reconciler.CAFile). It is looked
	// at every CAPoll (default 10 s): a change is a rotation.
	CAFile    string
	CAOverlap time.Duration
	CAPoll    time.Duration
	// Controller is the identity the RoleBinding ControllerName grants the
	// controller's rights in each enabled namespace to (default: the manager's
	// own, as the API server authenticates it).
	Controller rbacv1.Subject
	// InstallNamespace, when set, is the namespace hotreload is installed in:
	// it owns what the reconciler makes (Reconciler.Owner).
	InstallNamespace string
}

// Setup registers the namespace reconciler with mgr. It runs on the elected leader
// only. The manager's client must be allowed what deploy/base/rbac-webhook.yaml
// grants: namespaces get/list/watch; serviceaccounts and rolebindings create, and
// get/delete of hotreload-reloader and hotreload-controller; bind of the
// ClusterRoles hotreload-reloader and hotreload-controller-namespace; patch
// of those objects' owners.
func Setup(mgr manager.Manager, o Options) error {
	if o.Controller.Name == "" {
		self, err := whoAmI(mgr.GetClient())
		if err != nil {
			return err
		}
		o.Controller = self
	}
	r := &Reconciler{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), CAFile: o.CAFile, CAOverlap: o.CAOverlap, Controller: o.Controller}
	if o.InstallNamespace != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		owner, err := installOwner(ctx, mgr.GetAPIReader(), o.InstallNamespace)
		if err != nil {
			return err
		}
		r.Owner = owner
	}
	b := ctrl.NewControllerManagedBy(mgr).
		Named("hotreload-access").
		For(&corev1.Namespace{}).
		WithOptions(controllerOptions(o))
	if o.CAFile != "" {
		changed := make(chan event.GenericEvent)
		poll := o.CAPoll
		if poll <= 0 {
			poll = 10 * time.Second
		}
		if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
			watchCAFile(ctx, mgr.GetClient(), o.CAFile, poll, changed)
			return nil
		})); err != nil {
			return err
		}
		b = b.WatchesRawSource(source.Channel(changed, &handler.EnqueueRequestForObject{}))
	}
	return b.Complete(r)
}

// whoAmI returns the subject c authenticates as.
func whoAmI(c client.Client) (rbacv1.Subject, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	review := &authenticationv1.SelfSubjectReview{}
	if err := c.Create(ctx, review); err != nil {
		return rbacv1.Subject{}, fmt.Errorf("asking the API server who the controller is (SelfSubjectReview): %w", err)
	}
	if review.Status.UserInfo.Username == "" {
		return rbacv1.Subject{}, fmt.Errorf("the API server did not say who the controller is (SelfSubjectReview without a user name)")
	}
	return subjectOf(review.Status.UserInfo.Username), nil
}

// watchCAFile looks at file every poll and, when it changed, sends every
// enabled namespace (read through c) to changed, until ctx ends.
func watchCAFile(ctx context.Context, c client.Reader, file string, poll time.Duration, changed chan<- event.GenericEvent) {
	last, _ := os.ReadFile(file)
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now, err := os.ReadFile(file)
		if err != nil || bytes.Equal(now, last) {
			continue
		}
		last = now
		var list corev1.NamespaceList
		if err := c.List(ctx, &list, client.MatchingLabels{annotations.InjectionLabel: annotations.InjectionEnabled}); err != nil {
			continue
		}
		for i := range list.Items {
			select {
			case changed <- event.GenericEvent{Object: &list.Items[i]}:
			case <-ctx.Done():
				return
			}
		}
	}
}

// Reconciler creates or removes, from a namespace's hotreload/injection label,
// the reloader's ServiceAccount and RoleBinding there, and the controller's
// RoleBinding there.
type Reconciler struct {
	// Client writes, and reads namespaces (from the manager's cache).
	Client client.Client
	// Reader reads the two objects straight from the API server, so the webhook
	// needs no cluster-wide list/watch of ServiceAccounts and RoleBindings.
	Reader client.Reader
	// CAFile, when set, is the token exchange's CA: its bundle is kept in the
	// ConfigMap contract.ExchangeCAConfigMap of each enabled namespace, for
	// the sidecars, with the CAs of before a rotation for CAOverlap (default
	// DefaultCAOverlap).
	CAFile    string
	CAOverlap time.Duration
	// Controller is who ControllerRoleBinding grants the controller's rights
	// in the namespace to; with no name, no such binding is made.
	Controller rbacv1.Subject
	// Owner, when set, owns every object the reconciler makes (owner.go):
	// the namespace hotreload is installed in.
	Owner *metav1.OwnerReference
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Reconcile brings the namespace's reloader objects in line with its label.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ns := &corev1.Namespace{}
	err := r.Client.Get(ctx, req.NamespacedName, ns)
	if apierrors.IsNotFound(err) {
		return ctrl.Result{}, nil // gone, and its objects with it
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	if !annotations.NamespaceServed(ns) {
		return ctrl.Result{}, r.remove(ctx, ns.Name)
	}
	if err := r.ensure(ctx, ns.Name); err != nil || r.CAFile == "" {
		return ctrl.Result{}, err
	}
	again, err := r.ensureCABundle(ctx, ns.Name)
	if err != nil || again.IsZero() {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: max(time.Until(again), time.Second)}, nil
}

func (r *Reconciler) ensure(ctx context.Context, namespace string) error {
	if err := r.ensureServiceAccount(ctx, own(r, ServiceAccount(namespace))); err != nil {
		return err
	}
	if r.Controller.Name != "" {
		if err := r.ensureBinding(ctx, own(r, ControllerRoleBinding(namespace, r.Controller))); err != nil {
			return err
		}
	}
	return r.ensureBinding(ctx, own(r, RoleBinding(namespace)))
}

// ensureServiceAccount creates want, or gives the ServiceAccount of its name
// its owner. One that is not hotreload's is left as it is: the binding grants
// the reloader's rights to whoever holds that name's tokens, which only the
// token exchange mints.
func (r *Reconciler) ensureServiceAccount(ctx context.Context, want *corev1.ServiceAccount) error {
	have := &corev1.ServiceAccount{}
	err := r.Reader.Get(ctx, client.ObjectKeyFromObject(want), have)
	switch {
	case apierrors.IsNotFound(err):
		if err := r.Client.Create(ctx, want); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating ServiceAccount %s/%s: %w", want.Namespace, want.Name, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("reading ServiceAccount %s/%s: %w", want.Namespace, want.Name, err)
	case have.Labels[ManagedByLabel] != ManagedBy:
		return nil
	}
	return r.ensureOwner(ctx, have)
}

// ensureBinding creates want, or replaces a binding of its name that grants
// anything else.
func (r *Reconciler) ensureBinding(ctx context.Context, want *rbacv1.RoleBinding) error {
	have := &rbacv1.RoleBinding{}
	err := r.Reader.Get(ctx, client.ObjectKeyFromObject(want), have)
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return fmt.Errorf("reading RoleBinding %s/%s: %w", want.Namespace, want.Name, err)
	case equality.Semantic.DeepEqual(have.RoleRef, want.RoleRef) && equality.Semantic.DeepEqual(have.Subjects, want.Subjects):
		return r.ensureOwner(ctx, have)
	default:
		// roleRef is immutable: replace a binding that grants anything else.
		if err := r.Client.Delete(ctx, have, client.Preconditions{UID: &have.UID}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("replacing RoleBinding %s/%s: %w", want.Namespace, want.Name, err)
		}
	}
	if err := r.Client.Create(ctx, want); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating RoleBinding %s/%s: %w", want.Namespace, want.Name, err)
	}
	return nil
}

// remove deletes the RoleBindings first, so the rights go before the identity. It
// deletes only objects this package created.
func (r *Reconciler) remove(ctx context.Context, namespace string) error {
	for _, o := range []struct {
		obj  client.Object
		name string
	}{
		{&rbacv1.RoleBinding{}, ReloaderName},
		{&rbacv1.RoleBinding{}, ControllerName},
		{&corev1.ServiceAccount{}, ReloaderName},
		{&corev1.ConfigMap{}, contract.ExchangeCAConfigMap},
	} {
		obj, key := o.obj, client.ObjectKey{Namespace: namespace, Name: o.name}
		err := r.Reader.Get(ctx, key, obj)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("reading %T %s: %w", obj, key, err)
		}
		if obj.GetLabels()[ManagedByLabel] != ManagedBy {
			continue
		}
		uid := obj.GetUID()
		if err := r.Client.Delete(ctx, obj, client.Preconditions{UID: &uid}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting %T %s: %w", obj, key, err)
		}
	}
	return nil
}
