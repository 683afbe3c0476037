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
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hotreload/hotreload/internal/testenv"
)

func keptDenied(kind, name string) string {
	return fmt.Sprintf("%s %q is forbidden: ValidatingAdmissionPolicy 'hotreload-kept-copies' with binding 'hotreload-kept-copies' denied request: "+
		"ConfigMaps and Secrets named hotreload-* and labelled app.kubernetes.io/managed-by=hotreload are the copies hotreload keeps of a source; "+
		"only its controller writes them: change the source instead, or use kubectl hotreload undo", kind, name)
}

// A namespace editor (what Kubernetes' edit role grants) writes the namespace's
// ConfigMaps and Secrets, but not the copies hotreload keeps of them: no
// update, patch or delete of one, no new one, no label taken off one. The
// controller and a cluster admin still write them.
func TestIntegrationEditorsCannotWriteKeptCopies(t *testing.T) {
	env := testenv.Get(t)
	installBase(t, env)
	ctx := ctxFor(t)
	ns := env.Namespace(t, map[string]string{"hotreload/injection": "enabled"})
	// What Kubernetes' edit role grants on them (envtest runs no controller
	// to aggregate that role).
	editor := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "editor", Namespace: ns}, Rules: []rbacv1.PolicyRule{{
		APIGroups: []string{""}, Resources: []string{"configmaps", "secrets"},
		Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"},
	}}}
	eveEdits := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "eve", Namespace: ns},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "editor"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "eve", Namespace: ns}}}
	for _, o := range []client.Object{
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "eve", Namespace: ns}}, editor, eveEdits,
	} {
		require.NoError(t, env.Client.Create(ctx, o))
	}
	managed := map[string]string{"app.kubernetes.io/managed-by": "hotreload", "hotreload.dev/role": "stable"}
	cm := func(name string, labels map[string]string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels}, Data: map[string]string{"k": "v"}}
	}
	require.NoError(t, env.Client.Create(ctx, cm("hotreload-stable-app", managed)))
	require.NoError(t, env.Client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hotreload-stable-db", Labels: managed},
		Data: map[string][]byte{"password": []byte("p")}}))
	eve, _ := as(t, env, token(t, env, ns, "eve", nil))
	require.Eventually(t, func() bool {
		return apierrors.IsForbidden(eve.Create(ctx, cm("hotreload-probe", managed), client.DryRunAll))
	}, 30*time.Second, 200*time.Millisecond, "the API server enforces the policy")

	read := func(name string) *corev1.ConfigMap {
		o := &corev1.ConfigMap{}
		require.NoError(t, eve.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, o), "an editor still reads it")
		return o
	}
	for _, tc := range []struct {
		name string
		do   func() error
		want string
	}{
		{"no update of its content", func() error {
			o := read("hotreload-stable-app")
			o.Data = map[string]string{"k": "forged"}
			return eve.Update(ctx, o)
		}, keptDenied("configmaps", "hotreload-stable-app")},
		{"no patch", func() error {
			return eve.Patch(ctx, cm("hotreload-stable-app", nil), client.RawPatch(types.MergePatchType, []byte(`{"data":{"k":"forged"}}`)))
		}, keptDenied("configmaps", "hotreload-stable-app")},
		{"no label taken off", func() error {
			o := read("hotreload-stable-app")
			o.Labels = nil
			return eve.Update(ctx, o)
		}, keptDenied("configmaps", "hotreload-stable-app")},
		{"no delete", func() error { return eve.Delete(ctx, cm("hotreload-stable-app", nil)) },
			keptDenied("configmaps", "hotreload-stable-app")},
		{"no new one", func() error { return eve.Create(ctx, cm("hotreload-rev-app-000000000000", managed)) },
			keptDenied("configmaps", "hotreload-rev-app-000000000000")},
		{"no Secret either", func() error {
			return eve.Patch(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hotreload-stable-db"}},
				client.RawPatch(types.MergePatchType, []byte(`{"stringData":{"password":"forged"}}`)))
		}, keptDenied("secrets", "hotreload-stable-db")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.EqualError(t, tc.do(), tc.want)
		})
	}
	assert.Equal(t, map[string]string{"k": "v"}, read("hotreload-stable-app").Data, "the kept copy is as it was")

	t.Run("an editor writes everything else", func(t *testing.T) {
		require.NoError(t, eve.Create(ctx, cm("app", nil)))
		require.NoError(t, eve.Create(ctx, cm("hotreload-mine", nil)), "a name alone does not make a kept copy")
		require.NoError(t, eve.Create(ctx, cm("mine", managed)), "nor does the label alone")
		require.NoError(t, eve.Delete(ctx, cm("mine", nil)))
	})
	t.Run("a cluster admin still does", func(t *testing.T) {
		o := read("hotreload-stable-app")
		o.Data = map[string]string{"k": "v2"}
		require.NoError(t, env.Client.Update(ctx, o))
	})
}
