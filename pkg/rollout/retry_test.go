package rollout

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/annotations"
)

// haltedFor is a release whose candidate pod web-a halted age ago, every pod
// back on stable, after retries automatic retries.
func haltedFor(age time.Duration, retries int32) v1alpha1.ConfigReleaseStatus {
	st := inProgress(1, decideNow.Add(-age-time.Minute))
	at := metav1.NewTime(decideNow.Add(-age))
	st.Phase, st.Retries = v1alpha1.PhaseHalted, retries
	st.Halt = &v1alpha1.Halt{Pod: "web-a", Workload: "Deployment/web", Revision: candRev, Cause: "the app exited", Time: at, RolledBack: true}
	st.History[0].Outcome, st.History[0].Ended, st.History[0].Cause = v1alpha1.OutcomeHalted, &at, "pod web-a: the app exited"
	return st
}

// heldAt is the decision that changes nothing of a halted release in state st
// of the two pods of Deployment/web, both on stable: its counts, and the
// halt's next retry at next (none when nil).
func heldAt(st v1alpha1.ConfigReleaseStatus, next *time.Time) stepDecision {
	out := *st.DeepCopy()
	out.Workloads = []v1alpha1.WorkloadStatus{{Kind: "Deployment", Name: "web", Steps: 2, Rollout: "1,100%", Interval: "30s",
		Step: 1, StepSince: st.Workloads[0].StepSince, Pods: 2, Ready: 2}}
	out.Summary = "Deployment/web 1/2 (0/2 pods)"
	out.Halt.NextRetry = nil
	if next != nil {
		out.Halt.NextRetry = &metav1.Time{Time: *next}
	}
	return stepDecision{Next: out, Give: map[types.UID]bool{"uid-web-a": false, "uid-web-b": false}, Order: []Workload{web}, Now: decideNow}
}

// retriedFrom is the decision that retries the candidate of halted release
// st, saying what: step 1 released to pod first, one more retry counted.
func retriedFrom(st v1alpha1.ConfigReleaseStatus, first, what string) stepDecision {
	next := retried(st, decideNow)
	next.Retries = st.Retries + 1
	now := metav1.NewTime(decideNow)
	next.Workloads = []v1alpha1.WorkloadStatus{{Kind: "Deployment", Name: "web", Steps: 2, Rollout: "1,100%", Interval: "30s",
		Step: 1, StepSince: &now, Pods: 2, Released: 1, Ready: 2}}
	next.Summary = "Deployment/web 1/2 (0/2 pods)"
	give := map[types.UID]bool{"uid-web-a": false, "uid-web-b": false}
	give[types.UID("uid-"+first)] = true
	return stepDecision{Next: next, Give: give, Order: []Workload{web}, Now: decideNow,
		Advanced: []stepped{{web, "Deployment/web, step 1 of 2: 1 of 2 pods (" + first + ")"}}, Retried: what}
}

func at(d time.Duration) *time.Time { t := decideNow.Add(d); return &t }

var retryPolicy = map[string]string{annotations.OnHalt: "retry"}

