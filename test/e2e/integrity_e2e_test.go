//go:build e2e

package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
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
	d := demo{
		name: "replaced", replicas: 3, subPath: true, inject: true,
		annotations: map[string]string{"hotreload/rollout": "1,100%", "hotreload/rollout-interval": "3s"},
		args:        []string{"--fail-on=broken"},
	}
	good := uniqueConfig("color=blue")
	pods := d.start(ctx, t, cs, good)
	bad := uniqueConfig("color=red broken")
	d.edit(ctx, t, cs, bad)
	halted := waitRelease(ctx, t, cs, d.ns, d.name, "halted and rolled back", 2*time.Minute, rolledBack(sourceRevision(bad)))
	require.Empty(t, halted.OwnerReferences, "the release is not owned by its source object")
	waitServing(ctx, t, pods, good, time.Now(), 90*time.Second) // the canary once the kubelet started it again

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
	pods = waitDeploymentPods(ctx, t, cs, d.ns, "app="+d.name, 5)
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
