//go:build integration

package deploy_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	applycorev1 "k8s.io/client-go/applyconfigurations/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hotreload/hotreload/internal/access"
	"github.com/hotreload/hotreload/internal/testenv"
)

func controllerDenied(kind, name, msg string) string {
	return fmt.Sprintf("%s %q is forbidden: ValidatingAdmissionPolicy 'hotreload-controller' with binding 'hotreload-controller' denied request: %s", kind, name, msg)
}

// The controller's identity (the webhook's ServiceAccount, with its real
// token and RBAC from deploy/base) writes only the copies it keeps: objects
// named hotreload-*, labelled as hotreload's, in enabled namespaces. It can
// neither create, take over, edit nor delete a user's ConfigMap or Secret: not
// by update (the policy), nor by JSON patch or server-side apply (RBAC grants
// no patch).
func TestIntegrationControllerWritesOnlyTheCopiesItKeeps(t *testing.T) {
	env := testenv.Get(t)
	installBase(t, env)
	ctx := ctxFor(t)
	enabled := env.Namespace(t, map[string]string{"hotreload/injection": "enabled"})
	disabled := env.Namespace(t, nil)
	// As the controller binds itself in each enabled namespace (internal/access).
	require.NoError(t, env.Client.Create(ctx, access.ControllerRoleBinding(enabled, webhookAccount)))
	ctrl, _ := as(t, env, token(t, env, "hotreload-system", "hotreload-webhook", nil))
	labelEnabled(t, env, "kube-system")
	managed := map[string]string{"app.kubernetes.io/managed-by": "hotreload"}
	cm := func(ns, name string, labels map[string]string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels}, Data: map[string]string{"k": "v"}}
	}
	// Users' objects, made by an admin.
	require.NoError(t, env.Client.Create(ctx, cm(enabled, "app", nil)))
	require.NoError(t, env.Client.Create(ctx, cm(enabled, "hotreload-users", nil)))
	require.NoError(t, env.Client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: enabled, Name: "db"}, Data: map[string][]byte{"password": []byte("p")}}))
	require.Eventually(t, func() bool {
		err := ctrl.Create(ctx, cm(enabled, "app-probe", nil), client.DryRunAll)
		return apierrors.IsForbidden(err) && apierrors.ReasonForError(err) == metav1.StatusReasonForbidden
	}, 30*time.Second, 200*time.Millisecond, "the API server enforces the policy")

	t.Run("it keeps its copies in an enabled namespace", func(t *testing.T) {
		own := cm(enabled, "hotreload-stable-app", managed)
		require.NoError(t, ctrl.Create(ctx, own))
		own.Data = map[string]string{"k": "v2"}
		require.NoError(t, ctrl.Update(ctx, own))
		require.NoError(t, ctrl.Delete(ctx, own))
		sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: enabled, Name: "hotreload-stable-db", Labels: managed}, Data: map[string][]byte{"password": []byte("p")}}
		require.NoError(t, ctrl.Create(ctx, sec))
	})
	for _, tc := range []struct {
		name string
		do   func() error
		want string
	}{
		{"it creates nothing of a user's name", func() error { return ctrl.Create(ctx, cm(enabled, "app2", managed)) },
			controllerDenied("configmaps", "app2", "the hotreload controller may write only ConfigMaps and Secrets named hotreload-*")},
		{"it creates nothing without its label", func() error { return ctrl.Create(ctx, cm(enabled, "hotreload-x", nil)) },
			controllerDenied("configmaps", "hotreload-x", "the hotreload controller may write only ConfigMaps and Secrets labelled app.kubernetes.io/managed-by=hotreload")},
		{"it writes nothing in kube-system, whatever its labels", func() error { return ctrl.Create(ctx, cm("kube-system", "hotreload-stable-app", managed)) },
			controllerDenied("configmaps", "hotreload-stable-app", "the hotreload controller never writes ConfigMaps or Secrets in kube-system or hotreload-system, whatever their labels")},
		{"it writes nothing in a namespace that is not enabled", func() error { return ctrl.Create(ctx, cm(disabled, "hotreload-stable-app", managed)) },
			controllerDenied("configmaps", "hotreload-stable-app", "the hotreload controller writes ConfigMaps and Secrets only in namespaces labelled hotreload/injection=enabled")},
		{"it does not edit a user's ConfigMap", func() error {
			u := &corev1.ConfigMap{}
			require.NoError(t, ctrl.Get(ctx, client.ObjectKey{Namespace: enabled, Name: "app"}, u))
			u.Data = map[string]string{"k": "evil"}
			return ctrl.Update(ctx, u)
		}, controllerDenied("configmaps", "app", "the hotreload controller may write only ConfigMaps and Secrets named hotreload-*")},
		{"it does not take over a user's object of a hotreload- name, even by patch", func() error {
			return ctrl.Patch(ctx, cm(enabled, "hotreload-users", nil), client.RawPatch(types.JSONPatchType,
				[]byte(`[{"op":"add","path":"/metadata/labels","value":{"app.kubernetes.io/managed-by":"hotreload"}}]`)))
		}, `configmaps "hotreload-users" is forbidden: User "system:serviceaccount:hotreload-system:hotreload-webhook" cannot patch resource "configmaps" in API group "" in the namespace "` + enabled + `"`},
		{"it does not take over a user's object of a hotreload- name by update", func() error {
			u := &corev1.ConfigMap{}
			require.NoError(t, ctrl.Get(ctx, client.ObjectKey{Namespace: enabled, Name: "hotreload-users"}, u))
			u.Labels = managed
			return ctrl.Update(ctx, u)
		}, controllerDenied("configmaps", "hotreload-users", "the hotreload controller may not take over a ConfigMap or Secret that is not hotreload's")},
		{"it does not edit a user's Secret by server-side apply", func() error {
			ac := applycorev1.Secret("db", enabled).WithData(map[string][]byte{"password": []byte("evil")})
			return ctrl.Apply(ctx, ac, client.FieldOwner("hotreload"), client.ForceOwnership)
		}, `secrets "db" is forbidden: User "system:serviceaccount:hotreload-system:hotreload-webhook" cannot patch resource "secrets" in API group "" in the namespace "` + enabled + `"`},
		{"it deletes no user's object", func() error { return ctrl.Delete(ctx, cm(enabled, "app", nil)) },
			controllerDenied("configmaps", "app", "the hotreload controller may write only ConfigMaps and Secrets named hotreload-*")},
		{"it reads no Secret of a namespace that is not enabled", func() error {
			return ctrl.List(ctx, &corev1.SecretList{}, client.InNamespace(disabled))
		}, `secrets is forbidden: User "system:serviceaccount:hotreload-system:hotreload-webhook" cannot list resource "secrets" in API group "" in the namespace "` + disabled + `"`},
		{"it reads no Secret of the cluster at once", func() error { return ctrl.List(ctx, &corev1.SecretList{}) },
			`secrets is forbidden: User "system:serviceaccount:hotreload-system:hotreload-webhook" cannot list resource "secrets" in API group "" at the cluster scope`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do()
			require.Error(t, err)
			assert.Equal(t, tc.want, err.Error())
		})
	}
	u := &corev1.ConfigMap{}
	require.NoError(t, env.Client.Get(ctx, client.ObjectKey{Namespace: enabled, Name: "app"}, u))
	assert.Equal(t, map[string]string{"k": "v"}, u.Data, "the user's ConfigMap is as it was")
}

