package rollout

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/types"

	"github.com/hotreload/hotreload/pkg/annotations"
)

const (
	rev0 = "000000000000" // the pod revision on stable
	revA = "aaaaaaaaaaaa" // the pod revision with the candidate
	cand = "cccccccccccc" // the candidate source revision
)

var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

// fleet returns n pods p0..p(n-1) on stable, Ready since long before t0.
// Ordered by (UID, cand) they are p7 p6 p0 p3 p5 p4 p1 p2; four of them, p0 p3 p1 p2.
func fleet(n int) []Pod {
	pods := make([]Pod, n)
	for i := range pods {
		pods[i] = Pod{Name: fmt.Sprintf("p%d", i), UID: types.UID(fmt.Sprintf("uid-%d", i)),
			Applied: rev0, AppliedAt: t0.Add(-time.Hour), Ready: true, ReadySince: t0.Add(-2 * time.Hour)}
	}
	return pods
}

// with returns pods with the named ones changed by f.
func with(pods []Pod, f func(*Pod), names ...int) []Pod {
	out := append([]Pod(nil), pods...)
	for _, i := range names {
		f(&out[i])
	}
	return out
}

// holding makes a pod hold the candidate, not applied yet.
func holding(p *Pod) { p.Released, p.Holds = revA, true }

// appliedAt returns a change that makes a pod hold and run the candidate since t.
func appliedAt(t time.Time) func(*Pod) {
	return func(p *Pod) { p.Released, p.Holds, p.Applied, p.AppliedAt = revA, true, revA, t }
}

func mustSteps(t *testing.T, v string) annotations.RolloutSteps {
	t.Helper()
	s, err := annotations.ParseRollout(v)
	require.NoError(t, err)
	return s
}

