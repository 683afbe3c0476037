//go:build integration

package access_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/hotreload/hotreload/internal/access"
	"github.com/hotreload/hotreload/internal/testenv"
	"github.com/hotreload/hotreload/pkg/contract"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// startAsWebhook applies deploy/base and runs a manager with the reconciler under
// the webhook's own ServiceAccount, so the test also proves its RBAC suffices.
func startAsWebhook(t *testing.T, env *testenv.Env, o access.Options) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	env.Apply(t, env.Kustomize(t, "../../deploy/base"))
	tr, err := env.Clientset.CoreV1().ServiceAccounts("hotreload-system").CreateToken(ctx, "hotreload-webhook", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	require.NoError(t, err)
	cfg := rest.AnonymousClientConfig(env.Config)
	cfg.BearerToken = tr.Status.Token

	skip := true // several tests, several managers in one process
	mgr, err := manager.New(cfg, manager.Options{Scheme: scheme.Scheme, Metrics: metricsserver.Options{BindAddress: "0"},
		Controller: config.Controller{SkipNameValidation: &skip}})
	require.NoError(t, err)
	require.NoError(t, access.Setup(mgr, o))
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
}

type objects struct {
	sa         *corev1.ServiceAccount
	rb         *rbacv1.RoleBinding
	controller *rbacv1.RoleBinding
}

// webhook is the controller's identity in these tests: the webhook's own
// ServiceAccount (startAsWebhook).
var webhook = rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: "hotreload-system", Name: "hotreload-webhook"}

// observed returns the reloader objects of ns as the API server has them, with
// server-set fields cleared, or nil for those that do not exist.
func observed(t *testing.T, env *testenv.Env, ns string) objects {
	var o objects
	key := client.ObjectKey{Namespace: ns, Name: access.ReloaderName}
	sa := &corev1.ServiceAccount{}
	if err := env.Client.Get(context.Background(), key, sa); err == nil {
		sa.ObjectMeta = metav1.ObjectMeta{Name: sa.Name, Namespace: sa.Namespace, Labels: sa.Labels, OwnerReferences: sa.OwnerReferences}
		sa.TypeMeta = metav1.TypeMeta{}
		o.sa = sa
	} else {
		require.True(t, apierrors.IsNotFound(err), err)
	}
	o.rb = binding(t, env, key)
	o.controller = binding(t, env, client.ObjectKey{Namespace: ns, Name: access.ControllerName})
	return o
}

// binding returns the RoleBinding as the API server has it, with server-set
// fields cleared, or nil.
func binding(t *testing.T, env *testenv.Env, key client.ObjectKey) *rbacv1.RoleBinding {
	rb := &rbacv1.RoleBinding{}
	err := env.Client.Get(context.Background(), key, rb)
	if err != nil {
		require.True(t, apierrors.IsNotFound(err), err)
		return nil
	}
	rb.ObjectMeta = metav1.ObjectMeta{Name: rb.Name, Namespace: rb.Namespace, Labels: rb.Labels, OwnerReferences: rb.OwnerReferences}
	rb.TypeMeta = metav1.TypeMeta{}
	return rb
}

func eventually(t *testing.T, env *testenv.Env, ns string, want objects, msg string) {
	t.Helper()
	var got objects
	ok := assertEventually(func() bool { got = observed(t, env, ns); return equal(got, want) })
	require.True(t, ok, "%s: got %+v, want %+v", msg, got, want)
}