// The controller's identity patches only hotreload/ keys of a pod, gives the
// reloader's role only to the reloader's account and its own rights of a
// namespace only to itself, only in enabled namespaces, whatever RBAC lets it
// do.
func TestIntegrationControllerTouchesOnlyWhatIsHotreloads(t *testing.T) {
	env := testenv.Get(t)
	installBase(t, env)
	ctx := ctxFor(t)
	enabled := env.Namespace(t, map[string]string{"hotreload/injection": "enabled"})
	disabled := env.Namespace(t, nil)
	ctrl, _ := as(t, env, token(t, env, "hotreload-system", "hotreload-webhook", nil))
	labelEnabled(t, env, "kube-system")
	pod := newPod("web", "", map[string]string{"app": "web", "hotreload/enable": "true"}, map[string]string{"owner": "team-a"})
	pod.Namespace = enabled
	require.NoError(t, env.Client.Create(ctx, pod))
	denied := func(policy, kind, name, msg string) string {
		return fmt.Sprintf("%s %q is forbidden: ValidatingAdmissionPolicy '%s' with binding '%s' denied request: %s", kind, name, policy, policy, msg)
	}
	patch := func(p string) func() error {
		return func() error { return ctrl.Patch(ctx, pod.DeepCopy(), client.RawPatch(types.MergePatchType, []byte(p))) }
	}
	binding := func(ns, name, role string, subject rbacv1.Subject) func() error {
		return func() error {
			return ctrl.Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
				RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
				Subjects: []rbacv1.Subject{subject}})
		}
	}
	reloaderIn := func(ns string) rbacv1.Subject {
		return rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: "hotreload-reloader", Namespace: ns}
	}
	require.Eventually(t, func() bool {
		err := ctrl.Patch(ctx, pod.DeepCopy(), client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"app":"probe"}}}`)), client.DryRunAll)
		return apierrors.IsForbidden(err)
	}, 30*time.Second, 200*time.Millisecond, "the API server enforces the policies")

	const (
		noSpec   = "the hotreload controller may not change a pod's spec"
		ownKeys  = "the hotreload controller may change only hotreload/ labels and annotations of a pod"
		onlyName = "the hotreload controller may create only the ServiceAccount hotreload-reloader and the RoleBindings hotreload-reloader and hotreload-controller"
		onlyRole = "the hotreload controller may bind only the ClusterRole hotreload-reloader to the ServiceAccount hotreload-reloader of the same namespace"
		onlySelf = "the hotreload controller may bind the ClusterRole hotreload-controller-namespace only to its own ServiceAccount, hotreload-system/hotreload-webhook"
		onlyNS   = "the hotreload controller gives access only in namespaces labelled hotreload/injection=enabled"
	)
	itself := rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: "hotreload-webhook", Namespace: "hotreload-system"}
	for _, tc := range []struct {
		name string
		do   func() error
		want string // "" when allowed
	}{
		{"it releases a revision to a pod", patch(`{"metadata":{"annotations":{"hotreload/released":"0123456789ab","hotreload/candidates":"ConfigMap/app=abc"}}}`), ""},
		{"it removes a pod's failure", patch(`{"metadata":{"annotations":{"hotreload/failed":null}}}`), ""},
		{"it changes no other annotation", patch(`{"metadata":{"annotations":{"owner":"mallory"}}}`), denied("hotreload-controller-pods", "pods", "web", ownKeys)},
		{"it removes no label", patch(`{"metadata":{"labels":{"app":null}}}`), denied("hotreload-controller-pods", "pods", "web", ownKeys)},
		{"it changes no spec", patch(`{"spec":{"activeDeadlineSeconds":1}}`), denied("hotreload-controller-pods", "pods", "web", noSpec)},
		{"it adds no finalizer", patch(`{"metadata":{"finalizers":["example.com/hold"]}}`),
			denied("hotreload-controller-pods", "pods", "web", "the hotreload controller may not change a pod's finalizers or owners")},
		{"it creates the reloader's account", func() error {
			return ctrl.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: enabled, Name: "hotreload-reloader"}})
		}, ""},
		{"it creates no other account", func() error {
			return ctrl.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: enabled, Name: "builder"}})
		}, denied("hotreload-controller-access", "serviceaccounts", "builder", onlyName)},
		{"it binds the reloader's role to the reloader's account", binding(enabled, "hotreload-reloader", "hotreload-reloader", reloaderIn(enabled)), ""},
		{"it binds the reloader's role to nobody else", binding(enabled, "hotreload-reloader", "hotreload-reloader",
			rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: "default", Namespace: enabled}), denied("hotreload-controller-access", "rolebindings.rbac.authorization.k8s.io", "hotreload-reloader", onlyRole)},
		{"it binds no account of another namespace", binding(enabled, "hotreload-reloader", "hotreload-reloader", reloaderIn(disabled)),
			denied("hotreload-controller-access", "rolebindings.rbac.authorization.k8s.io", "hotreload-reloader", onlyRole)},
		{"it binds under no other name", binding(enabled, "extra", "hotreload-reloader", reloaderIn(enabled)),
			denied("hotreload-controller-access", "rolebindings.rbac.authorization.k8s.io", "extra", onlyName)},
		{"it gives no access in a namespace that is not enabled", binding(disabled, "hotreload-reloader", "hotreload-reloader", reloaderIn(disabled)),
			denied("hotreload-controller-access", "rolebindings.rbac.authorization.k8s.io", "hotreload-reloader", onlyNS)},
		{"it binds its rights of an enabled namespace to itself", binding(enabled, "hotreload-controller", "hotreload-controller-namespace", itself), ""},
		{"it binds those rights to nobody else", binding(enabled, "hotreload-controller", "hotreload-controller-namespace",
			rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: "default", Namespace: enabled}),
			denied("hotreload-controller-access", "rolebindings.rbac.authorization.k8s.io", "hotreload-controller", onlySelf)},
		{"it binds no other role to itself", binding(enabled, "hotreload-controller", "hotreload-reloader", itself),
			denied("hotreload-controller-access", "rolebindings.rbac.authorization.k8s.io", "hotreload-controller", onlySelf)},
		{"it binds those rights under no other name", binding(enabled, "extra", "hotreload-controller-namespace", itself),
			denied("hotreload-controller-access", "rolebindings.rbac.authorization.k8s.io", "extra", onlyName)},
		{"it grants itself nothing in a namespace that is not enabled", binding(disabled, "hotreload-controller", "hotreload-controller-namespace", itself),
			denied("hotreload-controller-access", "rolebindings.rbac.authorization.k8s.io", "hotreload-controller", onlyNS)},
		{"it grants itself nothing in kube-system, whatever its labels", binding("kube-system", "hotreload-controller", "hotreload-controller-namespace", itself),
			denied("hotreload-controller-access", "rolebindings.rbac.authorization.k8s.io", "hotreload-controller", "the hotreload controller never gives access in kube-system or hotreload-system, whatever their labels")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do()
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Equal(t, tc.want, err.Error())
		})
	}
	got := &corev1.Pod{}
	require.NoError(t, env.Client.Get(ctx, client.ObjectKeyFromObject(pod), got))
	assert.Equal(t, map[string]string{"app": "web", "hotreload/enable": "true"}, got.Labels)
	assert.Equal(t, map[string]string{"owner": "team-a", "hotreload/released": "0123456789ab", "hotreload/candidates": "ConfigMap/app=abc"}, got.Annotations)
}
