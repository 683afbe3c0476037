//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/contract"
)

// TestReleaseSurvivesReplaceForce: a release halted on a bad config, then
// `kubectl replace --force` of its ConfigMap (deleted and created again, the
// same content, a new object), with the garbage collector running. The
// release goes on, still halted on the same halt; a scale-up puts the bad
// config on no pod.
func TestReleaseSurvivesReplaceForce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	cs := clusterClient(t)
	installHotreload(ctx, t, cs)
	d, _, good, halted := haltedDemo(ctx, t, cs, "replaced")
	require.Empty(t, halted.OwnerReferences, "the release is not owned by its source object")

	// kubectl get cm -o yaml | kubectl replace --force -f -
	cms := cs.CoreV1().ConfigMaps(d.ns)
	old, err := cms.Get(ctx, d.name, metav1.GetOptions{})
	require.NoError(t, err)
	require.NoError(t, cms.Delete(ctx, d.name, metav1.DeleteOptions{}))
	require.Eventually(t, func() bool {
		_, err := cms.Get(ctx, d.name, metav1.GetOptions{})
		return err != nil
	}, time.Minute, 50*time.Millisecond, "the ConfigMap is deleted")
	again := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: old.Name, Labels: old.Labels, Annotations: old.Annotations}, Data: old.Data}
	created, err := cms.Create(ctx, again, metav1.CreateOptions{})
	require.NoError(t, err)
	require.NotEqual(t, old.UID, created.UID)

	// Scale up: the new pods start on stable, none is given the bad config.
	patchDeployment(ctx, t, cs, d.ns, d.name, `{"spec":{"replicas":5}}`)
	pods := waitDeploymentPods(ctx, t, cs, d.ns, "app="+d.name, 5)
	requireServing(ctx, t, pods, good, "no pod serves the bad config after replace --force and a scale-up")
	rel := waitRelease(ctx, t, cs, d.ns, d.name, "still halted with five pods", time.Minute, func(rel *v1alpha1.ConfigRelease) bool {
		return rel.Status.Phase == v1alpha1.PhaseHalted && rel.Status.SourceGoneSince == nil &&
			len(rel.Status.Workloads) == 1 && rel.Status.Workloads[0].Pods == 5
	})
	require.Equal(t, halted.UID, rel.UID, "the same release")
	require.Equal(t, halted.Status.Stable, rel.Status.Stable)
	require.Equal(t, halted.Status.Candidate, rel.Status.Candidate)
	require.Equal(t, halted.Status.Halt.Pod, rel.Status.Halt.Pod, "the same halt")
}

// haltedDemo starts a demo of three pods at 1,100% that serves a good
// config, edits in one its first pod refuses, and waits until the release
// halted, rolled back and every pod serves the good config again.
func haltedDemo(ctx context.Context, t *testing.T, cs *kubernetes.Clientset, name string) (demo, map[string]string, string, *v1alpha1.ConfigRelease) {
	t.Helper()
	d := demo{
		name: name, replicas: 3, subPath: true, inject: true,
		annotations: map[string]string{"hotreload/rollout": "1,100%", "hotreload/rollout-interval": "3s"},
		args:        []string{"--fail-on=broken"},
	}
	good := uniqueConfig("color=blue")
	pods := d.start(ctx, t, cs, good)
	bad := uniqueConfig("color=red broken")
	d.edit(ctx, t, cs, bad)
	halted := waitRelease(ctx, t, cs, d.ns, d.name, "halted and rolled back", 2*time.Minute, rolledBack(sourceRevision(bad)))
	waitServing(ctx, t, pods, good, time.Now(), 90*time.Second) // the canary once the kubelet started it again
	return d, pods, good, halted
}

// TestForgedStableCopyIsNeverServed: a release halted on a bad config, so
// that new pods start on the stable copy. A namespace editor may not write
// that copy (the hotreload-kept-copies policy); a cluster admin rewrites it
// with content of their choosing, labels and all. The controller restores
// it, says so in a Warning Event, and after a rollout restart every pod
// serves the stable config, none the forged one.
func TestForgedStableCopyIsNeverServed(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	cs := clusterClient(t)
	installHotreload(ctx, t, cs)
	d, pods, good, _ := haltedDemo(ctx, t, cs, "forged")

	// An editor of the namespace (Kubernetes' edit role).
	_, err := cs.CoreV1().ServiceAccounts(d.ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "eve"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = cs.RbacV1().RoleBindings(d.ns).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "eve"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "edit"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "eve", Namespace: d.ns}}}, metav1.CreateOptions{})
	require.NoError(t, err)
	tok, err := cs.CoreV1().ServiceAccounts(d.ns).CreateToken(ctx, "eve", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	require.NoError(t, err)
	eve := as(t, tok.Status.Token).CoreV1().ConfigMaps(d.ns)
	stableName := contract.StableName(d.name)
	require.Eventually(t, func() bool {
		_, err := eve.Get(ctx, stableName, metav1.GetOptions{})
		return err == nil
	}, time.Minute, 100*time.Millisecond, "an editor reads the stable copy")
	forged := uniqueConfig("color=forged")
	copyOf := func(c typedcorev1.ConfigMapInterface) *corev1.ConfigMap {
		cm, err := c.Get(ctx, stableName, metav1.GetOptions{})
		require.NoError(t, err)
		cm.Data = map[string]string{"config": forged}
		return cm
	}
	_, err = eve.Update(ctx, copyOf(eve), metav1.UpdateOptions{})
	require.True(t, apierrors.IsForbidden(err), "an editor may not write the stable copy: %v", err)

	// A cluster admin may.
	admin := cs.CoreV1().ConfigMaps(d.ns)
	_, err = admin.Update(ctx, copyOf(admin), metav1.UpdateOptions{})
	require.NoError(t, err)
	msg := waitEvent(ctx, t, cs, d.ns, d.name, "KeptCopyRestored", time.Minute)
	require.Contains(t, msg, "ConfigMap "+d.ns+"/"+stableName+" did not hold revision "+sourceRevision(good)+": restored from ")
	restored, err := admin.Get(ctx, stableName, metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"config": good}, restored.Data, "the stable copy holds the stable config again")

	// kubectl rollout restart: every pod new, each starting on the stable copy.
	patchDeployment(ctx, t, cs, d.ns, d.name, fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":%q}}}}}`, time.Now().Format(time.RFC3339)))
	pods = waitNewPods(ctx, t, cs, d, 3, pods)
	requireServing(ctx, t, pods, good, "no pod serves the forged config")
}