// hotreload/on-halt, as the step decides it: each case compares the whole
// decision.
func TestDecideStepRetriesAHaltedCandidate(t *testing.T) {
	a, b := stepPodOf("web-a", 0), stepPodOf("web-b", 1)
	first := Order([]Pod{a.State, b.State}, candRev)[0].Name
	tests := []struct {
		name  string
		world stepWorld
		want  func() stepDecision
	}{
		{
			name:  "without a policy a halt holds, and a retry scheduled under another policy goes",
			world: stepWorld{Status: withNextRetry(haltedFor(time.Hour, 0), decideNow), Pods: []stepPod{a, b}},
			want:  func() stepDecision { return heldAt(haltedFor(time.Hour, 0), nil) },
		},
		{
			name:  "before the backoff the halt waits, and the controller looks again when it ends",
			world: stepWorld{Status: haltedFor(30*time.Second, 0), Source: retryPolicy, Pods: []stepPod{a, b}},
			want: func() stepDecision {
				d := heldAt(haltedFor(30*time.Second, 0), at(30*time.Second))
				d.RequeueAt = decideNow.Add(30 * time.Second)
				return d
			},
		},
		{
			name:  "the namespace's policy applies to its sources",
			world: stepWorld{Status: haltedFor(30*time.Second, 0), Namespace: retryPolicy, Pods: []stepPod{a, b}},
			want: func() stepDecision {
				d := heldAt(haltedFor(30*time.Second, 0), at(30*time.Second))
				d.RequeueAt = decideNow.Add(30 * time.Second)
				return d
			},
		},
		{
			name:  "at the backoff, every pod back on stable, the candidate starts again from step 1",
			world: stepWorld{Status: haltedFor(time.Minute, 0), Source: retryPolicy, Pods: []stepPod{a, b}},
			want: func() stepDecision {
				return retriedFrom(haltedFor(time.Minute, 0), first,
					"hotreload/on-halt: retry: config revision "+candRev+" starts again from step 1, retry 1 of 8; should it halt again, the next retry comes 2m0s after that halt")
			},
		},
		{
			name:  "a retry that is due waits until every pod is back on stable, with no time to look again at",
			world: stepWorld{Status: stillRollingBack(haltedFor(time.Hour, 0)), Source: retryPolicy, Pods: []stepPod{holdingCand(a, time.Time{}), b}},
			want: func() stepDecision {
				return heldAt(stillRollingBack(haltedFor(time.Hour, 0)), at(-time.Hour+time.Minute))
			},
		},
		{
			name:  "once every pod is back, a retry that is due comes at once",
			world: stepWorld{Status: stillRollingBack(haltedFor(time.Hour, 0)), Source: retryPolicy, Pods: []stepPod{a, b}},
			want: func() stepDecision {
				d := heldAt(haltedFor(time.Hour, 0), at(-time.Hour+time.Minute))
				d.RolledBack, d.RequeueAt = true, decideNow
				return d
			},
		},
		{
			name:  "a paused release is retried once it is resumed",
			world: stepWorld{Status: haltedFor(time.Hour, 0), Paused: true, Source: retryPolicy, Pods: []stepPod{a, b}},
			want:  func() stepDecision { return heldAt(haltedFor(time.Hour, 0), at(-time.Hour+time.Minute)) },
		},
		{
			name:  "each wait doubles: the fourth retry comes 8 minutes after the halt",
			world: stepWorld{Status: haltedFor(time.Minute, 3), Source: retryPolicy, Pods: []stepPod{a, b}},
			want: func() stepDecision {
				d := heldAt(haltedFor(time.Minute, 3), at(7*time.Minute))
				d.RequeueAt = decideNow.Add(7 * time.Minute)
				return d
			},
		},
		{
			name:  "the waits stop growing at 30 minutes",
			world: stepWorld{Status: haltedFor(time.Minute, 6), Source: retryPolicy, Pods: []stepPod{a, b}},
			want: func() stepDecision {
				d := heldAt(haltedFor(time.Minute, 6), at(29*time.Minute))
				d.RequeueAt = decideNow.Add(29 * time.Minute)
				return d
			},
		},
		{
			name:  "the last retry says it is the last",
			world: stepWorld{Status: haltedFor(time.Hour, 7), Source: retryPolicy, Pods: []stepPod{a, b}},
			want: func() stepDecision {
				return retriedFrom(haltedFor(time.Hour, 7), first,
					"hotreload/on-halt: retry: config revision "+candRev+" starts again from step 1, retry 8 of 8, the last: should it halt again, the halt holds")
			},
		},
		{
			name:  "at the limit the halt holds",
			world: stepWorld{Status: haltedFor(10*time.Hour, 8), Source: retryPolicy, Pods: []stepPod{a, b}},
			want:  func() stepDecision { return heldAt(haltedFor(10*time.Hour, 8), nil) },
		},
		{
			name:  "an abort holds: a user decided it",
			world: stepWorld{Status: aborted(inProgress(1, decideNow.Add(-time.Hour)), v1alpha1.Command{By: "bob"}, decideNow.Add(-time.Hour)), Source: retryPolicy, Pods: []stepPod{a, b}},
			want: func() stepDecision {
				st := aborted(inProgress(1, decideNow.Add(-time.Hour)), v1alpha1.Command{By: "bob"}, decideNow.Add(-time.Hour))
				d := heldAt(st, nil)
				d.Next.Halt.RolledBack, d.RolledBack = true, true
				return d
			},
		},
		{
			name: "a new candidate starts its retries from none: its halt is retried a minute later, and the halt says when",
			world: stepWorld{Status: newCandidate(haltedFor(time.Hour, 8), candRev, 0, decideNow.Add(-time.Minute)), Source: retryPolicy,
				Pods: []stepPod{failedOnCand(a), b}},
			want: func() stepDecision {
				d := decideStep(stepWorld{Status: newCandidate(haltedFor(time.Hour, 8), candRev, 0, decideNow.Add(-time.Minute)),
					Pods: []stepPod{failedOnCand(a), b}, Now: decideNow, RetryBackoff: time.Minute})
				d.Next.Halt.NextRetry = &metav1.Time{Time: decideNow.Add(time.Minute)}
				d.RequeueAt = decideNow.Add(time.Minute)
				d.RetryNote = "hotreload/on-halt: retry: retried from step 1 at 2026-12-07T12:01:00Z, once every pod is back on stable (retry 1 of 8)"
				return d
			},
		},
		{
			name: "a malformed policy warns when the release halts, and the halt holds",
			world: stepWorld{Status: inProgress(1, decideNow.Add(-time.Minute)), Source: map[string]string{annotations.OnHalt: "retyr"},
				Pods: []stepPod{failedOnCand(a), b}},
			want: func() stepDecision {
				d := decideStep(stepWorld{Status: inProgress(1, decideNow.Add(-time.Minute)), Pods: []stepPod{failedOnCand(a), b}, Now: decideNow, RetryBackoff: time.Minute})
				d.HaltWarnings = []string{`hotreload/on-halt: invalid policy "retyr": want hold or retry; using hold`}
				return d
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.world.Now, tt.world.RetryBackoff = decideNow, time.Minute
			assert.Equal(t, tt.want(), decideStep(tt.world))
		})
	}
}

func withNextRetry(st v1alpha1.ConfigReleaseStatus, t time.Time) v1alpha1.ConfigReleaseStatus {
	st.Halt.NextRetry = &metav1.Time{Time: t}
	return st
}

func stillRollingBack(st v1alpha1.ConfigReleaseStatus) v1alpha1.ConfigReleaseStatus {
	st.Halt.RolledBack = false
	return st
}

// failedOnCand is p given the candidate, which it reported failed.
func failedOnCand(p stepPod) stepPod {
	p = holdingCand(p, time.Time{})
	p.State.Failed, p.State.FailedReason = podCand, "the app exited"
	return p
}

func TestRetryDelay(t *testing.T) {
	var got []time.Duration
	for n := range int32(RetryLimit) {
		got = append(got, retryDelay(time.Minute, n))
	}
	assert.Equal(t, []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 16 * time.Minute,
		30 * time.Minute, 30 * time.Minute, 30 * time.Minute}, got, "1 minute, doubling, at most 30")
}
