//go:build integration

package rollout

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/contract"
)

// A kept copy is believed by its content, never by its labels: on a release
// halted on a bad config, someone with the right to write the copies hotreload
// keeps changes them, labels and all.

// TestIntegrationAForgedStableCopyIsRestored: the stable copy pods mount is
// rewritten with forged content under its own labels. The controller writes
// the stable content back, from the object that keeps the stable revision,
// says so in a Warning Event naming the copy, and no pod is released
// anything new; a new pod is released stable.
func TestIntegrationAForgedStableCopyIsRestored(t *testing.T) {
	b := newBrokenCanary(t, "1s", nil)
	c := b.c
	_, events := b.rolledBack()
	wantPods := all(c.pods("web"), " "+b.rev0)
	wantPods[b.order[0]] = b.rev0 + " " + b.rev0
	stableData := c.kept(contract.StableName("app")).Data

	forged := c.kept(contract.StableName("app"))
	forged.Data = map[string]string{"app.conf": "forged"}
	_, err := c.env.Clientset.CoreV1().ConfigMaps(c.ns).Update(c.ctx, forged, metav1.UpdateOptions{})
	require.NoError(t, err)

	want := append(events, restoredEv(fmt.Sprintf("ConfigMap %s/%s did not hold revision %s: restored from ConfigMap %s/%s",
		c.ns, contract.StableName("app"), b.stable, c.ns, contract.RevisionName("app", b.stable))))
	assert.Equal(t, want, c.waitEvents("ConfigMap", "app", ReasonKeptCopyRestored))
	assert.Equal(t, stableData, c.kept(contract.StableName("app")).Data, "the stable content is back")

	c.addPod("web-3", c.replicaSetObject("web"), b.steps, "app")
	wantPods["web-3"] = " " + b.rev0
	c.waitPods("web", func([]corev1.Pod) map[string]string { return wantPods })
	rel := c.waitRelease("app", "still halted", phase(v1alpha1.PhaseHalted, b.cand))
	assert.Equal(t, b.stable, rel.Status.Stable)
	assert.Empty(t, rel.Status.Message)
	assert.Equal(t, want, c.events("ConfigMap", "app"), "one Event, nothing released")
}

// TestIntegrationAForgedRevisionObjectIsReplaced: the immutable object that
// keeps the stable revision is deleted and created again with forged content
// under the same name and labels. The controller replaces it with the
// stable content, read from the stable copy (the source holds the bad
// candidate).
func TestIntegrationAForgedRevisionObjectIsReplaced(t *testing.T) {
	b := newBrokenCanary(t, "1s", nil)
	c := b.c
	_, events := b.rolledBack()
	name := contract.RevisionName("app", b.stable)
	stableData := c.kept(name).Data
	c.forgeRevision(name)

	want := append(events, restoredEv(fmt.Sprintf("ConfigMap %s/%s did not hold revision %s: restored from ConfigMap %s/%s",
		c.ns, name, b.stable, c.ns, contract.StableName("app"))))
	assert.Equal(t, want, c.waitEvents("ConfigMap", "app", ReasonKeptCopyRestored))
	assert.Equal(t, stableData, c.kept(name).Data, "the stable revision's content is back")
	assert.Equal(t, true, *c.kept(name).Immutable)
}

// TestIntegrationNoVerifiedCopyBlocksTheRelease: the object of the stable
// revision and the stable copy both forged, and the source holding the bad
// candidate: nothing holds the stable content any more. The release is
// blocked, says which objects it tried, and no pod is released anything.
func TestIntegrationNoVerifiedCopyBlocksTheRelease(t *testing.T) {
	b := newBrokenCanary(t, "1s", nil)
	c := b.c
	_, events := b.rolledBack()
	wantPods := all(c.pods("web"), " "+b.rev0)
	wantPods[b.order[0]] = b.rev0 + " " + b.rev0
	// Stop the controller for the two writes, so that it cannot restore
	// one from the other in between.
	b.ctl.stop()
	rev := contract.RevisionName("app", b.stable)
	c.forgeRevision(rev)
	forged := c.kept(contract.StableName("app"))
	forged.Data = map[string]string{"app.conf": "forged"}
	_, err := c.env.Clientset.CoreV1().ConfigMaps(c.ns).Update(c.ctx, forged, metav1.UpdateOptions{})
	require.NoError(t, err)
	startController(t, c.env, c.ns)

	msg := fmt.Sprintf("revision %s of %s/ConfigMap/app is no longer kept: none of %s, app, %s holds it; pods keep what they run, and an edit of the source releases a new revision",
		b.stable, c.ns, rev, contract.StableName("app"))
	assert.Equal(t, append(events, ReasonReleaseBlocked+": "+msg), c.waitEvents("ConfigMap", "app", ReasonReleaseBlocked))
	rel := c.waitRelease("app", "blocked", func(rel *v1alpha1.ConfigRelease) bool { return rel.Status.Message != "" })
	assert.Equal(t, msg, rel.Status.Message)
	assert.Equal(t, wantPods, podRevisions(c.pods("web")), "no pod released anything")
	assert.Equal(t, "forged", c.kept(contract.StableName("app")).Data["app.conf"], "nothing to restore from")
}

// forgeRevision deletes the object that keeps a revision and creates one of
// the same name and labels that holds something else.
func (c *cluster) forgeRevision(name string) {
	c.t.Helper()
	cms := c.env.Clientset.CoreV1().ConfigMaps(c.ns)
	old := c.kept(name)
	require.NoError(c.t, cms.Delete(c.ctx, name, metav1.DeleteOptions{}))
	_, err := cms.Create(c.ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: old.Labels, Annotations: old.Annotations},
		Data:       map[string]string{"app.conf": "forged"},
	}, metav1.CreateOptions{})
	require.NoError(c.t, err)
}

func restoredEv(note string) string { return ReasonKeptCopyRestored + ": " + note }
