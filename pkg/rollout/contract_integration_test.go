//go:build integration

package rollout

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"

	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/contract"
)

// A pod injected by a newer hotreload, whose reloader's command line this
// controller cannot read, is left out of rollouts with one Warning Event on
// it; the pods beside it roll out as usual.
func TestIntegrationAPodOfANewerContractIsLeftAloneWithAnEvent(t *testing.T) {
	c := newCluster(t, nil)
	c.configMap("app", map[string]string{"app.conf": "v=0"})
	rs := c.owner("web")
	known := c.addPod("web-0", rs, nil, "app")
	newer := c.addPodArgs("web-1", rs, nil, corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: "app"}}},
		[]string{"run", "--contract", "99", "--volume", "config", "--wait-release", "--shiny-new-flag"})
	startController(t, c.env, c.ns)
	c.fakeReloaders(applyAll)

	c.configMap("app", map[string]string{"app.conf": "v=1"})
	rev := c.desired(known)
	c.waitEvents("ConfigMap", "app", ReasonRolloutCompleted)
	assert.Equal(t, []string{
		ReasonUnknownContract + ": left out of config rollouts, keeping the config it runs: this hotreload controller cannot read its reloader's command line " +
			"(contract version 99: written by a newer hotreload (this build reads versions 1 to " + strconv.Itoa(contract.Version) + ")); upgrade hotreload, or recreate the pod",
	}, c.events("Pod", newer.Name))
	got := podRevisions(c.pods("web"))
	assert.Equal(t, map[string]string{"web-0": rev + " " + rev, "web-1": " 000000000000"}, got)
	assert.NotContains(t, newer.Annotations, annotations.Released)
}
