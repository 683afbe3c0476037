package rollout

import (
	"cmp"
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/notify"
	"github.com/hotreload/hotreload/pkg/release"
)

// The commands users give a release through its spec (kubectl hotreload):
// spec.command is carried out once per ID, for the candidate it names, and
// its result is recorded in status.lastCommand by the status update that
// records its effect. See docs/design/2026-12-02-operating-releases.md.

// Event reasons of the commands.
const (
	ReasonPromoted = "RolloutPromoted"
	ReasonPaused   = "RolloutPaused"
	ReasonResumed  = "RolloutResumed"
	ReasonAborted  = "RolloutAborted"
	ReasonRetried  = "RolloutRetried"
	ReasonUndone   = "RolloutUndone"
	// ReasonCommandRefused warns that a command did nothing: it was for
	// another revision, or does not apply in the release's phase.
	ReasonCommandRefused = "CommandRefused"
)

// pending returns the release's command not carried out yet, or nil.
func pending(rel *v1alpha1.ConfigRelease) *v1alpha1.Command {
	cmd := rel.Spec.Command
	if cmd == nil || rel.Status.LastCommand != nil && rel.Status.LastCommand.ID == cmd.ID {
		return nil
	}
	return cmd
}

// carriedOutInStep reports whether cmd is one the step carries out (a
// promote or an abort that applies): it needs the pods.
func carriedOutInStep(cmd *v1alpha1.Command, st v1alpha1.ConfigReleaseStatus) bool {
	switch cmd.Action {
	case v1alpha1.ActionPromote, v1alpha1.ActionPromoteFull, v1alpha1.ActionAbort:
		return release.CommandRefusal(*cmd, st) == ""
	}
	return false
}

// command carries out a command that needs no step: a pause or resume (the
// step reads spec.paused; this records who and why), a retry, an undo (the
// plugin wrote the source; this records who and why), or any command that
// does not apply, which is recorded as refused.
func (r *Reconciler) command(ctx context.Context, rel *v1alpha1.ConfigRelease, s SourceRef, pods []consumer, cmd *v1alpha1.Command) error {
	now := r.Now()
	next := rel.Status
	res := &v1alpha1.CommandResult{ID: cmd.ID, Action: cmd.Action, By: cmd.By, Time: metav1.NewTime(now)}
	if why := release.CommandRefusal(*cmd, rel.Status); why != "" {
		res.Result = "not carried out: " + why
	} else {
		res.Done = true
		switch cmd.Action {
		case v1alpha1.ActionRetry:
			next = retried(next, now)
			res.Result = fmt.Sprintf("revision %s starts again from step 1", next.Candidate)
		case v1alpha1.ActionPause:
			res.Result = "paused: nothing more is released until it is resumed"
		case v1alpha1.ActionResume:
			res.Result = "resumed"
		case v1alpha1.ActionUndo:
			res.Result = undone(next)
		}
	}
	next.LastCommand = res
	next.Summary = summary(next)
	if err := r.writeStatus(ctx, rel, s, next); err != nil {
		return err
	}
	order, _ := workloadPods(pods)
	r.announceCommand(r.announcer(ctx, rel, s), order, cmd, res)
	return nil
}

// undone says what an undo did, once the release took the revision written
// back as its candidate.
func undone(st v1alpha1.ConfigReleaseStatus) string {
	if st.Candidate == st.Stable {
		return fmt.Sprintf("revision %s written back into the source; it is the stable revision, which every pod runs again", st.Candidate)
	}
	return fmt.Sprintf("revision %s written back into the source; its release started, stable revision %s", st.Candidate, st.Stable)
}

// undoNotSeen reports whether cmd is an undo whose revision the source holds
// on the API server but not yet in the cache: the plugin writes the source
// before the command, and the two informers may deliver them in either
// order. The undo is recorded once the release took that revision.
func (r *Reconciler) undoNotSeen(ctx context.Context, s SourceRef, cmd *v1alpha1.Command, st v1alpha1.ConfigReleaseStatus) (bool, error) {
	if cmd == nil || cmd.Action != v1alpha1.ActionUndo || cmd.Revision == st.Candidate {
		return false, nil
	}
	c, _, err := r.read(ctx, s.Kind, s.Namespace, s.Name)
	if err != nil {
		return false, fmt.Errorf("reading %s: %w", s, err)
	}
	return sourceRevision(c.keys(s.Kind)) == cmd.Revision, nil
}

// commandResult says what a promote or an abort the step carried out did.
func commandResult(cmd *v1alpha1.Command, advanced []stepped, next v1alpha1.ConfigReleaseStatus) string {
	if cmd.Action == v1alpha1.ActionAbort {
		return fmt.Sprintf("aborted: every pod goes back to stable revision %s", next.Stable)
	}
	if next.Phase == v1alpha1.PhaseHalted {
		return "a pod halted the release before the promote: nothing more was released"
	}
	if len(advanced) == 0 {
		return "every workload is at its last step: the candidate becomes stable once its pods ran it healthy for the interval"
	}
	var parts []string
	for _, a := range advanced {
		parts = append(parts, a.what)
	}
	return "released " + strings.Join(parts, "; ")
}

// announceCommand records a command and its result in an Event on the
// source, the release and the workloads, and hands it to the notifier: who
// asked, why, what it did.
func (r *Reconciler) announceCommand(ev *announcer, workloads []Workload, cmd *v1alpha1.Command, res *v1alpha1.CommandResult) {
	r.Metrics.command(ev.ns, string(cmd.Action), res.Done)
	who := cmp.Or(cmd.By, "an unknown user")
	msg := fmt.Sprintf("%s by %s", cmd.Action, who)
	if cmd.Reason != "" {
		msg += fmt.Sprintf(" (%q)", cmd.Reason)
	}
	msg += ": " + res.Result
	log.Log.WithName(Name).Info("command", "namespace", ev.ns, "action", cmd.Action, "by", who, "reason", cmd.Reason, "done", res.Done, "result", res.Result)
	ev.notify(notify.Notification{Kind: notify.Command, Command: &notify.CommandInfo{
		Action: string(cmd.Action), By: who, Reason: cmd.Reason, Done: res.Done, Result: res.Result}})
	if !res.Done {
		ev.warning(ReasonCommandRefused, actionCommand, "%s", msg)
		return
	}
	reason := map[v1alpha1.Action]string{
		v1alpha1.ActionPromote: ReasonPromoted, v1alpha1.ActionPromoteFull: ReasonPromoted,
		v1alpha1.ActionPause: ReasonPaused, v1alpha1.ActionResume: ReasonResumed,
		v1alpha1.ActionAbort: ReasonAborted, v1alpha1.ActionRetry: ReasonRetried,
		v1alpha1.ActionUndo: ReasonUndone,
	}[cmd.Action]
	typ := corev1.EventTypeNormal
	if cmd.Action == v1alpha1.ActionAbort {
		typ = corev1.EventTypeWarning
	}
	for _, o := range ev.regards {
		ev.r.Recorder.Eventf(o, nil, typ, reason, actionCommand, "%s", msg)
	}
	for _, w := range workloads {
		ev.onWorkload(w, typ, reason, actionCommand, msg)
	}
}