func TestPlan(t *testing.T) {
	canary := mustSteps(t, "1,25%,100%")
	all := annotations.DefaultRollout
	const interval = 10 * time.Second
	cases := []struct {
		name    string
		steps   annotations.RolloutSteps
		step    int
		pods    []Pod
		hold    bool
		promote Promotion
		want    Decision
	}{{
		name:  "releases the first step of a new candidate, in hash order",
		steps: canary,
		pods:  fleet(8),
		want:  Decision{Release: []string{"p7"}, Step: 1, Advanced: true, Steps: 3, Target: 1, Total: 8},
	}, {
		name:  "waits for the pod holding the candidate to apply it, with no requeue",
		steps: canary, step: 1,
		pods: with(fleet(8), holding, 7),
		want: Decision{Step: 1, Steps: 3, Target: 1, Total: 8},
	}, {
		name:  "requeues at the end of the interval of a pod that applied and is Ready",
		steps: canary, step: 1,
		pods: with(fleet(8), appliedAt(t0.Add(-3*time.Second)), 7),
		want: Decision{Step: 1, Steps: 3, Target: 1, Total: 8, RequeueAt: t0.Add(7 * time.Second)},
	}, {
		name:  "counts the interval from when the pod became Ready again",
		steps: canary, step: 1,
		pods: with(with(fleet(8), appliedAt(t0.Add(-time.Minute)), 7), func(p *Pod) { p.ReadySince = t0.Add(-2 * time.Second) }, 7),
		want: Decision{Step: 1, Steps: 3, Target: 1, Total: 8, RequeueAt: t0.Add(8 * time.Second)},
	}, {
		name:  "releases the second step once the first is settled",
		steps: canary, step: 1,
		pods: with(fleet(8), appliedAt(t0.Add(-interval)), 7),
		want: Decision{Release: []string{"p6"}, Step: 2, Advanced: true, Steps: 3, Target: 2, Total: 8},
	}, {
		name:  "releases the last step up to every pod",
		steps: canary, step: 2,
		pods: with(fleet(8), appliedAt(t0.Add(-time.Minute)), 7, 6),
		want: Decision{Release: []string{"p0", "p3", "p5", "p4", "p1", "p2"}, Step: 3, Advanced: true, Steps: 3, Target: 8, Total: 8},
	}, {
		name:  "skips a step whose target the pods already reach (3 pods: 1 and 25% are both one pod)",
		steps: canary, step: 1,
		pods: with(fleet(3), appliedAt(t0.Add(-time.Minute)), 0),
		want: Decision{Release: []string{"p1", "p2"}, Step: 3, Advanced: true, Steps: 3, Target: 3, Total: 3},
	}, {
		name:  "replaces a pod holding the candidate that went away, within the step and at once",
		steps: canary, step: 2,
		pods: with(fleet(8), appliedAt(t0.Add(-time.Second)), 6),
		want: Decision{Release: []string{"p7"}, Step: 2, Steps: 3, Target: 2, Total: 8},
	}, {
		name:  "gives the candidate to a new pod at the last step at once",
		steps: canary, step: 3,
		pods: with(fleet(4), appliedAt(t0.Add(-time.Second)), 0, 1, 2),
		want: Decision{Release: []string{"p3"}, Step: 3, Steps: 3, Target: 4, Total: 4},
	}, {
		name:  "never goes back a step when pods go away",
		steps: canary, step: 2,
		pods: with(fleet(2), appliedAt(t0.Add(-time.Second)), 0, 1),
		want: Decision{Step: 2, Steps: 3, Target: 2, Total: 2, RequeueAt: t0.Add(9 * time.Second)},
	}, {
		name:  "waits for every pod to settle before completing",
		steps: canary, step: 3,
		pods: with(with(fleet(3), appliedAt(t0.Add(-time.Minute)), 0, 1), appliedAt(t0.Add(-time.Second)), 2),
		want: Decision{Step: 3, Steps: 3, Target: 3, Total: 3, RequeueAt: t0.Add(9 * time.Second)},
	}, {
		name:  "completes once every pod holds, runs and settled on the candidate at the last step",
		steps: canary, step: 3,
		pods: with(fleet(3), appliedAt(t0.Add(-time.Minute)), 0, 1, 2),
		want: Decision{Step: 3, Steps: 3, Target: 3, Total: 3, Complete: true},
	}, {
		name:  "releases every pod at once at 100%",
		steps: all,
		pods:  fleet(4),
		want:  Decision{Release: []string{"p0", "p3", "p1", "p2"}, Step: 1, Advanced: true, Steps: 1, Target: 4, Total: 4},
	}, {
		name:  "completes at 100% once every pod settled",
		steps: all, step: 1,
		pods: with(fleet(2), appliedAt(t0.Add(-time.Minute)), 0, 1),
		want: Decision{Step: 1, Steps: 1, Target: 2, Total: 2, Complete: true},
	}, {
		name:  "halts on a pod whose release of the candidate failed",
		steps: canary, step: 1,
		pods: with(with(fleet(8), holding, 7), func(p *Pod) { p.Failed, p.FailedReason = revA, "process died (at 12:00)" }, 7),
		want: Decision{Step: 1, Steps: 3, Total: 8, Halts: []Halt{{Pod: "p7", Cause: "process died (at 12:00)"}}},
	}, {
		name:  "halts on a pod that stopped being Ready within its interval, and stayed so",
		steps: canary, step: 1,
		pods: with(with(fleet(8), appliedAt(t0.Add(-9*time.Second)), 7), func(p *Pod) { p.Ready, p.ReadySince = false, t0.Add(-6*time.Second) }, 7),
		want: Decision{Step: 1, Steps: 3, Total: 8, Halts: []Halt{{Pod: "p7", Cause: "stopped being Ready 3s after applying the revision"}}},
	}, {
		// A restart of the kubelet or containerd turns every pod not Ready
		// for a moment: not the config's doing.
		name:  "waits a pod not Ready for less than notReadyGrace, without a restart, out",
		steps: canary, step: 1,
		pods: with(with(fleet(8), appliedAt(t0.Add(-5*time.Second)), 7), func(p *Pod) { p.Ready, p.ReadySince = false, t0.Add(-2*time.Second) }, 7),
		want: Decision{Step: 1, Steps: 3, Target: 1, Total: 8, RequeueAt: t0.Add(3 * time.Second)},
	}, {
		name:  "halts on a pod whose container restarted within its interval",
		steps: canary, step: 1,
		pods: with(with(fleet(8), appliedAt(t0.Add(-5*time.Second)), 7), func(p *Pod) { p.LastRestart = t0.Add(-4 * time.Second) }, 7),
		want: Decision{Step: 1, Steps: 3, Total: 8, Halts: []Halt{{Pod: "p7", Cause: "a container restarted 1s after applying the revision"}}},
	}, {
		name:  "halts at 100% like any step",
		steps: all, step: 1,
		pods: with(with(fleet(3), holding, 0, 1, 2), func(p *Pod) { p.Failed, p.FailedReason = revA, "POST: 500" }, 1),
		want: Decision{Step: 1, Steps: 1, Total: 3, Halts: []Halt{{Pod: "p1", Cause: "POST: 500"}}},
	}, {
		name:  "does not halt on a pod that stopped being Ready after its interval",
		steps: canary, step: 1,
		pods: with(with(fleet(8), appliedAt(t0.Add(-time.Minute)), 7), func(p *Pod) { p.Ready, p.ReadySince = false, t0.Add(-time.Second) }, 7),
		want: Decision{Step: 1, Steps: 3, Target: 1, Total: 8, RequeueAt: t0.Add(4 * time.Second)},
	}, {
		name:  "does not halt on a pod that does not hold the candidate",
		steps: canary, step: 1,
		pods: with(with(fleet(8), holding, 7), func(p *Pod) {
			p.Released, p.Failed, p.FailedReason, p.Ready, p.ReadySince = rev0, rev0, "an old failure", false, t0
		}, 3),
		want: Decision{Step: 1, Steps: 3, Target: 1, Total: 8},
	}, {
		name:  "ignores a failure of another release of the pod",
		steps: canary, step: 1,
		pods: with(with(fleet(8), holding, 7), func(p *Pod) { p.Failed, p.FailedReason = "bbbbbbbbbbbb", "verify: timeout" }, 7),
		want: Decision{Step: 1, Steps: 3, Target: 1, Total: 8},
	}, {
		name:  "does nothing for a workload without pods",
		steps: canary,
		want:  Decision{Steps: 3},
	}, {
		name:  "held before its first step, releases nothing",
		steps: canary, hold: true,
		pods: fleet(8),
		want: Decision{Steps: 3, Total: 8},
	}, {
		name:  "held, does not go to the next step once the gate opens, and asks for no requeue",
		steps: canary, step: 1, hold: true,
		pods: with(fleet(8), appliedAt(t0.Add(-time.Minute)), 7),
		want: Decision{Step: 1, Steps: 3, Target: 1, Total: 8},
	}, {
		name:  "held, still replaces a pod holding the candidate that went away",
		steps: canary, step: 2, hold: true,
		pods: with(fleet(8), appliedAt(t0.Add(-time.Second)), 6),
		want: Decision{Release: []string{"p7"}, Step: 2, Steps: 3, Target: 2, Total: 8},
	}, {
		name:  "held, does not complete",
		steps: canary, step: 3, hold: true,
		pods: with(fleet(3), appliedAt(t0.Add(-time.Minute)), 0, 1, 2),
		want: Decision{Step: 3, Steps: 3, Target: 3, Total: 3},
	}, {
		name:  "held, still halts",
		steps: canary, step: 1, hold: true,
		pods: with(with(fleet(8), holding, 7), func(p *Pod) { p.Failed, p.FailedReason = revA, "exit 1" }, 7),
		want: Decision{Step: 1, Steps: 3, Total: 8, Halts: []Halt{{Pod: "p7", Cause: "exit 1"}}},
	}, {
		name:  "promoted, releases the next step before the pods of this one applied it",
		steps: canary, step: 1, promote: PromoteNext,
		pods: with(fleet(8), holding, 7),
		want: Decision{Release: []string{"p6"}, Step: 2, Advanced: true, Steps: 3, Target: 2, Total: 8},
	}, {
		name:  "promoted while held, releases one step",
		steps: canary, step: 1, promote: PromoteNext, hold: true,
		pods: with(fleet(8), appliedAt(t0.Add(-time.Second)), 7),
		want: Decision{Release: []string{"p6"}, Step: 2, Advanced: true, Steps: 3, Target: 2, Total: 8},
	}, {
		name:  "promoted before the first step, releases the first",
		steps: canary, promote: PromoteNext,
		pods: fleet(8),
		want: Decision{Release: []string{"p7"}, Step: 1, Advanced: true, Steps: 3, Target: 1, Total: 8},
	}, {
		name:  "promoted, skips a step that needs no more pods (4 pods: 1 and 25% are both one pod)",
		steps: canary, step: 1, promote: PromoteNext,
		pods: with(fleet(4), holding, 0),
		want: Decision{Release: []string{"p3", "p1", "p2"}, Step: 3, Advanced: true, Steps: 3, Target: 4, Total: 4},
	}, {
		name:  "promoted while a pod that went away is not replaced yet, releases the next step",
		steps: canary, step: 2, promote: PromoteNext,
		pods: with(fleet(8), holding, 6),
		want: Decision{Release: []string{"p7", "p0", "p3", "p5", "p4", "p1", "p2"}, Step: 3, Advanced: true, Steps: 3, Target: 8, Total: 8},
	}, {
		name:  "promoted in full, releases every pod left",
		steps: canary, step: 1, promote: PromoteFull,
		pods: with(fleet(4), holding, 0),
		want: Decision{Release: []string{"p3", "p1", "p2"}, Step: 3, Advanced: true, Steps: 3, Target: 4, Total: 4},
	}, {
		name:  "promoted where the pods already hold the next step (its status was not written), releases nothing more",
		steps: canary, step: 1, promote: PromoteNext,
		pods: with(fleet(8), holding, 7, 6),
		want: Decision{Step: 2, Advanced: true, Steps: 3, Target: 2, Total: 8},
	}, {
		name:  "promoted at the last step, waits for the pods to settle as before",
		steps: canary, step: 3, promote: PromoteFull,
		pods: with(fleet(3), appliedAt(t0.Add(-time.Second)), 0, 1, 2),
		want: Decision{Step: 3, Steps: 3, Target: 3, Total: 3, RequeueAt: t0.Add(9 * time.Second)},
	}, {
		name:  "promoted, still halts",
		steps: canary, step: 1, promote: PromoteFull,
		pods: with(with(fleet(8), holding, 7), func(p *Pod) { p.Failed, p.FailedReason = revA, "exit 1" }, 7),
		want: Decision{Step: 1, Steps: 3, Total: 8, Halts: []Halt{{Pod: "p7", Cause: "exit 1"}}},
	}, {
		name:  "halts at a holder that stopped being Ready after the release while its applied-at lies in the future",
		steps: canary, step: 1,
		pods: with(with(fleet(8), appliedAt(t0.Add(time.Hour)), 7), func(p *Pod) { p.Ready, p.ReadySince = false, t0.Add(-30*time.Second) }, 7),
		want: Decision{Step: 1, Steps: 3, Total: 8, Halts: []Halt{{Pod: "p7",
			Cause: "stopped being Ready after the revision was released, and its hotreload/applied-at cannot be true"}}},
	}, {
		name:  "halts at a holder that restarted after the release and removed its applied-at",
		steps: canary, step: 1,
		pods: with(with(fleet(8), appliedAt(time.Time{}), 7), func(p *Pod) { p.LastRestart = t0.Add(-20 * time.Minute) }, 7),
		want: Decision{Step: 1, Steps: 3, Total: 8, Halts: []Halt{{Pod: "p7",
			Cause: "a container restarted after the revision was released, and its hotreload/applied-at cannot be true"}}},
	}, {
		name:  "opens the gate at a holder that runs its revision since before the candidate was seen (the change does not reach it)",
		steps: canary, step: 1,
		pods: with(fleet(8), appliedAt(t0.Add(-2*time.Hour)), 7),
		want: Decision{Release: []string{"p6"}, Step: 2, Advanced: true, Steps: 3, Target: 2, Total: 8},
	}, {
		name:  "believes an applied-at a few seconds ahead of the controller's clock",
		steps: canary, step: 1,
		pods: with(with(fleet(8), appliedAt(t0.Add(3*time.Second)), 7), func(p *Pod) { p.ReadySince = t0.Add(-time.Hour) }, 7),
		want: Decision{Step: 1, Steps: 3, Target: 1, Total: 8, RequeueAt: t0.Add(13 * time.Second)},
	}, {
		name:  "neither halts at nor waits for a Ready holder whose applied-at lies in the future",
		steps: canary, step: 1,
		pods: with(with(fleet(8), appliedAt(t0.Add(time.Hour)), 7), func(p *Pod) { p.ReadySince = t0.Add(-30 * time.Second) }, 7),
		want: Decision{Release: []string{"p6"}, Step: 2, Advanced: true, Steps: 3, Target: 2, Total: 8},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Plan(Input{Candidate: cand, Pods: tc.pods, Step: tc.step, Steps: tc.steps, Interval: interval, Now: t0,
				Since: t0.Add(-time.Hour), StepSince: t0.Add(-time.Hour), Hold: tc.hold, Promote: tc.promote})
			assert.Equal(t, tc.want, got)
		})
	}
}

