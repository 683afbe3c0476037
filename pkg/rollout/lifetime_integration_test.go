//go:build integration

package rollout

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
)

// TestIntegrationAReleaseOutlivesItsSourceObject: a release halted on a bad
// config, then its ConfigMap deleted and created again with the same content
// (kubectl replace --force): the release goes on, still halted on the same
// candidate, every pod on stable, and a new pod is given nothing of the bad
// config. Deleted for good, the source's release ends after the grace.
func TestIntegrationAReleaseOutlivesItsSourceObject(t *testing.T) {
	b := newBrokenCanary(t, "1s", nil)
	c, rev0, first := b.c, b.rev0, b.ctl
	_, events := b.rolledBack()
	halted := c.waitRelease("app", "rolled back", func(rel *v1alpha1.ConfigRelease) bool { return rel.Status.Halt != nil })
	assert.Empty(t, halted.OwnerReferences, "a release is not owned by its source object: it outlives it")
	wantPods := all(c.pods("web"), " "+rev0)
	wantPods[b.order[0]] = rev0 + " " + rev0

	// kubectl replace --force: the same name, the same bad content, a new object.
	oldUID := c.configMapUID("app")
	cms := c.env.Clientset.CoreV1().ConfigMaps(c.ns)
	require.NoError(t, cms.Delete(c.ctx, "app", metav1.DeleteOptions{}))
	gone := c.waitRelease("app", "source marked gone", func(rel *v1alpha1.ConfigRelease) bool { return rel.Status.SourceGoneSince != nil })
	assert.Equal(t, v1alpha1.PhaseHalted, gone.Status.Phase)
	c.configMap("app", map[string]string{"app.conf": "broken"})
	require.NotEqual(t, oldUID, c.configMapUID("app"), "a new object")
	back := c.waitRelease("app", "source back", func(rel *v1alpha1.ConfigRelease) bool { return rel.Status.SourceGoneSince == nil })
	assert.Equal(t, halted.UID, back.UID, "the same release")
	assert.Equal(t, v1alpha1.PhaseHalted, back.Status.Phase, "still halted")
	assert.Equal(t, b.cand, back.Status.Candidate)
	assert.Equal(t, b.stable, back.Status.Stable)
	assert.Equal(t, halted.Status.Halt, back.Status.Halt, "the same halt")

	// A scale-up: the new pods start on stable and are given nothing.
	rs := c.replicaSetObject("web")
	for _, name := range []string{"web-3", "web-4"} {
		c.addPod(name, rs, b.steps, "app")
		wantPods[name] = " " + rev0
	}
	c.waitRelease("app", "five pods, halted", func(rel *v1alpha1.ConfigRelease) bool {
		return rel.Status.Phase == v1alpha1.PhaseHalted && len(rel.Status.Workloads) == 1 && rel.Status.Workloads[0].Pods == 5
	})
	assert.Equal(t, wantPods, podRevisions(c.pods("web")), "no pod on the bad config")
	assert.Equal(t, append(events, sourceDeletedEv(b.stable, 10*time.Minute)), c.events("ConfigMap", "app"), "nothing more was released")

	// Deleted for good: the release ends after the grace.
	first.stop()
	startController(t, c.env, c.ns, func(o *Options) { o.SourceGrace = 2 * time.Second })
	require.NoError(t, cms.Delete(c.ctx, "app", metav1.DeleteOptions{}))
	require.Eventually(t, func() bool {
		err := c.api.Get(c.ctx, client.ObjectKey{Namespace: c.ns, Name: back.Name}, &v1alpha1.ConfigRelease{})
		return apierrors.IsNotFound(err)
	}, wait, 50*time.Millisecond, "the release of a source deleted for good ends")
}

func sourceDeletedEv(stable string, grace time.Duration) string {
	return fmt.Sprintf("%s: ConfigMap app was deleted: its release (stable revision %s, Halted) ends with its kept copies in %s unless it is created again; created again, it goes on with this release",
		ReasonSourceDeleted, stable, grace)
}
