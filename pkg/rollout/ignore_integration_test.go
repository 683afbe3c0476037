//go:build integration

package rollout

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/annotations"
)

// annotate sets (or, with nil, removes) an annotation of a ConfigMap.
func (c *cluster) annotate(cm, key string, value any) {
	c.t.Helper()
	body, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]any{key: value}}})
	require.NoError(c.t, err)
	_, err = c.env.Clientset.CoreV1().ConfigMaps(c.ns).Patch(c.ctx, cm, types.MergePatchType, body, metav1.PatchOptions{})
	require.NoError(c.t, err)
}

func ignoredEv(release string, rel *v1alpha1.ConfigRelease, pods int) string {
	msg := ReasonSourceIgnored + `: annotated hotreload/ignore: "true": nothing of it is released`
	if rel != nil {
		msg += fmt.Sprintf("; its release %s stays as it is (%s, stable revision %s, candidate %s) until the annotation goes",
			release, rel.Status.Phase, rel.Status.Stable, rel.Status.Candidate)
	}
	return msg + fmt.Sprintf("; %d pods injected before keep the config they run until they are recreated", pods)
}

// A ConfigMap annotated hotreload/ignore: "true" gets no release, though
// pods injected before the annotation reload it; a release that exists stays
// as it is through an edit, and goes on once the annotation goes.
func TestIntegrationAnIgnoredSourceGetsNoRelease(t *testing.T) {
	c := newCluster(t, nil)
	data0 := map[string]string{"app.conf": "v=0"}
	c.configMap("flags", map[string]string{"beta": "false"})
	c.annotate("flags", annotations.Ignore, "true")
	c.replicaSet("ops", 2, nil, "flags")
	c.configMap("app", data0)
	pods := c.replicaSet("web", 2, map[string]string{annotations.RolloutInterval: "1s"}, "app")
	first := startController(t, c.env, c.ns)
	rel := c.waitRelease("app", "first seen, its pods counted", func(rel *v1alpha1.ConfigRelease) bool {
		return phase(v1alpha1.PhaseComplete, sourceRev(data0))(rel) && len(rel.Status.Workloads) == 1 && rel.Status.Workloads[0].Pods == 2
	})
	rev0 := c.desired(pods[0])

	assert.Equal(t, []string{ignoredEv("", nil, 2)}, c.waitEvents("ConfigMap", "flags", ReasonSourceIgnored))
	err := c.api.Get(c.ctx, client.ObjectKey{Namespace: c.ns, Name: "configmap-flags"}, &v1alpha1.ConfigRelease{})
	assert.True(t, apierrors.IsNotFound(err), "no release of the ignored ConfigMap: %v", err)

	// app annotated: its release stays as it is through an edit. A new
	// controller says so once it has reconciled the edited source.
	c.annotate("app", annotations.Ignore, "true")
	assert.Equal(t, ignoredEv(rel.Name, rel, 2), lastOf(c.waitEvents("ConfigMap", "app", ReasonSourceIgnored)))
	first.stop()
	data1 := map[string]string{"app.conf": "v=1"}
	c.configMap("app", data1)
	startController(t, c.env, c.ns)
	require.Eventually(t, func() bool { return len(c.events("ConfigMap", "app")) == 2 }, wait, 50*time.Millisecond, "said again by the new controller")
	assert.Equal(t, []string{ignoredEv(rel.Name, rel, 2), ignoredEv(rel.Name, rel, 2)}, c.events("ConfigMap", "app"))
	kept := &v1alpha1.ConfigRelease{}
	require.NoError(t, c.api.Get(c.ctx, client.ObjectKey{Namespace: c.ns, Name: rel.Name}, kept))
	assert.Equal(t, rel.Status, kept.Status, "the release stays as it is")
	assert.Equal(t, all(c.pods("web"), " "+rev0), podRevisions(c.pods("web")), "nothing released")

	// Without the annotation, the edit is an ordinary candidate.
	c.fakeReloaders(applyAll)
	c.annotate("app", annotations.Ignore, nil)
	c.waitRelease("app", "complete", phase(v1alpha1.PhaseComplete, sourceRev(data1)))
	rev1 := c.desired(pods[0])
	assert.Equal(t, all(c.pods("web"), rev1+" "+rev1), podRevisions(c.pods("web")))
}

func lastOf(s []string) string { return s[len(s)-1] }
