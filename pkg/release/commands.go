package release

import (
	"fmt"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
)

// CommandRefusal says why cmd does not apply to a release in state st, or ""
// when it does. The controller records it as the command's result; the
// plugin refuses to write such a command.
//
//   - pause and resume apply in any state;
//   - undo applies when the source holds the revision it names;
//   - a command naming a revision applies only while it is the candidate;
//   - retry applies to a Halted release whose halted revision is the candidate;
//   - promote, promote-full and abort apply to a candidate in progress: a
//     Progressing or Paused release whose candidate is not stable.
func CommandRefusal(cmd v1alpha1.Command, st v1alpha1.ConfigReleaseStatus) string {
	switch {
	case cmd.Action == v1alpha1.ActionPause, cmd.Action == v1alpha1.ActionResume:
		return ""
	case cmd.Action == v1alpha1.ActionUndo && cmd.Revision != st.Candidate:
		return fmt.Sprintf("the source holds revision %s, not %q", st.Candidate, cmd.Revision)
	case cmd.Action == v1alpha1.ActionUndo:
		return ""
	case cmd.Revision != "" && cmd.Revision != st.Candidate:
		return fmt.Sprintf("it was for revision %s, and the candidate is now %s", cmd.Revision, st.Candidate)
	case cmd.Action == v1alpha1.ActionRetry && st.Phase != v1alpha1.PhaseHalted:
		return fmt.Sprintf("the release is %s, not Halted", phaseOf(st))
	case cmd.Action == v1alpha1.ActionRetry && (st.Halt == nil || st.Halt.Revision != st.Candidate):
		return "the halted revision is no longer the candidate"
	case cmd.Action != v1alpha1.ActionRetry && !InProgress(st):
		return fmt.Sprintf("the release is %s: there is no candidate in progress", phaseOf(st))
	}
	return ""
}

// InProgress reports whether a release in state st is giving its candidate
// to pods: it is Progressing or Paused, and its candidate is not stable.
func InProgress(st v1alpha1.ConfigReleaseStatus) bool {
	return (st.Phase == v1alpha1.PhaseProgressing || st.Phase == v1alpha1.PhasePaused) && st.Candidate != st.Stable
}

// phaseOf names a release's phase, "not started" before its first status.
func phaseOf(st v1alpha1.ConfigReleaseStatus) string {
	if st.Phase == "" {
		return "not started"
	}
	return string(st.Phase)
}

// RetryLimit is how many automatic retries a halted candidate gets under
// hotreload/on-halt: retry (the controller's schedule: pkg/rollout).
const RetryLimit = 8
