package rollout

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/annotations"
)

// The step's decision, from its world alone: each case is one transition of
// a release (docs/design/2026-12-07-controller-shape.md).

const (
	stableRev = "5d41402abc4b"
	candRev   = "9e107d9d372b"
	// pod revisions: what a pod runs with the stable or the candidate config.
	podStable = "0a1b2c3d4e5f"
	podCand   = "f5e4d3c2b1a0"
)

var (
	decideNow = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	web       = Workload{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: "uid-web"}
)

// stepPodOf is a Ready pod of Deployment/web running stable, created at
// minute i, rolling out in "1,100%" steps 30 s apart.
func stepPodOf(name string, i int) stepPod {
	created := decideNow.Add(-time.Hour).Add(time.Duration(i) * time.Minute)
	return stepPod{Workload: web, Name: name, UID: types.UID("uid-" + name), Created: created,
		Annotations: map[string]string{annotations.Rollout: "1,100%", annotations.RolloutInterval: "30s"},
		State: Pod{Name: name, UID: types.UID("uid-" + name), Released: podStable, Applied: podStable, Ready: true,
			ReadySince: created, Created: created}}
}

// holdingCand is p given the candidate, which it applied at when (zero: not yet).
func holdingCand(p stepPod, when time.Time) stepPod {
	p.Holds, p.HoldsEntry = true, true
	p.State.Released = podCand
	if !when.IsZero() {
		p.State.Applied, p.State.AppliedAt = podCand, when
	}
	return p
}

func inProgress(step int32, since time.Time) v1alpha1.ConfigReleaseStatus {
	t := metav1.NewTime(decideNow.Add(-10 * time.Minute))
	st := v1alpha1.ConfigReleaseStatus{Phase: v1alpha1.PhaseProgressing, Stable: stableRev, Candidate: candRev, CandidateSince: &t,
		History: []v1alpha1.RevisionRecord{{Revision: candRev, Outcome: v1alpha1.OutcomeProgressing, Seen: t}}}
	if step > 0 {
		s := metav1.NewTime(since)
		st.Workloads = []v1alpha1.WorkloadStatus{{Kind: "Deployment", Name: "web", Steps: 2, Rollout: "1,100%", Interval: "30s", Step: step, StepSince: &s}}
	}
	return st
}

