//go:build integration

package rollout

import (
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/contract"
)

var configVolume = corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "app"}}}

// A pod injected by a newer hotreload, whose reloader's command line this
// controller cannot read, is left out of releases with one Warning Event on
// it; the pods beside it are released as usual.
func TestIntegrationAPodOfANewerContractIsLeftAloneWithAnEvent(t *testing.T) {
	c := newCluster(t, nil)
	data0 := map[string]string{"app.conf": "v=0"}
	c.configMap("app", data0)
	rs := c.owner("web")
	known := c.addPod("web-0", rs, map[string]string{annotations.RolloutInterval: "1s"}, "app")
	newer := c.addPodArgs("web-1", rs, nil, configVolume,
		[]string{"run", "--contract", "99", "--volume", "config", "--shiny-new-flag"})
	startController(t, c.env, c.ns)
	c.waitRelease("app", "first seen", phase(v1alpha1.PhaseComplete, sourceRev(data0)))
	c.fakeReloaders(applyAll)

	data1 := map[string]string{"app.conf": "v=1"}
	c.configMap("app", data1)
	rev := c.desired(known)
	rel := c.waitRelease("app", "complete", phase(v1alpha1.PhaseComplete, sourceRev(data1)))
	assert.Equal(t, int32(1), rel.Status.Workloads[0].Pods, "one pod consumes it as far as this controller can tell")
	assert.Equal(t, []string{
		ReasonUnknownContract + ": left out of config rollouts, keeping the config it runs: this hotreload controller cannot read its reloader's command line " +
			"(contract version 99: written by a newer hotreload (this build reads versions 1 to " + strconv.Itoa(contract.Version) + ")); upgrade hotreload, or recreate the pod",
	}, c.events("Pod", newer.Name))
	assert.Equal(t, map[string]string{"web-0": rev + " " + rev, "web-1": " 000000000000"}, podRevisions(c.pods("web")))
}

// Pods injected with contract version 1 (no stable twin) keep being
// released: the candidate on their step, as the version 1 reloader can only
// apply what is mounted. On a halt they cannot go back in place: each that
// holds the candidate says so once, and the pods of version 2 beside them do.
func TestIntegrationPodsOfContractVersionOneFollowReleases(t *testing.T) {
	c := newCluster(t, nil)
	data0 := map[string]string{"app.conf": "v=0"}
	c.configMap("app", data0)
	rs := c.owner("web")
	v1 := []string{"run", "--src-dir", contract.SrcDir, "--live-dir", contract.LiveDir, "--volume", "config", "--wait-release"}
	steps := map[string]string{annotations.Rollout: "1,100%", annotations.RolloutInterval: "1s"}
	var pods []*corev1.Pod
	for _, name := range []string{"web-a", "web-b", "web-c"} {
		pods = append(pods, c.addPodArgs(name, rs, steps, configVolume, v1))
	}
	startController(t, c.env, c.ns)
	c.waitRelease("app", "first seen", phase(v1alpha1.PhaseComplete, sourceRev(data0)))
	var bad atomic.Value
	bad.Store("")
	c.fakeReloaders(func(_, rev string) reloaderAction {
		if rev == bad.Load() {
			return fail
		}
		return apply
	})

	data1 := map[string]string{"app.conf": "v=1"}
	c.configMap("app", data1)
	rev1 := c.desired(pods[0])
	c.waitRelease("app", "complete", phase(v1alpha1.PhaseComplete, sourceRev(data1)))
	assert.Equal(t, all(c.pods("web"), rev1+" "+rev1), podRevisions(c.pods("web")))

	data2 := map[string]string{"app.conf": "broken"}
	c.configMap("app", data2)
	cand, rev2 := sourceRev(data2), c.desired(pods[0])
	canaryPod := order(pods, cand)[0]
	bad.Store(rev2)
	c.waitRelease("app", "halted", phase(v1alpha1.PhaseHalted, cand))
	assert.Equal(t, []string{haltedEv(cand, canaryPod, "ReplicaSet/web", "the app exited", sourceRev(data1)), ReasonCannotRollBack + ": keeps halted config revision " + cand +
		": it was injected by an earlier hotreload (contract version 1) and cannot go back to the stable config in place; delete it to start it again on the stable config"},
		c.waitEvents("Pod", canaryPod, ReasonCannotRollBack))
	want := all(c.pods("web"), rev1+" "+rev1)
	want[canaryPod] = rev2 + " " + rev1
	assert.Equal(t, want, podRevisions(c.pods("web")), "the canary keeps its release; the others were never given it")
}
