//go:build integration

package deploy_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hotreload/hotreload/internal/access"
	"github.com/hotreload/hotreload/internal/testenv"
)

// The controller's Lease, and where the policy looks for it.
const (
	leaseNamespace = "hotreload-system"
	leaseName      = "hotreload-controller"
)

// replica returns a pod of the webhook Deployment (its ServiceAccount) in
// hotreload-system, made once, and the client of its own pod-bound token.
func replica(t *testing.T, env *testenv.Env, name string) client.Client {
	t.Helper()
	ctx := ctxFor(t)
	pod := newPod(name, "hotreload-webhook", nil, nil)
	pod.Namespace = leaseNamespace // Pod Security restricted
	pod.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}
	pod.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false),
		Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}
	if err := env.Client.Create(ctx, pod); apierrors.IsAlreadyExists(err) {
		require.NoError(t, env.Client.Get(ctx, client.ObjectKeyFromObject(pod), pod))
	} else {
		require.NoError(t, err)
	}
	c, _ := as(t, env, token(t, env, leaseNamespace, "hotreload-webhook", pod))
	return c
}

// holdLease makes the pod named hold the controller's Lease, as
// controller-runtime's leader election writes it (hostname "_" random ID),
// and waits until the API server's policy sees it.
func holdLease(t *testing.T, env *testenv.Env, pod string, as client.Client) {
	t.Helper()
	ctx := ctxFor(t)
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: leaseNamespace, Name: leaseName}}
	err := env.Client.Get(ctx, client.ObjectKeyFromObject(lease), lease)
	lease.Spec.HolderIdentity = ptr.To(pod + "_0d3b8c1e-5b7a-4a59-9f1e-3f6e2d7c9a10")
	switch {
	case apierrors.IsNotFound(err):
		require.NoError(t, env.Client.Create(ctx, lease))
	default:
		require.NoError(t, err)
		require.NoError(t, env.Client.Update(ctx, lease))
	}
	require.Eventually(t, func() bool {
		return as.Create(ctx, release(leaseNamespace, "leader-probe"), client.DryRunAll) == nil
	}, 30*time.Second, 100*time.Millisecond, "the policy sees %s hold the Lease", pod)
}

func release(ns, name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "hotreload.dev/v1alpha1", "kind": "ConfigRelease",
		"metadata": map[string]any{"name": name, "namespace": ns},
		"spec":     map[string]any{"source": map[string]any{"kind": "ConfigMap", "name": "app"}},
	}}
}

// leader is the controller's identity as its leader has it: a replica that
// holds the Lease.
func leader(t *testing.T, env *testenv.Env) client.Client {
	t.Helper()
	c := replica(t, env, "hotreload-webhook-leader")
	holdLease(t, env, "hotreload-webhook-leader", c)
	return c
}

func notLeader(kind, name, pod string) string {
	return fmt.Sprintf("%s %q is forbidden: ValidatingAdmissionPolicy 'hotreload-controller-leader' with binding 'hotreload-controller-leader' denied request: "+
		"only the leader of the hotreload controller writes releases: pod %s does not hold the Lease hotreload-system/hotreload-controller", kind, name, pod)
}

// Only the replica that holds the controller's Lease writes releases: a
// pod's release, a ConfigRelease and its status, a kept copy. Another
// replica, or a former leader paused through a takeover, is refused each
// (and still writes the token exchange's record on a pod).
func TestIntegrationOnlyTheLeaderWritesReleases(t *testing.T) {
	env := testenv.Get(t)
	installBase(t, env)
	ctx := ctxFor(t)
	ns := env.Namespace(t, map[string]string{"hotreload/injection": "enabled"})
	require.NoError(t, env.Client.Create(ctx, access.ControllerRoleBinding(ns, webhookAccount)))
	pod := newPod("web", "", map[string]string{"hotreload/enable": "true"}, nil)
	pod.Namespace = ns
	require.NoError(t, env.Client.Create(ctx, pod))
	a, b := replica(t, env, "hotreload-webhook-a"), replica(t, env, "hotreload-webhook-b")
	holdLease(t, env, "hotreload-webhook-a", a)

	writes := func(c client.Client, n int) []func() error {
		kept := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("hotreload-stable-app%d", n),
			Labels: map[string]string{"app.kubernetes.io/managed-by": "hotreload"}}, Data: map[string]string{"k": "v"}}
		rel := release(ns, fmt.Sprintf("configmap-app%d", n))
		return []func() error{
			func() error {
				return c.Patch(ctx, pod.DeepCopy(), client.RawPatch(types.MergePatchType,
					fmt.Appendf(nil, `{"metadata":{"annotations":{"hotreload/released":"%012d"}}}`, n)))
			},
			func() error { return c.Create(ctx, rel) },
			func() error {
				require.NoError(t, env.Client.Get(ctx, client.ObjectKeyFromObject(rel), rel))
				require.NoError(t, unstructured.SetNestedField(rel.Object, "Complete", "status", "phase"))
				return c.Status().Update(ctx, rel)
			},
			func() error { return c.Create(ctx, kept) },
		}
	}
	refusals := func(pod string, n int) []string {
		return []string{notLeader("pods", "web", pod), notLeader("configreleases.hotreload.dev", fmt.Sprintf("configmap-app%d", n), pod),
			notLeader("configreleases.hotreload.dev", fmt.Sprintf("configmap-app%d", n), pod), notLeader("configmaps", fmt.Sprintf("hotreload-stable-app%d", n), pod)}
	}
	errs := func(fs []func() error) []string {
		var out []string
		for _, f := range fs {
			if err := f(); err != nil {
				out = append(out, err.Error())
			} else {
				out = append(out, "")
			}
		}
		return out
	}
	allowed := []string{"", "", "", ""}

	// The releases a replica is refused are made by an admin, for their
	// status writes. (Admission refuses a create before the API server
	// finds the object exists.)
	require.NoError(t, env.Client.Create(ctx, release(ns, "configmap-app1")))
	assert.Equal(t, refusals("hotreload-webhook-b", 1), errs(writes(b, 1)), "a replica that does not lead writes no release")
	assert.Equal(t, allowed, errs(writes(a, 2)), "the leader writes releases")
	require.NoError(t, b.Patch(ctx, pod.DeepCopy(), client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"annotations":{"hotreload/reloader-credential":"x"}}}`))),
		"every replica writes the token exchange's record")

	// A takeover: b leads; a, paused through it, then resumed, is refused.
	holdLease(t, env, "hotreload-webhook-b", b)
	require.NoError(t, env.Client.Create(ctx, release(ns, "configmap-app3")))
	assert.Equal(t, refusals("hotreload-webhook-a", 3), errs(writes(a, 3)), "a former leader writes no release")
	assert.Equal(t, allowed, errs(writes(b, 4)), "the new leader does")

	// No Lease (none elected yet, or leader election off): no takeover to
	// guard against, and nobody else's writes are refused for it.
	require.NoError(t, env.Client.Delete(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: leaseNamespace, Name: leaseName}}))
	require.Eventually(t, func() bool {
		return a.Create(ctx, release(leaseNamespace, "leader-probe"), client.DryRunAll) == nil
	}, 30*time.Second, 100*time.Millisecond, "without a Lease the check is off")
	require.NoError(t, env.Client.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "users"}}), "an admin's write")
}
