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
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hotreload/hotreload/internal/testenv"
)

// People act on releases through the roles deploy/base aggregates into view
// and edit: a viewer reads releases and cannot command them; an operator
// patches a release's spec with a command in its own name only (the
// hotreload-release-commands policy), and deletes no release.
func TestIntegrationReleaseCommandsAreGivenInTheirOwnName(t *testing.T) {
	env := testenv.Get(t)
	installBase(t, env)
	ctx := ctxFor(t)
	ns := env.Namespace(t, map[string]string{"hotreload/injection": "enabled"})
	for _, o := range []client.Object{
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "alice", Namespace: ns}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "bob", Namespace: ns}},
		binding(ns, "alice", "hotreload-release-operator"), binding(ns, "alice-view", "hotreload-release-viewer", "alice"),
		binding(ns, "bob", "hotreload-release-viewer"),
	} {
		require.NoError(t, env.Client.Create(ctx, o))
	}
	rel := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "hotreload.dev/v1alpha1", "kind": "ConfigRelease",
		"metadata": map[string]any{"name": "configmap-app", "namespace": ns},
		"spec":     map[string]any{"source": map[string]any{"kind": "ConfigMap", "name": "app"}},
	}}
	require.NoError(t, env.Client.Create(ctx, rel))
	alice, _ := as(t, env, token(t, env, ns, "alice", nil))
	bob, _ := as(t, env, token(t, env, ns, "bob", nil))
	aliceName := "system:serviceaccount:" + ns + ":alice"
	command := func(c client.Client, id, by string) error {
		body := fmt.Sprintf(`{"spec":{"paused":true,"command":{"id":%q,"action":"Pause","by":%q,"reason":"checking"}}}`, id, by)
		target := &unstructured.Unstructured{}
		target.SetAPIVersion("hotreload.dev/v1alpha1")
		target.SetKind("ConfigRelease")
		target.SetNamespace(ns)
		target.SetName("configmap-app")
		return c.Patch(ctx, target, client.RawPatch(types.MergePatchType, []byte(body)))
	}
	require.Eventually(t, func() bool {
		return apierrors.IsForbidden(command(alice, "probe", "someone-else"))
	}, 30*time.Second, 200*time.Millisecond, "the API server enforces the policy")

	require.NoError(t, command(alice, "a1", aliceName), "an operator commands in its own name")
	got := &unstructured.Unstructured{}
	got.SetAPIVersion("hotreload.dev/v1alpha1")
	got.SetKind("ConfigRelease")
	require.NoError(t, bob.Get(ctx, client.ObjectKey{Namespace: ns, Name: "configmap-app"}, got), "a viewer reads releases")
	by, _, _ := unstructured.NestedString(got.Object, "spec", "command", "by")
	assert.Equal(t, aliceName, by)

	err := command(alice, "a2", "system:serviceaccount:"+ns+":bob")
	assert.EqualError(t, err, `configreleases.hotreload.dev "configmap-app" is forbidden: ValidatingAdmissionPolicy 'hotreload-release-commands' with binding 'hotreload-release-commands' denied request: spec.command.by must be the requesting user, `+aliceName)
	err = command(alice, "a3", "")
	assert.True(t, apierrors.IsForbidden(err), "a command in nobody's name is refused: %v", err)
	err = command(bob, "b1", "system:serviceaccount:"+ns+":bob")
	assert.True(t, apierrors.IsForbidden(err), "a viewer gives no command: %v", err)
	err = alice.Delete(ctx, got)
	assert.True(t, apierrors.IsForbidden(err), "an operator deletes no release: %v", err)

	// An admin's write that leaves the command alone is not checked.
	require.NoError(t, env.Client.Patch(ctx, got, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"paused":false}}`))))
}

// binding binds the ServiceAccount (name, or the one given) of ns to a ClusterRole in ns.
func binding(ns, name, role string, sa ...string) *rbacv1.RoleBinding {
	subject := name
	if len(sa) > 0 {
		subject = sa[0]
	}
	return &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: subject, Namespace: ns}},
	}
}