func assertEventually(f func() bool) bool {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if f() {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

func equal(a, b objects) bool {
	return (a.sa == nil) == (b.sa == nil) && (a.rb == nil) == (b.rb == nil) && (a.controller == nil) == (b.controller == nil) &&
		(a.sa == nil || equalJSON(a.sa, b.sa)) && (a.rb == nil || equalJSON(a.rb, b.rb)) &&
		(a.controller == nil || equalJSON(a.controller, b.controller))
}

func TestIntegrationReloaderRightsFollowTheNamespaceLabel(t *testing.T) {
	env := testenv.Get(t)
	startAsWebhook(t, env, access.Options{})
	ctx := context.Background()

	// kube-system labelled first: the reconciler sees it before the others.
	labelKubeSystem(t, env)
	enabled := env.Namespace(t, map[string]string{"hotreload/injection": "enabled"})
	plain := env.Namespace(t, map[string]string{"hotreload/injection": "disabled"})
	want := objects{sa: access.ServiceAccount(enabled), rb: access.RoleBinding(enabled), controller: access.ControllerRoleBinding(enabled, webhook)}
	eventually(t, env, enabled, want, "an enabled namespace gets the reloader's account and binding, and the controller's binding")
	require.Equal(t, objects{}, observed(t, env, plain), "a namespace that is not enabled gets nothing")
	require.Equal(t, objects{}, observed(t, env, "kube-system"), "kube-system gets nothing, whatever its labels")

	// A binding of that name granting something else is replaced.
	require.NoError(t, env.Client.Delete(ctx, access.RoleBinding(enabled)))
	tampered := access.RoleBinding(enabled)
	tampered.RoleRef.Name = "hotreload-webhook"
	require.NoError(t, env.Client.Create(ctx, tampered))
	touch(t, env, enabled)
	eventually(t, env, enabled, want, "a tampered binding is replaced")
	require.NoError(t, env.Client.Delete(ctx, access.ControllerRoleBinding(enabled, webhook)))
	touch(t, env, enabled)
	eventually(t, env, enabled, want, "a deleted controller binding is made again")

	ns := &corev1.Namespace{}
	require.NoError(t, env.Client.Get(ctx, client.ObjectKey{Name: enabled}, ns))
	delete(ns.Labels, "hotreload/injection")
	require.NoError(t, env.Client.Update(ctx, ns))
	eventually(t, env, enabled, objects{}, "removing the label removes them all")

	ns.Labels["hotreload/injection"] = "enabled"
	require.NoError(t, env.Client.Update(ctx, ns))
	eventually(t, env, enabled, want, "labelling again restores them")
}

// labelKubeSystem labels kube-system for injection until the test ends.
func labelKubeSystem(t *testing.T, env *testenv.Env) {
	t.Helper()
	ctx := context.Background()
	set := func(value string) error {
		patch := `{"metadata":{"labels":{"hotreload/injection":` + value + `}}}`
		return env.Client.Patch(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kube-system"}}, client.RawPatch(types.MergePatchType, []byte(patch)))
	}
	require.NoError(t, set(`"enabled"`))
	t.Cleanup(func() { require.NoError(t, set("null")) })
}

// touch changes an annotation of the namespace so that the reconciler runs again.
func touch(t *testing.T, env *testenv.Env, name string) {
	ns := &corev1.Namespace{}
	require.NoError(t, env.Client.Get(context.Background(), client.ObjectKey{Name: name}, ns))
	if ns.Annotations == nil {
		ns.Annotations = map[string]string{}
	}
	ns.Annotations["test/touched"] = time.Now().String()
	require.NoError(t, env.Client.Update(context.Background(), ns))
}

// The sidecars of each enabled namespace get the exchange's CA bundle, which
// follows a rotation of the CA file: the new CA first, the old one beside it
// for the overlap, then the new one alone; the bundle goes with the label.
func TestIntegrationTheExchangesCABundleFollowsARotation(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	caFile := filepath.Join(t.TempDir(), "ca.crt")
	old, rotated := access.PEMCA(t, "old"), access.PEMCA(t, "new")
	require.NoError(t, os.WriteFile(caFile, old, 0o600))
	startAsWebhook(t, env, access.Options{CAFile: caFile, CAOverlap: 3 * time.Second, CAPoll: 100 * time.Millisecond})
	ns := env.Namespace(t, map[string]string{"hotreload/injection": "enabled"})
	bundle := func() string {
		cm := &corev1.ConfigMap{}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: contract.ExchangeCAConfigMap}, cm); err != nil {
			return err.Error()
		}
		return cm.Data[contract.ExchangeCAKey]
	}
	waitBundle := func(want, msg string) {
		t.Helper()
		ok := assertEventually(func() bool { return bundle() == want })
		require.True(t, ok, "%s: got %q", msg, bundle())
	}
	waitBundle(string(old), "an enabled namespace gets the CA")
	require.NoError(t, os.WriteFile(caFile, rotated, 0o600))
	waitBundle(string(rotated)+string(old), "a rotated CA comes first, the old one stays")
	waitBundle(string(rotated), "after the overlap, the new CA alone")

	nsObj := &corev1.Namespace{}
	require.NoError(t, env.Client.Get(ctx, client.ObjectKey{Name: ns}, nsObj))
	delete(nsObj.Labels, "hotreload/injection")
	require.NoError(t, env.Client.Update(ctx, nsObj))
	waitBundle(`configmaps "`+contract.ExchangeCAConfigMap+`" not found`, "the bundle goes with the label")
}

// With an install namespace, everything the reconciler makes in an enabled
// namespace is owned by it, so that deleting it (uninstalling) has the
// garbage collector delete them: what it makes anew, and what an earlier
// version made without an owner or an earlier install owned.
func TestIntegrationWhatItMakesIsOwnedByTheInstallNamespace(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	caFile, ca := filepath.Join(t.TempDir(), "ca.crt"), access.PEMCA(t, "ca")
	require.NoError(t, os.WriteFile(caFile, ca, 0o600))
	env.Apply(t, env.Kustomize(t, "../../deploy/base"))
	install := &corev1.Namespace{}
	require.NoError(t, env.Client.Get(ctx, client.ObjectKey{Name: "hotreload-system"}, install))
	owner := metav1.OwnerReference{APIVersion: "v1", Kind: "Namespace", Name: "hotreload-system", UID: install.UID}

	// Before the controller starts, what an earlier version made without an
	// owner, and what an earlier install made, owned by a namespace of the
	// same name deleted since.
	earlier := env.Namespace(t, map[string]string{"hotreload/injection": "enabled"})
	stale := metav1.OwnerReference{APIVersion: "v1", Kind: "Namespace", Name: "hotreload-system", UID: "0b5e55ed-0000-0000-0000-000000000000"}
	sa, rb, controller := access.ServiceAccount(earlier), access.RoleBinding(earlier), access.ControllerRoleBinding(earlier, webhook)
	rb.OwnerReferences = []metav1.OwnerReference{stale}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: contract.ExchangeCAConfigMap, Namespace: earlier,
			Labels: map[string]string{access.ManagedByLabel: access.ManagedBy}, OwnerReferences: []metav1.OwnerReference{stale}},
		Data: map[string]string{contract.ExchangeCAKey: string(ca)},
	}
	for _, o := range []client.Object{sa, rb, controller, cm} {
		require.NoError(t, env.Client.Create(ctx, o))
	}

	startAsWebhook(t, env, access.Options{CAFile: caFile, InstallNamespace: "hotreload-system"})
	owned := func(ns string) objects {
		o := objects{sa: access.ServiceAccount(ns), rb: access.RoleBinding(ns), controller: access.ControllerRoleBinding(ns, webhook)}
		for _, m := range []metav1.Object{o.sa, o.rb, o.controller} {
			m.SetOwnerReferences([]metav1.OwnerReference{owner})
		}
		return o
	}
	bundleOwners := func(ns string) []metav1.OwnerReference {
		cm := &corev1.ConfigMap{}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: contract.ExchangeCAConfigMap}, cm); err != nil {
			return nil
		}
		return cm.OwnerReferences
	}

	fresh := env.Namespace(t, map[string]string{"hotreload/injection": "enabled"})
	eventually(t, env, fresh, owned(fresh), "what is made anew is owned by the install namespace")
	require.True(t, assertEventually(func() bool { return equalJSON(bundleOwners(fresh), []metav1.OwnerReference{owner}) }),
		"the CA bundle is owned by the install namespace: %v", bundleOwners(fresh))

	eventually(t, env, earlier, owned(earlier), "an earlier version's objects get the install namespace as owner")
	require.True(t, assertEventually(func() bool { return equalJSON(bundleOwners(earlier), []metav1.OwnerReference{owner}) }),
		"an earlier install's CA bundle is owned by this one: %v", bundleOwners(earlier))
	got := &corev1.ServiceAccount{}
	require.NoError(t, env.Client.Get(ctx, client.ObjectKeyFromObject(sa), got))
	require.Equal(t, sa.UID, got.UID, "the ServiceAccount is the same one, not made again (the reloaders' tokens stay valid)")
}
