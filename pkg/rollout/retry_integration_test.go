//go:build integration

package rollout

import (
	"regexp"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/annotations"
)

// hotreload/on-halt: retry on a ConfigMap: a candidate whose canary fails
// once (a node problem, not the config) halts, goes back, and is retried
// from step 1 after the backoff, without an edit or a command; it then
// reaches every pod. Each step is said in an Event, on the source and the
// workload, and the release counts the retry. The backoff is shortened with
// Options.RetryBackoff, not waited out.
func TestIntegrationAHaltedCandidateIsRetriedUnderTheRetryPolicy(t *testing.T) {
	const backoff = 200 * time.Millisecond
	c := newCluster(t, nil)
	data0 := map[string]string{"tls.crt": "v=0"}
	c.configMap("app", data0)
	c.annotate("app", annotations.OnHalt, "retry")
	pods := c.replicaSet("web", 3, map[string]string{annotations.Rollout: "1,100%", annotations.RolloutInterval: "1s"}, "app")
	startController(t, c.env, c.ns, func(o *Options) { o.RetryBackoff = backoff })
	stable := sourceRev(data0)
	c.waitRelease("app", "first seen", phase(v1alpha1.PhaseComplete, stable))

	data1 := map[string]string{"tls.crt": "v=1"}
	c.configMap("app", data1)
	cand, rev1 := sourceRev(data1), c.desired(pods[0])
	o := order(pods, cand)
	var failures atomic.Int32
	c.fakeReloaders(func(pod, rev string) reloaderAction {
		if pod == o[0] && rev == rev1 && failures.Add(1) == 1 {
			return fail // the first time only: its node, say
		}
		return apply
	})

	rel := c.waitRelease("app", "complete", phase(v1alpha1.PhaseComplete, cand))
	assert.Equal(t, int32(1), rel.Status.Retries)
	assert.Equal(t, []v1alpha1.Outcome{v1alpha1.OutcomeCompleted, v1alpha1.OutcomeHalted, v1alpha1.OutcomeStable}, outcomes(rel))
	final := c.pods("web")
	assert.Equal(t, all(final, rev1+" "+rev1), podRevisions(final), "every pod runs the candidate")

	retriedEv := ReasonRetried + ": hotreload/on-halt: retry: config revision " + cand +
		" starts again from step 1, retry 1 of 8; should it halt again, the next retry comes 400ms after that halt"
	events := c.events("ConfigMap", "app")
	require.Len(t, events, 8, "%q", events)
	assert.Regexp(t, `^`+regexp.QuoteMeta(haltedEv(cand, o[0], "ReplicaSet/web", "the app exited", stable))+
		`; hotreload/on-halt: retry: retried from step 1 at \S+Z, once every pod is back on stable \(retry 1 of 8\)$`, events[2])
	events[2] = "(halted)"
	assert.Equal(t, []string{
		startedEv(cand, stable),
		stepEv(cand, "ReplicaSet/web", 1, 2, 1, 3, o[0]),
		"(halted)",
		rolledBackEv(stable, cand),
		retriedEv,
		stepEv(cand, "ReplicaSet/web", 1, 2, 1, 3, o[0]),
		stepEv(cand, "ReplicaSet/web", 2, 2, 3, 3, o[1], o[2]),
		completedEv(cand, 1),
	}, events)
	assert.Contains(t, c.events("ReplicaSet", "web"), retriedEv, "on the workload too")
}
