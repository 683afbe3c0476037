package rollout

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
)

// A release's conditions read, by kstatus (what Flux and kubectl-based
// pipelines use), as the release stands: complete is Current, on its way
// InProgress, halted, blocked or without its source Failed; and each
// condition's observedGeneration is the status's.
func TestConditionsReadByKstatus(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	halt := &v1alpha1.Halt{Pod: "web-1", Workload: "Deployment/web", Revision: "bbbbbbbbbbbb", Cause: "the app exited"}
	for _, tc := range []struct {
		name    string
		st      v1alpha1.ConfigReleaseStatus
		kstatus status.Status
		ready   metav1.ConditionStatus
		reason  string
	}{
		{"complete", v1alpha1.ConfigReleaseStatus{Phase: v1alpha1.PhaseComplete, Stable: "aaaaaaaaaaaa", Candidate: "aaaaaaaaaaaa"},
			status.CurrentStatus, metav1.ConditionTrue, conditionComplete},
		{"progressing", v1alpha1.ConfigReleaseStatus{Phase: v1alpha1.PhaseProgressing, Stable: "aaaaaaaaaaaa", Candidate: "bbbbbbbbbbbb", Summary: "Deployment/web 1/3"},
			status.InProgressStatus, metav1.ConditionFalse, conditionProgressing},
		{"paused", v1alpha1.ConfigReleaseStatus{Phase: v1alpha1.PhasePaused, Stable: "aaaaaaaaaaaa", Candidate: "bbbbbbbbbbbb"},
			status.InProgressStatus, metav1.ConditionFalse, conditionPaused},
		{"halted", v1alpha1.ConfigReleaseStatus{Phase: v1alpha1.PhaseHalted, Stable: "aaaaaaaaaaaa", Candidate: "bbbbbbbbbbbb", Halt: halt},
			status.FailedStatus, metav1.ConditionFalse, conditionHalted},
		{"halted, its retry to come", v1alpha1.ConfigReleaseStatus{Phase: v1alpha1.PhaseHalted, Stable: "aaaaaaaaaaaa", Candidate: "bbbbbbbbbbbb",
			Halt: withRetry(*halt, now.Add(time.Minute))},
			status.InProgressStatus, metav1.ConditionFalse, conditionRetry},
		{"blocked", v1alpha1.ConfigReleaseStatus{Phase: v1alpha1.PhaseComplete, Stable: "aaaaaaaaaaaa", Candidate: "aaaaaaaaaaaa", Message: "over the key limit"},
			status.FailedStatus, metav1.ConditionFalse, conditionBlocked},
		{"source deleted", v1alpha1.ConfigReleaseStatus{Phase: v1alpha1.PhaseComplete, Stable: "aaaaaaaaaaaa", Candidate: "aaaaaaaaaaaa", SourceGoneSince: &metav1.Time{Time: now}},
			status.FailedStatus, metav1.ConditionFalse, conditionSourceDeleted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.st.ObservedGeneration = 3
			st := withConditions(tc.st, now)
			rel := &v1alpha1.ConfigRelease{TypeMeta: metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "ConfigRelease"},
				ObjectMeta: metav1.ObjectMeta{Name: "configmap-app", Namespace: "shop", Generation: 3}, Status: st}
			obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(rel)
			require.NoError(t, err)
			res, err := status.Compute(&unstructured.Unstructured{Object: obj})
			require.NoError(t, err)
			assert.Equal(t, tc.kstatus, res.Status, res.Message)
			assert.Len(t, st.Conditions, 3)
			for _, c := range st.Conditions {
				assert.Equal(t, int64(3), c.ObservedGeneration, c.Type)
			}
			ready := st.Conditions[0]
			assert.Equal(t, []any{v1alpha1.ConditionReady, tc.ready, tc.reason}, []any{ready.Type, ready.Status, ready.Reason})
		})
	}
}

// A status written again unchanged keeps its conditions as they were, times
// included; a change of phase moves only the conditions it changes.
func TestConditionsKeepTheirTimeUntilTheyChange(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	st := withConditions(v1alpha1.ConfigReleaseStatus{Phase: v1alpha1.PhaseComplete, Stable: "a", Candidate: "a"}, t0)
	again := withConditions(st, t0.Add(time.Minute))
	assert.Equal(t, st, again, "nothing to write")

	st.Phase, st.Candidate, st.Summary = v1alpha1.PhaseProgressing, "b", "Deployment/web 1/3"
	next := withConditions(st, t0.Add(time.Hour))
	byType := map[string]metav1.Condition{}
	for _, c := range next.Conditions {
		byType[c.Type] = c
	}
	assert.Equal(t, metav1.NewTime(t0.Add(time.Hour)), byType[v1alpha1.ConditionReady].LastTransitionTime, "Ready went False")
	assert.Equal(t, metav1.NewTime(t0.Add(time.Hour)), byType[v1alpha1.ConditionReconciling].LastTransitionTime, "Reconciling went True")
	assert.Equal(t, metav1.NewTime(t0), byType[v1alpha1.ConditionStalled].LastTransitionTime, "Stalled stayed False")
}

func withRetry(h v1alpha1.Halt, at time.Time) *v1alpha1.Halt {
	h.NextRetry = &metav1.Time{Time: at}
	return &h
}
