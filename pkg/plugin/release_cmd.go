package plugin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
)

// pollEvery is how often a command re-reads its release while it waits.
const pollEvery = 200 * time.Millisecond

const (
	promoteHelp = `Releases each workload's next step now, without waiting for its gate (the released pods
applied the candidate, Ready, for the interval). --full releases every remaining pod at
once; the candidate becomes stable once they ran it healthy for the interval. A pod that
fails still halts the release. For a Progressing or Paused release.`
	pauseHelp = `Holds the release at the step each workload reached: nothing more is released and no
candidate becomes stable until it is resumed. It stays paused across new revisions of the
source. A failing pod still halts the release.`
	resumeHelp = `Lets a paused release go on from the step each workload reached.`
	abortHelp  = `Halts the release now: every pod given the candidate goes back to stable in place, as
after an automatic halt, and the candidate's outcome is Aborted. Nothing more is released
until the source changes or someone runs retry. For a Progressing or Paused release.`
	retryHelp = `Releases a halted candidate again from step 1 in every workload, without an edit of the
source: for a halt whose cause was not the config (a node, a probe, a dependency). For a
Halted release.`
)

// actions are the commands releaseCommand makes, by name.
var actions = map[string]v1alpha1.Action{
	"promote": v1alpha1.ActionPromote, "pause": v1alpha1.ActionPause, "resume": v1alpha1.ActionResume,
	"abort": v1alpha1.ActionAbort, "retry": v1alpha1.ActionRetry,
}

// releaseCommand is one of the commands that write spec.command.
func releaseCommand(a *app, kube *genericclioptions.ConfigFlags, name, short, long string) *cobra.Command {
	use := name + " SOURCE [--reason TEXT] [--wait DURATION]"
	if name == "promote" {
		use = "promote SOURCE [--full] [--reason TEXT] [--wait DURATION]"
	}
	o := &options{}
	run := func(ctx context.Context, a *app, inv *invocation) error {
		action := actions[name]
		if inv.opts.full {
			action = v1alpha1.ActionPromoteFull
		}
		return runReleaseCommand(ctx, a, inv, name, action)
	}
	cmd := &cobra.Command{
		Use: use, GroupID: groupOperate, Short: short,
		Long: long + `

The command is written into the release's spec (who gives it, and why) and carried out
once by the controller, which records its result in the release and an Event. It waits
for that result.

` + sourceHelp,
		DisableFlagsInUseLine: true,
		ValidArgsFunction:     completeSource(a, kube),
		RunE:                  a.runE(run, o, kube),
	}
	fs := cmd.Flags()
	if name == "promote" {
		fs.BoolVar(&o.full, "full", false, "release every remaining pod now, not just the next step")
	}
	fs.StringVar(&o.reason, "reason", "", "why, for the Event that records the command")
	fs.DurationVar(&o.wait, "wait", 30*time.Second, "how long to wait for the controller to carry the command out; 0: do not wait")
	completeFlag(cmd, "reason", cobra.NoFileCompletions)
	return cmd
}

func runReleaseCommand(ctx context.Context, a *app, inv *invocation, name string, action v1alpha1.Action) error {
	s, err := oneSource(name, inv.args)
	if err != nil {
		return err
	}
	if inv.opts.wait < 0 {
		return usageErrorf("--wait %s: give a duration of 0 or more", inv.opts.wait)
	}
	sess, rel, err := a.openRelease(ctx, inv, s)
	if err != nil {
		return err
	}
	if err := refusal(action, rel); err != nil {
		return err
	}
	cmd, err := newCommand(ctx, sess, action, rel.Status.Candidate, inv.opts.reason)
	if err != nil {
		return err
	}
	res, err := give(ctx, sess, rel, s, cmd, inv.opts.wait)
	switch {
	case err != nil:
		return err
	case res == nil:
		printf(a.Out, "%s: %s command %s recorded; kubectl hotreload status %s -n %s shows when the controller carried it out\n",
			s, action, cmd.ID, s, sess.namespace)
		return nil
	case !res.Done:
		return fmt.Errorf("%s: %s", s, res.Result)
	}
	printf(a.Out, "%s: %s\n", s, res.Result)
	return nil
}

// newCommand returns a command of action for revision rev, with a new ID,
// in the name of the user the session acts as.
func newCommand(ctx context.Context, sess *session, action v1alpha1.Action, rev, reason string) (v1alpha1.Command, error) {
	by, err := sess.whoAmI(ctx)
	if err != nil {
		return v1alpha1.Command{}, err
	}
	id, err := newCommandID()
	if err != nil {
		return v1alpha1.Command{}, err
	}
	return v1alpha1.Command{ID: id, Action: action, Revision: rev, By: by, Reason: reason}, nil
}

// give writes command cmd into release rel of source s and waits up to wait
// for the controller's result, which it returns; with a wait of 0 it does
// not wait, and returns none.
func give(ctx context.Context, sess *session, rel *v1alpha1.ConfigRelease, s source, cmd v1alpha1.Command, wait time.Duration) (*v1alpha1.CommandResult, error) {
	body, err := commandPatch(cmd)
	if err != nil {
		return nil, err
	}
	if err := sess.client.Patch(ctx, rel, client.RawPatch(types.MergePatchType, body), fieldOwner); err != nil {
		return nil, apiError(err, fmt.Sprintf("writing the %s command into the release of %s", cmd.Action, s))
	}
	if wait == 0 {
		return nil, nil
	}
	get := func(ctx context.Context) (*v1alpha1.ConfigRelease, error) {
		return getRelease(ctx, sess.client, sess.namespace, s)
	}
	tick, timeout := time.NewTicker(pollEvery), time.NewTimer(wait)
	defer tick.Stop()
	defer timeout.Stop()
	res, err := awaitCommand(ctx, cmd.ID, get, tick.C, timeout.C)
	switch {
	case errors.Is(err, errNotCarriedOut):
		return nil, timeoutError(wait)
	case ctx.Err() != nil:
		return nil, fmt.Errorf("interrupted: the %s command stays recorded in the release; kubectl hotreload status %s -n %s shows when it is carried out", cmd.Action, s, sess.namespace)
	case err != nil:
		return nil, err
	}
	return res, nil
}
