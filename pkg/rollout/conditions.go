package rollout

import (
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
)

// Reasons of a release's conditions.
const (
	conditionComplete      = "Complete"
	conditionProgressing   = "Progressing"
	conditionPaused        = "Paused"
	conditionHalted        = "Halted"
	conditionBlocked       = "Blocked"
	conditionSourceDeleted = "SourceDeleted"
	conditionStarting      = "Starting"
	conditionRetry         = "RetryScheduled"
)

// withConditions returns st with its conditions by the kstatus conventions
// (sigs.k8s.io/cli-utils/pkg/kstatus), from what st says:
//   - Ready: the candidate is stable, every consumer runs it, nothing blocks;
//   - Reconciling: a candidate is on its way (Progressing, or Paused by a
//     user, or Halted with an automatic retry to come: hotreload/on-halt);
//   - Stalled: the release cannot go on without someone: halted (and no
//     retry to come), blocked (status.message), or its source deleted.
//
// A condition that keeps its status keeps its lastTransitionTime (now is
// only that of a change), so writing a status that did not change writes
// nothing.
func withConditions(st v1alpha1.ConfigReleaseStatus, now time.Time) v1alpha1.ConfigReleaseStatus {
	st.Conditions = append([]metav1.Condition(nil), st.Conditions...)
	stalled, stalledWhy, stalledMsg := false, conditionProgressing, ""
	switch {
	case st.SourceGoneSince != nil:
		stalled, stalledWhy, stalledMsg = true, conditionSourceDeleted, "the source was deleted; its release ends unless it is created again"
	case st.Message != "":
		stalled, stalledWhy, stalledMsg = true, conditionBlocked, st.Message
	case st.Phase == v1alpha1.PhaseHalted && st.Halt != nil && st.Halt.NextRetry == nil:
		stalled, stalledWhy, stalledMsg = true, conditionHalted, haltMessage(*st.Halt)
	}
	reconciling, reconcilingWhy, reconcilingMsg := false, conditionComplete, ""
	switch st.Phase {
	case v1alpha1.PhaseProgressing:
		reconciling, reconcilingWhy, reconcilingMsg = true, conditionProgressing, "releasing revision "+st.Candidate+": "+st.Summary
	case v1alpha1.PhasePaused:
		reconciling, reconcilingWhy, reconcilingMsg = true, conditionPaused, "paused at revision "+st.Candidate+": "+st.Summary
	case "":
		reconciling, reconcilingWhy, reconcilingMsg = true, conditionStarting, "the first revision is being kept"
	case v1alpha1.PhaseHalted:
		if h := st.Halt; h != nil && h.NextRetry != nil {
			reconciling, reconcilingWhy = true, conditionRetry
			reconcilingMsg = haltMessage(*h) + "; retried from step 1 at " + h.NextRetry.UTC().Format(time.RFC3339)
		}
	}
	if stalled {
		reconciling, reconcilingWhy, reconcilingMsg = false, stalledWhy, ""
	}
	ready := st.Phase == v1alpha1.PhaseComplete && !stalled
	readyWhy, readyMsg := conditionComplete, "revision "+st.Stable+" is stable on every consumer"
	switch {
	case stalled:
		readyWhy, readyMsg = stalledWhy, stalledMsg
	case !ready:
		readyWhy, readyMsg = reconcilingWhy, reconcilingMsg
	}
	for _, c := range []metav1.Condition{
		{Type: v1alpha1.ConditionReady, Status: boolStatus(ready), Reason: readyWhy, Message: readyMsg},
		{Type: v1alpha1.ConditionReconciling, Status: boolStatus(reconciling), Reason: reconcilingWhy, Message: reconcilingMsg},
		{Type: v1alpha1.ConditionStalled, Status: boolStatus(stalled), Reason: stalledWhy, Message: stalledMsg},
	} {
		c.ObservedGeneration = st.ObservedGeneration
		c.LastTransitionTime = metav1.NewTime(now)
		apimeta.SetStatusCondition(&st.Conditions, c)
	}
	return st
}

// haltMessage says why a release halted.
func haltMessage(h v1alpha1.Halt) string {
	if h.Pod == "" {
		return "revision " + h.Revision + " was aborted: " + h.Cause
	}
	return "revision " + h.Revision + " halted at pod " + h.Pod + " of " + h.Workload + ": " + h.Cause
}

func boolStatus(b bool) metav1.ConditionStatus {
	if b {
		return metav1.ConditionTrue
	}
	return metav1.ConditionFalse
}