func TestDecideStep(t *testing.T) {
	nowT := metav1.NewTime(decideNow)
	a, b := stepPodOf("web-a", 0), stepPodOf("web-b", 1)
	tests := []struct {
		name  string
		world stepWorld
		check func(t *testing.T, d stepDecision)
	}{
		{
			name:  "a candidate's first step releases it to the first pods and says so",
			world: stepWorld{Status: inProgress(0, time.Time{}), Pods: []stepPod{a, b}, Now: decideNow},
			check: func(t *testing.T, d stepDecision) {
				assert.Equal(t, 1, countTrue(d.Give), "one pod of two at step 1 of 1,100%")
				assert.Len(t, d.Advanced, 1)
				assert.Equal(t, web, d.Advanced[0].workload)
				assert.Regexp(t, `^Deployment/web, step 1 of 2: 1 of 2 pods \(web-[ab]\)$`, d.Advanced[0].what)
				assert.Equal(t, []v1alpha1.WorkloadStatus{{Kind: "Deployment", Name: "web", Steps: 2, Rollout: "1,100%", Interval: "30s",
					Step: 1, StepSince: &nowT, Pods: 2, Released: 1, Ready: 2}}, d.Next.Workloads)
				assert.Equal(t, v1alpha1.PhaseProgressing, d.Next.Phase)
				assert.False(t, d.Halting || d.Completes || d.RolledBack)
			},
		},
		{
			name: "a pod that reports the candidate failed halts the release, the status first, and every pod goes back",
			world: stepWorld{Status: inProgress(1, decideNow.Add(-time.Minute)), Now: decideNow, Pods: []stepPod{
				func() stepPod {
					p := holdingCand(a, decideNow.Add(-50*time.Second))
					p.State.Failed, p.State.FailedReason = podCand, "refused by the app: nginx -t: exit status 1"
					return p
				}(), b}},
			check: func(t *testing.T, d stepDecision) {
				assert.Equal(t, &Halt{Pod: "web-a", Cause: "refused by the app: nginx -t: exit status 1"}, d.Halt)
				assert.Equal(t, web, d.HaltedAt)
				assert.Equal(t, map[types.UID]bool{"uid-web-a": false, "uid-web-b": false}, d.Give, "nobody keeps the candidate")
				assert.True(t, d.Halting, "the halt is written before the pods go back")
				assert.Equal(t, v1alpha1.PhaseHalted, d.Next.Phase)
				assert.Equal(t, "web-a", d.Next.Halt.Pod)
				assert.False(t, d.Next.Halt.RolledBack, "web-a still holds it")
				assert.False(t, d.RolledBack)
			},
		},
		{
			name: "a halted release whose pods all run stable again is rolled back",
			world: stepWorld{Status: func() v1alpha1.ConfigReleaseStatus {
				st := inProgress(1, decideNow.Add(-time.Minute))
				st.Phase, st.Halt = v1alpha1.PhaseHalted, &v1alpha1.Halt{Pod: "web-a", Revision: candRev}
				return st
			}(), Pods: []stepPod{a, b}, Now: decideNow},
			check: func(t *testing.T, d stepDecision) {
				assert.True(t, d.RolledBack)
				assert.True(t, d.Next.Halt.RolledBack)
				assert.False(t, d.Halting, "it was halted already")
				assert.Empty(t, d.Advanced)
			},
		},
		{
			name: "every pod healthy on the candidate for the interval at the last step completes the release",
			world: stepWorld{Status: inProgress(2, decideNow.Add(-time.Minute)), Now: decideNow, Pods: []stepPod{
				holdingCand(a, decideNow.Add(-45*time.Second)), holdingCand(b, decideNow.Add(-40*time.Second))}},
			check: func(t *testing.T, d stepDecision) {
				assert.True(t, d.Completes, "the stable copy is written before the status")
				assert.Equal(t, v1alpha1.PhaseComplete, d.Next.Phase)
				assert.Equal(t, candRev, d.Next.Stable)
				assert.Equal(t, map[types.UID]bool{"uid-web-a": true, "uid-web-b": true}, d.Give)
			},
		},
		{
			name: "a step waits out its interval from its release, by the controller's clock, whatever time its pod reports applying it",
			world: stepWorld{Status: inProgress(1, decideNow.Add(-5*time.Second)), Now: decideNow,
				Pods: []stepPod{holdingCand(a, decideNow.Add(-time.Hour)), b}},
			check: func(t *testing.T, d stepDecision) {
				assert.Empty(t, d.Advanced)
				assert.Equal(t, decideNow.Add(25*time.Second), d.RequeueAt, "30 s after the release")
				assert.Equal(t, map[types.UID]bool{"uid-web-a": true, "uid-web-b": false}, d.Give)
				assert.Nil(t, d.Halt)
			},
		},
		{
			name:  "a paused release holds its step",
			world: stepWorld{Status: inProgress(1, decideNow.Add(-time.Hour)), Paused: true, Now: decideNow, Pods: []stepPod{holdingCand(a, decideNow.Add(-time.Hour)), b}},
			check: func(t *testing.T, d stepDecision) {
				assert.Equal(t, v1alpha1.PhasePaused, d.Next.Phase)
				assert.Empty(t, d.Advanced, "nothing more is released")
				assert.Equal(t, map[types.UID]bool{"uid-web-a": true, "uid-web-b": false}, d.Give)
				assert.False(t, d.Completes)
			},
		},
		{
			name: "a promote releases the next step at once, and its result names who",
			world: stepWorld{Status: inProgress(1, decideNow.Add(-5*time.Second)), Now: decideNow,
				Command: &v1alpha1.Command{ID: "c1", Action: v1alpha1.ActionPromote, Revision: candRev, By: "alice"},
				Pods:    []stepPod{holdingCand(a, decideNow.Add(-5*time.Second)), b}},
			check: func(t *testing.T, d stepDecision) {
				assert.Equal(t, map[types.UID]bool{"uid-web-a": true, "uid-web-b": true}, d.Give)
				assert.Equal(t, []stepped{{web, "Deployment/web, step 2 of 2: 2 of 2 pods (web-b), promoted by alice"}}, d.Advanced)
				assert.Equal(t, &v1alpha1.CommandResult{ID: "c1", Action: v1alpha1.ActionPromote, By: "alice", Done: true, Time: nowT,
					Result: "released Deployment/web, step 2 of 2: 2 of 2 pods (web-b), promoted by alice"}, d.Next.LastCommand)
			},
		},
		{
			name: "an abort halts the release and takes the candidate from every pod",
			world: stepWorld{Status: inProgress(1, decideNow.Add(-5*time.Second)), Now: decideNow,
				Command: &v1alpha1.Command{ID: "c2", Action: v1alpha1.ActionAbort, Revision: candRev, By: "bob", Reason: "error rate up"},
				Pods:    []stepPod{holdingCand(a, decideNow.Add(-5*time.Second)), b}},
			check: func(t *testing.T, d stepDecision) {
				assert.Nil(t, d.Halt, "no pod halted it")
				assert.True(t, d.Halting)
				assert.Equal(t, v1alpha1.PhaseHalted, d.Next.Phase)
				assert.Equal(t, map[types.UID]bool{"uid-web-a": false, "uid-web-b": false}, d.Give)
				assert.Equal(t, "aborted: every pod goes back to stable revision "+stableRev, d.Next.LastCommand.Result)
			},
		},
		{
			name:  "a complete release stays as it is",
			world: stepWorld{Status: v1alpha1.ConfigReleaseStatus{Phase: v1alpha1.PhaseComplete, Stable: candRev, Candidate: candRev}, Pods: []stepPod{a}, Now: decideNow},
			check: func(t *testing.T, d stepDecision) {
				assert.Equal(t, stepDecision{
					Next: v1alpha1.ConfigReleaseStatus{Phase: v1alpha1.PhaseComplete, Stable: candRev, Candidate: candRev,
						Workloads: []v1alpha1.WorkloadStatus{{Kind: "Deployment", Name: "web", Steps: 2, Rollout: "1,100%", Interval: "30s",
							Pods: 1, Ready: 1, Complete: true}},
						Summary: "1 workloads, 1 pods"},
					Give: map[types.UID]bool{"uid-web-a": false}, Order: []Workload{web}, Now: decideNow,
				}, d)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, decideStep(tt.world))
		})
	}
}

func countTrue(m map[types.UID]bool) int {
	n := 0
	for _, v := range m {
		if v {
			n++
		}
	}
	return n
}

// TestAnnouncedRemembersABoundedSet: each object is announced once; past
// maxRemembered the least recently announced is forgotten, and would be
// announced again, while memory stays bounded.
func TestAnnouncedRemembersABoundedSet(t *testing.T) {
	var a announced[types.UID]
	assert.True(t, a.first("uid-0"))
	assert.False(t, a.first("uid-0"), "once")
	for i := 1; i < maxRemembered; i++ {
		a.first(types.UID(fmt.Sprint("uid-", i)))
	}
	assert.False(t, a.first("uid-0"), "still remembered at the bound")
	assert.True(t, a.first("uid-new"), "one more")
	assert.True(t, a.first("uid-1"), "the least recently announced was forgotten")
	assert.Equal(t, maxRemembered, a.seen.Len())
}
