//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
)

// halts is the number of bad configs measured, E2E_HALTS or 10.
func halts(b *testing.B) int { return envInt(b, "E2E_HALTS", 10) }

// BenchmarkE2EHaltToStable measures how fast a bad config is undone: 3
// replicas at rollout 100% (every pod is a canary) of the demo app, which
// serves a config containing "sick" but stops being Ready on it. Each round
// edits the ConfigMap to a sick config, waits for every pod to serve it, and
// times, until every pod serves the stable config again, in place:
//
//   - from the edit: detection (the readiness probe's failures, 1 s apart),
//     the halt and the rollback;
//   - from the halt: the moment a poll of the ConfigRelease, every 20 ms,
//     first sees it Halted; this is the rollback alone.
//
// A good edit then ends the halt (a new release) before the next round. It
// fails if any container restarts or any pod is replaced.
func BenchmarkE2EHaltToStable(b *testing.B) {
	n := halts(b)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cs := clusterClient(b)
	c := releases(b)
	installHotreload(ctx, b, cs)
	ns := enabledNamespace(ctx, b, cs, "bench-halt-")
	d := demo{ns: ns, name: "halt", replicas: 3, inject: true, args: []string{"--unready-on=sick"},
		annotations: map[string]string{"hotreload/rollout-interval": "5s"}}
	good := uniqueConfig("good 0")
	pods := d.create(ctx, b, cs, good)
	waitFirstSeen(ctx, b, cs, ns, d.name, good, d.replicas)
	before := statuses(ctx, b, pods)

	var fromEdit, fromHalt, perPod []time.Duration
	for i := 1; i <= n; i++ {
		sick := uniqueConfig(fmt.Sprintf("sick %d", i))
		edited := d.edit(ctx, b, cs, sick)
		waitServing(ctx, b, pods, sick, edited, 30*time.Second)
		halted := waitHalted(ctx, b, c, ns, d.name, sourceRevision(sick), 30*time.Second)
		took := waitServing(ctx, b, pods, good, edited, 60*time.Second)
		all := slowest(took, &perPod)
		fromEdit = append(fromEdit, all)
		fromHalt = append(fromHalt, all-halted.Sub(edited))
		waitRelease(ctx, b, cs, ns, d.name, "rolled back", 30*time.Second, rolledBack(sourceRevision(sick)))

		good = uniqueConfig(fmt.Sprintf("good %d", i))
		waitServing(ctx, b, pods, good, d.edit(ctx, b, cs, good), 30*time.Second)
		waitRelease(ctx, b, cs, ns, d.name, "the good edit completes", 30*time.Second, isPhase(v1alpha1.PhaseComplete, sourceRevision(good)))
	}
	requireSameProcesses(ctx, b, cs, d, pods, before)

	logQuantiles(b, "bad config -> every pod on stable (ms)", "rounds", []durations{
		{"from the edit, all 3 replicas", fromEdit, "edit-to-stable"},
		{"from the halt, all 3 replicas", fromHalt, "halt-to-stable"},
		{"from the edit, each replica", perPod, ""},
	})
}

// waitHalted polls the release of ConfigMap name every 20 ms until it is
// Halted at candidate, and returns when it first saw it so.
func waitHalted(ctx context.Context, t testing.TB, c client.Client, ns, name, candidate string, timeout time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		rel := &v1alpha1.ConfigRelease{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "configmap-" + name}, rel); err == nil &&
			rel.Status.Phase == v1alpha1.PhaseHalted && rel.Status.Candidate == candidate {
			return time.Now()
		}
		require.True(t, time.Now().Before(deadline), "the release of %s/%s is not Halted at %s after %v", ns, name, candidate, timeout)
		time.Sleep(20 * time.Millisecond)
	}
}
