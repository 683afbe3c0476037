package plugin

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"

	"github.com/hotreload/hotreload/pkg/release"
	"github.com/hotreload/hotreload/pkg/rollout"
)

// TestConsumersAreThePodsTheControllerReleasesTo: status lists the pods the
// controller releases a source to (release.SourcesOf over the volumes their
// reloader reloads), not every opted-in pod that mounts it: a pod admitted
// without the sidecar, or one whose reloader leaves that volume alone, is
// released nothing of the source.
func TestConsumersAreThePodsTheControllerReleasesTo(t *testing.T) {
	other := corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "other"}}}
	all := pods(
		newPod("web-a"),
		newPod("web-b").notInjected(),
		newPod("web-c").alsoMounting("other", other).reloading("other"),
		newPod("web-d").mounting(other),
		newPod("web-e").alsoMounting("other", other),
	)
	var names []string
	for _, p := range consumers(all, appConfig) {
		names = append(names, p.Name)
	}
	assert.Equal(t, []string{"web-a", "web-e"}, names)
	for i := range all {
		p := &all[i]
		vols, _ := rollout.ReloadedVolumes(p) // what the controller reads of the pod
		assert.Equal(t, release.Consumes(p, vols, release.Source{Kind: appConfig.Kind, Name: appConfig.Name}), slices.Contains(names, p.Name),
			"pod %s: the plugin and the controller agree", p.Name)
	}
}