// The gate on the controller's clock: the step released at stepSince, by the
// controller's clock, opens no earlier than the interval after it, whatever
// time a holder's node (or its app, through the sidecar's identity) writes in
// hotreload/applied-at.
func TestPlanGateRunsOnTheControllersClock(t *testing.T) {
	canary := mustSteps(t, "1,25%,100%")
	const interval = 30 * time.Second
	cases := []struct {
		name      string
		step      int // 1 when zero
		stepSince time.Time
		pods      []Pod
		want      Decision
	}{{
		name:      "opens the interval after the later of the release and a believable applied-at",
		stepSince: t0.Add(-5 * time.Second),
		pods:      with(fleet(8), appliedAt(t0.Add(-3*time.Second)), 7),
		want:      Decision{Step: 1, Steps: 3, Target: 1, Total: 8, RequeueAt: t0.Add(27 * time.Second)},
	}, {
		name:      "with an applied-at 60 s ahead, requeues at the interval after the release instead of stalling",
		stepSince: t0.Add(-5 * time.Second),
		pods:      with(fleet(8), appliedAt(t0.Add(60*time.Second)), 7),
		want:      Decision{Step: 1, Steps: 3, Target: 1, Total: 8, RequeueAt: t0.Add(25 * time.Second)},
	}, {
		name:      "with an applied-at 60 s ahead, releases the next step once the interval after the release has passed",
		stepSince: t0.Add(-interval),
		pods:      with(fleet(8), appliedAt(t0.Add(60*time.Second)), 7),
		want:      Decision{Release: []string{"p6"}, Step: 2, Advanced: true, Steps: 3, Target: 2, Total: 8},
	}, {
		name:      "with an applied-at an hour behind, does not skip the bake: waits for the interval after the release",
		stepSince: t0.Add(-5 * time.Second),
		pods:      with(fleet(8), appliedAt(t0.Add(-5*time.Second-time.Hour)), 7),
		want:      Decision{Step: 1, Steps: 3, Target: 1, Total: 8, RequeueAt: t0.Add(25 * time.Second)},
	}, {
		name:      "with an applied-at an hour behind, releases the next step once the interval after the release has passed",
		stepSince: t0.Add(-interval),
		pods:      with(fleet(8), appliedAt(t0.Add(-interval-time.Hour)), 7),
		want:      Decision{Release: []string{"p6"}, Step: 2, Advanced: true, Steps: 3, Target: 2, Total: 8},
	}, {
		name:      "counts a believable Ready transition after the release",
		stepSince: t0.Add(-5 * time.Second),
		pods: with(with(fleet(8), appliedAt(t0.Add(-4*time.Second)), 7),
			func(p *Pod) { p.ReadySince = t0.Add(-time.Second) }, 7),
		want: Decision{Step: 1, Steps: 3, Target: 1, Total: 8, RequeueAt: t0.Add(29 * time.Second)},
	}, {
		name:      "leaves out a Ready transition 60 s ahead",
		stepSince: t0.Add(-5 * time.Second),
		pods: with(with(fleet(8), appliedAt(t0.Add(-4*time.Second)), 7),
			func(p *Pod) { p.ReadySince = t0.Add(time.Minute) }, 7),
		want: Decision{Step: 1, Steps: 3, Target: 1, Total: 8, RequeueAt: t0.Add(26 * time.Second)},
	}, {
		name:      "halts on a restart after the release that an applied-at an hour behind would have hidden",
		stepSince: t0.Add(-5 * time.Second),
		pods: with(with(fleet(8), appliedAt(t0.Add(-5*time.Second-time.Hour)), 7),
			func(p *Pod) { p.LastRestart = t0.Add(-2 * time.Second) }, 7),
		want: Decision{Step: 1, Steps: 3, Total: 8, Halts: []Halt{{Pod: "p7", Cause: "a container restarted 3s after the step was released"}}},
	}, {
		name:      "halts on a holder that stopped being Ready between its release and an applied-at written later than it applied",
		stepSince: t0.Add(-12 * time.Second),
		pods: with(with(fleet(8), appliedAt(t0.Add(5*time.Second)), 7),
			func(p *Pod) { p.Ready, p.ReadySince = false, t0.Add(-6*time.Second) }, 7),
		want: Decision{Step: 1, Steps: 3, Total: 8, Halts: []Halt{{Pod: "p7", Cause: "stopped being Ready 6s after the step was released"}}},
	}, {
		name:      "halts on a holder whose node clock is an hour behind, on its own times",
		stepSince: t0.Add(-5 * time.Second),
		pods: with(with(fleet(8), appliedAt(t0.Add(-4*time.Second-time.Hour)), 7),
			func(p *Pod) { p.LastRestart = t0.Add(-3*time.Second - time.Hour) }, 7),
		want: Decision{Step: 1, Steps: 3, Total: 8, Halts: []Halt{{Pod: "p7", Cause: "a container restarted 1s after applying the revision"}}},
	}, {
		name:      "halts on a holder of an earlier step that restarts within this step's interval",
		step:      2,
		stepSince: t0.Add(-5 * time.Second),
		pods: with(with(with(fleet(8), appliedAt(t0.Add(-time.Minute)), 7), appliedAt(t0.Add(-4*time.Second)), 6),
			func(p *Pod) { p.LastRestart = t0.Add(-time.Second) }, 7),
		want: Decision{Step: 2, Steps: 3, Total: 8, Halts: []Halt{{Pod: "p7", Cause: "a container restarted 4s after the step was released"}}},
	}, {
		name:      "does not halt on a restart before the release of a holder that runs the revision it ran before",
		stepSince: t0.Add(-5 * time.Second),
		pods: with(with(fleet(8), appliedAt(t0.Add(-2*time.Hour)), 7),
			func(p *Pod) { p.LastRestart = t0.Add(-10 * time.Second) }, 7),
		want: Decision{Step: 1, Steps: 3, Target: 1, Total: 8, RequeueAt: t0.Add(25 * time.Second)},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Plan(Input{Candidate: cand, Pods: tc.pods, Step: max(tc.step, 1), Steps: canary, Interval: interval, Now: t0,
				Since: t0.Add(-time.Hour), StepSince: tc.stepSince})
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestTargets(t *testing.T) {
	cases := []struct {
		steps string
		n     int
		want  []int
	}{
		{"1,25%,100%", 8, []int{1, 2, 8}},
		{"1,25%,100%", 1, []int{1, 1, 1}},
		{"10,100%", 3, []int{3, 3}},
		{"5,10%,100%", 8, []int{5, 5, 8}},
		{"33%,66%,100%", 10, []int{4, 7, 10}},
		{"100%", 0, []int{0}},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s over %d pods", tc.steps, tc.n), func(t *testing.T) {
			assert.Equal(t, tc.want, Targets(mustSteps(t, tc.steps), tc.n))
		})
	}
}

func TestOrderIsStableAndDependsOnTheRevision(t *testing.T) {
	pods := fleet(8)
	reversed := make([]Pod, len(pods))
	for i, p := range pods {
		reversed[len(pods)-1-i] = p
	}
	names := func(ps []Pod) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Name)
		}
		return out
	}
	assert.Equal(t, []string{"p7", "p6", "p0", "p3", "p5", "p4", "p1", "p2"}, names(Order(pods, cand)))
	assert.Equal(t, names(Order(pods, cand)), names(Order(reversed, cand)))
	assert.Equal(t, []string{"p1", "p7", "p0", "p3", "p5", "p6", "p4", "p2"}, names(Order(pods, revA)))
}
