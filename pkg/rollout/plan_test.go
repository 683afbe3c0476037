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
	rev0 = "000000000000"
	revA = "aaaaaaaaaaaa"
)

var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

// fleet returns n pods p0..p(n-1) that run rev0, Ready since long before t0.
// Ordered by (UID, revA) they are p1 p7 p0 p3 p5 p6 p4 p2.
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

func released(p *Pod) { p.Released = revA }

// appliedAt returns a change that makes a pod run revA since t.
func appliedAt(t time.Time) func(*Pod) {
	return func(p *Pod) { p.Released, p.Applied, p.AppliedAt = revA, revA, t }
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
		name  string
		rev   string // revA when empty
		steps annotations.RolloutSteps
		pods  []Pod
		want  Decision
	}{{
		name:  "releases nothing to a group that already runs the revision, and says when it was complete",
		steps: canary,
		pods:  with(fleet(3), appliedAt(t0.Add(-time.Minute)), 0, 1, 2),
		want:  Decision{Steps: 3, Total: 3, Complete: true, CompletedAt: t0.Add(-time.Minute + interval), StartedAt: t0.Add(-time.Minute)},
	}, {
		name:  "starts a new revision with the first step, in hash order",
		steps: canary,
		pods:  fleet(8),
		want:  Decision{UnderWay: true, Release: []string{"p1"}, Step: 1, Steps: 3, Target: 1, Total: 8, Started: true},
	}, {
		name:  "waits for a released pod to apply the revision, with no requeue",
		steps: canary,
		pods:  with(fleet(8), released, 1),
		want:  Decision{UnderWay: true, Steps: 3, Total: 8},
	}, {
		name:  "requeues at the end of the interval of a pod that applied and is Ready",
		steps: canary,
		pods:  with(fleet(8), appliedAt(t0.Add(-3*time.Second)), 1),
		want:  Decision{UnderWay: true, Steps: 3, Total: 8, RequeueAt: t0.Add(7 * time.Second), StartedAt: t0.Add(-3 * time.Second)},
	}, {
		name:  "counts the interval from when the pod became Ready again",
		steps: canary,
		pods: with(with(fleet(8), appliedAt(t0.Add(-time.Minute)), 1), func(p *Pod) {
			p.ReadySince = t0.Add(-2 * time.Second)
		}, 1),
		want: Decision{UnderWay: true, Steps: 3, Total: 8, RequeueAt: t0.Add(8 * time.Second), StartedAt: t0.Add(-time.Minute)},
	}, {
		name:  "releases the second step once the first is settled",
		steps: canary,
		pods:  with(fleet(8), appliedAt(t0.Add(-interval)), 1),
		want:  Decision{UnderWay: true, Release: []string{"p7"}, Step: 2, Steps: 3, Target: 2, Total: 8, StartedAt: t0.Add(-interval)},
	}, {
		name:  "releases the last step up to every pod",
		steps: canary,
		pods:  with(fleet(8), appliedAt(t0.Add(-time.Minute)), 1, 7),
		want:  Decision{UnderWay: true, Release: []string{"p0", "p3", "p5", "p6", "p4", "p2"}, Step: 3, Steps: 3, Target: 8, Total: 8, StartedAt: t0.Add(-time.Minute)},
	}, {
		name:  "waits for the whole group to settle before completing",
		steps: canary,
		pods:  with(with(fleet(3), appliedAt(t0.Add(-time.Minute)), 0, 1), appliedAt(t0.Add(-time.Second)), 2),
		want:  Decision{UnderWay: true, Steps: 3, Total: 3, RequeueAt: t0.Add(9 * time.Second), StartedAt: t0.Add(-time.Minute)},
	}, {
		name:  "halts on a released pod that failed to apply the revision",
		steps: canary,
		pods: with(fleet(8), func(p *Pod) {
			p.Released, p.Failed, p.FailedReason = revA, revA, "verify: timeout (at 2026-11-24T12:00:00Z)"
		}, 1),
		want: Decision{Steps: 3, Total: 8, Halts: []Halt{{Pod: "p1", Cause: "verify: timeout (at 2026-11-24T12:00:00Z)"}}},
	}, {
		name:  "knows a halt it already announced",
		steps: canary,
		pods: with(fleet(8), func(p *Pod) {
			p.Released, p.Failed, p.FailedReason = revA, revA, "verify: timeout"+haltedSuffix
		}, 1),
		want: Decision{Steps: 3, Total: 8, Halts: []Halt{{Pod: "p1", Cause: "verify: timeout", Announced: true}}},
	}, {
		name:  "halts on a pod that stopped being Ready within its interval",
		steps: canary,
		pods: with(with(fleet(8), appliedAt(t0.Add(-5*time.Second)), 1), func(p *Pod) {
			p.Ready, p.ReadySince = false, t0.Add(-2*time.Second)
		}, 1),
		want: Decision{Steps: 3, Total: 8, StartedAt: t0.Add(-5 * time.Second),
			Halts: []Halt{{Pod: "p1", Cause: "stopped being Ready 3s after applying the revision"}}},
	}, {
		name:  "halts on a pod whose container restarted within its interval",
		steps: canary,
		pods: with(with(fleet(8), appliedAt(t0.Add(-5*time.Second)), 1), func(p *Pod) {
			p.LastRestart = t0.Add(-4 * time.Second)
		}, 1),
		want: Decision{Steps: 3, Total: 8, StartedAt: t0.Add(-5 * time.Second),
			Halts: []Halt{{Pod: "p1", Cause: "a container restarted 1s after applying the revision"}}},
	}, {
		name:  "waits without halting for a pod that stopped being Ready after its interval",
		steps: canary,
		pods: with(with(fleet(8), appliedAt(t0.Add(-time.Minute)), 1), func(p *Pod) {
			p.Ready, p.ReadySince = false, t0.Add(-time.Second)
		}, 1),
		want: Decision{UnderWay: true, Steps: 3, Total: 8, StartedAt: t0.Add(-time.Minute)},
	}, {
		name:  "does not halt on a pod that started on the revision and is not Ready yet",
		steps: canary,
		pods: with(fleet(8), func(p *Pod) {
			p.Applied, p.AppliedAt = revA, t0.Add(-2*time.Second)
			p.Ready, p.ReadySince = false, t0.Add(-time.Second)
		}, 4),
		want: Decision{UnderWay: true, Steps: 3, Total: 8, Started: true},
	}, {
		name:  "releases a reverted revision again to a pod whose release of the bad one failed",
		rev:   rev0,
		steps: canary,
		pods: with(fleet(8), func(p *Pod) {
			p.Released, p.Failed, p.FailedReason = revA, revA, "process died after the reload signal; rollout halted"
		}, 1),
		want: Decision{UnderWay: true, Release: []string{"p1"}, Step: 3, Steps: 3, Target: 8, Total: 8, Started: true},
	}, {
		name:  "ignores a failure of another revision",
		steps: canary,
		pods: with(fleet(8), func(p *Pod) {
			p.Released, p.Failed, p.FailedReason = "bbbbbbbbbbbb", "bbbbbbbbbbbb", "verify: timeout"
		}, 1),
		want: Decision{UnderWay: true, Release: []string{"p1"}, Step: 1, Steps: 3, Target: 1, Total: 8, Started: true},
	}, {
		name:  "counts a pod created on the revision as released",
		steps: canary,
		pods: with(fleet(8), func(p *Pod) {
			p.Applied, p.AppliedAt = revA, t0.Add(-time.Minute)
		}, 4),
		want: Decision{UnderWay: true, Release: []string{"p1"}, Step: 2, Steps: 3, Target: 2, Total: 8, Started: true},
	}, {
		name:  "reverts a halted rollout: the pods that run the revision count as released",
		rev:   rev0,
		steps: canary,
		pods: with(fleet(8), func(p *Pod) {
			p.Released, p.Applied, p.AppliedAt, p.Failed, p.FailedReason = revA, revA, t0.Add(-time.Minute), revA, "bad"
		}, 1),
		want: Decision{UnderWay: true, Release: []string{"p1"}, Step: 3, Steps: 3, Target: 8, Total: 8, Started: true},
	}, {
		name:  "releases every pod at once at 100%, but a new pod that started on the revision",
		steps: all,
		pods:  with(fleet(4), func(p *Pod) { p.Applied, p.AppliedAt = revA, t0 }, 2),
		want:  Decision{UnderWay: true, Release: []string{"p1", "p0", "p3"}, Step: 1, Steps: 1, Target: 4, Total: 4, Started: true},
	}, {
		name:  "releases at 100% a pod a mount already reached that holds an older release",
		steps: all,
		pods: with(with(fleet(4), func(p *Pod) { p.Released = rev0 }, 0, 1, 2, 3), func(p *Pod) {
			p.Applied, p.AppliedAt = revA, t0
		}, 1, 2),
		want: Decision{UnderWay: true, Release: []string{"p1", "p0", "p3", "p2"}, Step: 1, Steps: 1, Target: 4, Total: 4, Started: true},
	}, {
		name:  "completes at 100% once every pod runs the revision and is settled",
		steps: all,
		pods:  with(fleet(2), appliedAt(t0.Add(-time.Minute)), 0, 1),
		want:  Decision{Steps: 1, Total: 2, Complete: true, CompletedAt: t0.Add(-time.Minute + interval), StartedAt: t0.Add(-time.Minute)},
	}, {
		name:  "does nothing for an empty group",
		steps: canary,
		want:  Decision{Steps: 3},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rev := tc.rev
			if rev == "" {
				rev = revA
			}
			got := Plan(Input{Revision: rev, Pods: tc.pods, Steps: tc.steps, Interval: interval, Now: t0})
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
	assert.Equal(t, []string{"p1", "p7", "p0", "p3", "p5", "p6", "p4", "p2"}, names(Order(pods, revA)))
	assert.Equal(t, names(Order(pods, revA)), names(Order(reversed, revA)))
	assert.Equal(t, []string{"p3", "p2", "p5", "p6", "p1", "p4", "p0", "p7"}, names(Order(pods, "bbbbbbbbbbbb")))
}
