package rollout

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/release"
)

// maxHistory bounds the revisions a release records.
const maxHistory = 10

// The transitions of a release's status (docs/design/2026-12-01-config-releases.md).
// Each returns a new status and leaves its input alone.

// firstSeen is the status of a source seen for the first time at revision
// rev: stable at once, with no canary, since there is nothing to go back to.
func firstSeen(rev string, size int64, now time.Time) v1alpha1.ConfigReleaseStatus {
	t := metav1.NewTime(now)
	return v1alpha1.ConfigReleaseStatus{
		Phase: v1alpha1.PhaseComplete, Stable: rev, Candidate: rev, CandidateSince: &t,
		History: []v1alpha1.RevisionRecord{{Revision: rev, Outcome: v1alpha1.OutcomeStable, Seen: t, Ended: &t, Size: size}},
	}
}

// newCandidate moves the release to candidate rev, seen at now: every
// workload starts again from step 0, the halt and the count of automatic
// retries go, the previous candidate (unless it is stable) is recorded as
// superseded. A candidate equal to the stable revision (a revert) completes
// at once.
func newCandidate(st v1alpha1.ConfigReleaseStatus, rev string, size int64, now time.Time) v1alpha1.ConfigReleaseStatus {
	out := *st.DeepCopy()
	t := metav1.NewTime(now)
	if out.Candidate != out.Stable && len(out.History) > 0 && out.History[0].Revision == out.Candidate && out.History[0].Ended == nil {
		out.History[0].Outcome, out.History[0].Ended = v1alpha1.OutcomeSuperseded, &t
		out.History[0].Reached = reached(out.Workloads)
	}
	out.Candidate, out.CandidateSince, out.Halt, out.Message, out.Retries = rev, &t, nil, "", 0
	out.Workloads = nil
	if rev == out.Stable {
		out.Phase = v1alpha1.PhaseComplete
		return out
	}
	out.Phase = v1alpha1.PhaseProgressing
	out.History = record(out.History, v1alpha1.RevisionRecord{Revision: rev, Outcome: v1alpha1.OutcomeProgressing, Seen: t, Size: size})
	return out
}

// halted records that pod of workload failed on the candidate.
func halted(st v1alpha1.ConfigReleaseStatus, workload string, h Halt, now time.Time) v1alpha1.ConfigReleaseStatus {
	t := metav1.NewTime(now)
	return stopped(st, v1alpha1.Halt{Pod: h.Pod, Workload: workload, Revision: st.Candidate, Cause: h.Cause, Time: t},
		v1alpha1.OutcomeHalted, fmt.Sprintf("pod %s: %s", h.Pod, h.Cause))
}

// aborted records that a user halted the release.
func aborted(st v1alpha1.ConfigReleaseStatus, cmd v1alpha1.Command, now time.Time) v1alpha1.ConfigReleaseStatus {
	cause := "aborted by " + cmp.Or(cmd.By, "an unknown user")
	if cmd.Reason != "" {
		cause += ": " + cmd.Reason
	}
	return stopped(st, v1alpha1.Halt{By: cmd.By, Revision: st.Candidate, Cause: cause, Time: metav1.NewTime(now)},
		v1alpha1.OutcomeAborted, cause)
}

// stopped halts the release with h, ending the candidate's record with outcome and cause.
func stopped(st v1alpha1.ConfigReleaseStatus, h v1alpha1.Halt, outcome v1alpha1.Outcome, cause string) v1alpha1.ConfigReleaseStatus {
	out := *st.DeepCopy()
	out.Phase, out.Halt = v1alpha1.PhaseHalted, &h
	if len(out.History) > 0 && out.History[0].Revision == out.Candidate && out.History[0].Ended == nil {
		out.History[0].Outcome, out.History[0].Ended = outcome, &h.Time
		out.History[0].Cause = cause
		out.History[0].Reached = reached(out.Workloads)
	}
	return out
}

// retried starts the halted candidate again from step 1 in every workload,
// as a new record of the history.
func retried(st v1alpha1.ConfigReleaseStatus, now time.Time) v1alpha1.ConfigReleaseStatus {
	out := *st.DeepCopy()
	t := metav1.NewTime(now)
	var size int64
	if len(out.History) > 0 && out.History[0].Revision == out.Candidate {
		size = out.History[0].Size
	}
	out.Phase, out.Halt, out.Message, out.Workloads = v1alpha1.PhaseProgressing, nil, "", nil
	out.History = record(out.History, v1alpha1.RevisionRecord{Revision: out.Candidate, Outcome: v1alpha1.OutcomeProgressing, Seen: t, Size: size})
	return out
}

// completed makes the candidate stable.
func completed(st v1alpha1.ConfigReleaseStatus, now time.Time) v1alpha1.ConfigReleaseStatus {
	out := *st.DeepCopy()
	t := metav1.NewTime(now)
	if len(out.History) > 0 && out.History[0].Revision == out.Candidate && out.History[0].Ended == nil {
		out.History[0].Outcome, out.History[0].Ended = v1alpha1.OutcomeCompleted, &t
		out.History[0].Reached = reached(out.Workloads)
	}
	out.Phase, out.Stable = v1alpha1.PhaseComplete, out.Candidate
	return out
}

// record puts r first in the history, keeping maxHistory records.
func record(h []v1alpha1.RevisionRecord, r v1alpha1.RevisionRecord) []v1alpha1.RevisionRecord {
	out := append([]v1alpha1.RevisionRecord{r}, h...)
	if len(out) > maxHistory {
		out = out[:maxHistory]
	}
	return out
}

// reached says how far each workload got: "Deployment/web 2 of 3".
func reached(ws []v1alpha1.WorkloadStatus) []string {
	var out []string
	for _, w := range ws {
		out = append(out, fmt.Sprintf("%s %d of %d", release.WorkloadName(w.Kind, w.Name), w.Step, w.Steps))
	}
	return out
}

// summary is the status's one line for kubectl get: per workload its step,
// or what the release waits for.
func summary(st v1alpha1.ConfigReleaseStatus) string {
	if st.Phase == v1alpha1.PhaseComplete {
		n := 0
		for _, w := range st.Workloads {
			n += int(w.Pods)
		}
		return fmt.Sprintf("%d workloads, %d pods", len(st.Workloads), n)
	}
	var parts []string
	for _, w := range st.Workloads {
		parts = append(parts, fmt.Sprintf("%s %d/%d (%d/%d pods)", release.WorkloadName(w.Kind, w.Name), w.Step, w.Steps, w.Applied, w.Pods))
	}
	return strings.Join(parts, ", ")
}
