//go:build integration

package rollout

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/hotreload/hotreload/pkg/annotations"
)

// A pod whose app restarts as it applies step 1 halts the rollout, though it
// is Ready again: the controller writes hotreload/failed on it, says so on the
// ConfigMap and on the pod, and releases nothing more while another group in
// the namespace rolls out. Reverting the ConfigMap then rolls the old revision
// back out.
func TestIntegrationHaltAtStepOneThenRevert(t *testing.T) {
	c := newCluster(t, nil)
	c.configMap("app", map[string]string{"app.conf": "v=0"})
	pods := c.replicaSet("web", 8, canary, "app")
	c.configMap("other", map[string]string{"other.conf": "v=0"})
	c.replicaSet("other", 2, map[string]string{annotations.RolloutInterval: "1s"}, "other")
	run := startController(t, c.env, c.ns)
	rev0 := c.desired(pods[0])

	c.configMap("app", map[string]string{"app.conf": "v=1"})
	rev1 := c.desired(pods[0])
	o1 := order(pods, rev1)
	c.fakeReloaders(func(pod, rev string) reloaderAction {
		switch {
		case rev == rev1:
			return applyRestart
		case rev == rev0 && pod == o1[0]:
			return applyReady
		}
		return apply
	})
	halted := fmt.Sprintf("%s: rollout of config revision %s to ReplicaSet/web halted at pod %s: a container restarted 0s after applying the revision", ReasonRolloutHalted, rev1, o1[0])
	got := c.waitEvents("ConfigMap", "app", ReasonRolloutHalted)
	assert.Equal(t, []string{
		started(rev1, "ReplicaSet/web", 8, "1,25%,100%", "1s"),
		step(1, 3, rev1, 1, "ReplicaSet/web", 1, 8, o1[0]),
		halted,
	}, got)
	assert.Equal(t, []string{halted}, c.waitEvents("Pod", o1[0], ReasonRolloutHalted))

	// Another group rolls out meanwhile: by its end, web would have
	// released step 2 had it not halted.
	c.configMap("other", map[string]string{"other.conf": "v=1"})
	c.waitEvents("ConfigMap", "other", ReasonRolloutCompleted)
	want := all(c.pods("web"), " "+rev0)
	want[o1[0]] = rev1 + " " + rev1
	assert.Equal(t, want, podRevisions(c.pods("web")))
	for _, p := range c.pods("web") {
		if p.Name == o1[0] {
			assert.Equal(t, rev1+": a container restarted 0s after applying the revision"+haltedSuffix, p.Annotations[annotations.Failed])
		}
	}

	// The revert is a new revision for the halted pod only.
	c.configMap("app", map[string]string{"app.conf": "v=0"})
	got = c.waitEvents("ConfigMap", "app", ReasonRolloutCompleted)
	assert.Equal(t, []string{
		started(rev1, "ReplicaSet/web", 8, "1,25%,100%", "1s"),
		step(1, 3, rev1, 1, "ReplicaSet/web", 1, 8, o1[0]),
		halted,
		started(rev0, "ReplicaSet/web", 8, "1,25%,100%", "1s"),
		step(3, 3, rev0, 1, "ReplicaSet/web", 8, 8, o1[0]),
		completed(rev0, 8, "ReplicaSet/web"),
	}, got)
	want = all(c.pods("web"), " "+rev0)
	want[o1[0]] = rev0 + " " + rev0
	assert.Equal(t, want, podRevisions(c.pods("web")))
	assert.Equal(t, map[string]float64{
		"hotreload_rollouts_started_total{" + c.ns + "}":         3,
		"hotreload_rollout_steps_released_total{" + c.ns + "}":   3,
		"hotreload_rollouts_halted_total{" + c.ns + "}":          1,
		"hotreload_rollouts_completed_total{" + c.ns + "}":       2,
		"hotreload_rollout_duration_seconds{" + c.ns + "} count": 2,
	}, metricValues(t, run.registry))
}

// A pod whose reloader reports a failed reload halts the rollout; a pod that
// stops being Ready as it applies halts it too. The Event says so once, and
// the pod's hotreload/failed says it was announced.
func TestIntegrationReportedFailureHalts(t *testing.T) {
	for _, tc := range []struct {
		name   string
		action reloaderAction
		cause  string
	}{
		{"reloader failure", fail, "the app exited"},
		{"not Ready", applyUnready, "stopped being Ready 0s after applying the revision"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, nil)
			c.configMap("app", map[string]string{"app.conf": "v=0"})
			pods := c.replicaSet("web", 4, map[string]string{annotations.Rollout: "1,100%", annotations.RolloutInterval: "1s"}, "app")
			startController(t, c.env, c.ns)
			c.fakeReloaders(func(string, string) reloaderAction { return tc.action })
			c.configMap("app", map[string]string{"app.conf": "v=1"})
			rev := c.desired(pods[0])
			o := order(pods, rev)
			halted := fmt.Sprintf("%s: rollout of config revision %s to ReplicaSet/web halted at pod %s: %s", ReasonRolloutHalted, rev, o[0], tc.cause)
			assert.Equal(t, []string{
				started(rev, "ReplicaSet/web", 4, "1,100%", "1s"),
				step(1, 2, rev, 1, "ReplicaSet/web", 1, 4, o[0]),
				halted,
			}, c.waitEvents("ConfigMap", "app", ReasonRolloutHalted))
			assert.Equal(t, []string{halted}, c.waitEvents("Pod", o[0], ReasonRolloutHalted))
			var failed string
			for _, p := range c.pods("web") {
				if p.Name == o[0] {
					failed = p.Annotations[annotations.Failed]
				}
			}
			assert.Equal(t, rev+": "+tc.cause+haltedSuffix, failed)
		})
	}
}
