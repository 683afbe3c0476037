package plugin

import (
	"bufio"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
)

func historyCommand(a *app, kube *genericclioptions.ConfigFlags) *cobra.Command {
	o := &options{}
	cmd := &cobra.Command{
		Use:     "history SOURCE [-o json|yaml]",
		GroupID: groupShow,
		Short:   "list a source's recent revisions and what became of them",
		Long: `Lists the recent revisions of a source, newest first: each one's outcome (Progressing,
Completed, Halted, Aborted, Superseded, Stable), when it was seen and ended, how far each
workload got, its size, whether its content is still kept (for diff and undo), and the
cause of a halt. * marks the stable revision, > the candidate.

` + sourceHelp,
		DisableFlagsInUseLine: true,
		ValidArgsFunction:     completeSource(a, kube),
		RunE:                  a.runE(runHistory, o, kube),
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "print the ConfigRelease object instead: json or yaml")
	completeFlag(cmd, "output", cobra.FixedCompletions([]string{"json", "yaml"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func runHistory(ctx context.Context, a *app, inv *invocation) error {
	s, err := oneSource("history", inv.args)
	if err != nil {
		return err
	}
	if o := inv.opts.output; o != "" && o != "json" && o != "yaml" {
		return usageErrorf("-o %s: print json or yaml", o)
	}
	sess, rel, err := a.openRelease(ctx, inv, s)
	if err != nil {
		return err
	}
	if inv.opts.output != "" {
		return printReleases(a.Out, inv.opts.output, []v1alpha1.ConfigRelease{*rel}, false)
	}
	kept, err := keptRevisions(ctx, sess.client, sess.namespace, s)
	if err != nil {
		return err
	}
	if kept == nil {
		printf(a.ErrOut, "warning: you may not list the kept revisions of %s: KEPT shows ?\n", s)
	}
	renderHistory(a.Out, rel, kept, a.now())
	return nil
}

func diffCommand(a *app, kube *genericclioptions.ConfigFlags) *cobra.Command {
	o := &options{}
	cmd := &cobra.Command{
		Use:     "diff SOURCE [--revision R] [--against R2] [--no-color]",
		GroupID: groupShow,
		Short:   "compare two kept revisions of a source, key by key",
		Long: `Compares two kept revisions of a source key by key: by default the stable revision (old)
with the candidate (new). --revision R compares revision R with the candidate instead,
--against R2 compares with R2 instead of the candidate.

A ConfigMap's text keys get a unified diff; its binaryData keys get their sizes. A
Secret's keys get their names and sizes only: its values are never printed.

` + sourceHelp,
		DisableFlagsInUseLine: true,
		ValidArgsFunction:     completeSource(a, kube),
		RunE:                  a.runE(runDiff, o, kube),
	}
	fs := cmd.Flags()
	fs.StringVar(&o.revision, "revision", "", "the old revision (default: stable)")
	fs.StringVar(&o.against, "against", "", "the new revision (default: the candidate)")
	fs.BoolVar(&o.noColor, "no-color", false, "never colour the output (NO_COLOR set does the same)")
	completeFlag(cmd, "revision", completeRevisions(a, kube))
	completeFlag(cmd, "against", completeRevisions(a, kube))
	return cmd
}

func runDiff(ctx context.Context, a *app, inv *invocation) error {
	s, err := oneSource("diff", inv.args)
	if err != nil {
		return err
	}
	sess, rel, err := a.openRelease(ctx, inv, s)
	if err != nil {
		return err
	}
	oldRev, newRev, msg := diffSides(rel.Status, inv.opts.revision, inv.opts.against)
	if msg != "" {
		printf(a.Out, "%s: %s\n", s, msg)
		return nil
	}
	sides := make([]revisionSide, 2)
	for i, rev := range []string{oldRev, newRev} {
		c, err := readKept(ctx, sess.client, sess.namespace, s, rev)
		if err != nil {
			return err
		}
		sides[i] = revisionSide{Rev: rev, Role: roleOf(rel.Status, rev), Content: c}
	}
	renderDiff(a.Out, s, sides[0], sides[1], a.useColour(inv.opts))
	return nil
}

func undoCommand(a *app, kube *genericclioptions.ConfigFlags) *cobra.Command {
	o := &options{}
	cmd := &cobra.Command{
		Use:     "undo SOURCE [--to-revision R] [--reason TEXT] [--yes] [--wait DURATION]",
		GroupID: groupOperate,
		Short:   "write a kept revision back into the source",
		Long: `Writes the content of a kept revision back into the source, which the controller then
releases as it does any edit. The revision is R with --to-revision; else, while a
candidate is in flight or halted, the stable revision; else the newest earlier revision
that completed. Only the source's data changes (data and binaryData of a ConfigMap, data
of a Secret). Then it records the undo in the release's spec (who wrote the revision
back, and why), and waits for the controller to take the revision as its candidate and
record the undo in the release and an Event (RolloutUndone).

When a GitOps tool or another manager owns the source, it will write its own content
back: change the source where it is defined instead.

` + sourceHelp,
		DisableFlagsInUseLine: true,
		ValidArgsFunction:     completeSource(a, kube),
		RunE:                  a.runE(runUndo, o, kube),
	}
	fs := cmd.Flags()
	fs.StringVar(&o.toRev, "to-revision", "", "the revision to write back (default: stable, or the one before it)")
	fs.StringVar(&o.reason, "reason", "", "why, shown when asking to confirm and in the Event that records the undo")
	fs.BoolVarP(&o.yes, "yes", "y", false, "do not ask to confirm")
	fs.DurationVar(&o.wait, "wait", 30*time.Second, "how long to wait for the controller to record the undo; 0: do not wait")
	completeFlag(cmd, "to-revision", completeRevisions(a, kube))
	completeFlag(cmd, "reason", cobra.NoFileCompletions)
	return cmd
}

func runUndo(ctx context.Context, a *app, inv *invocation) error {
	s, err := oneSource("undo", inv.args)
	if err != nil {
		return err
	}
	if !inv.opts.yes && !a.stdinTerminal {
		return usageErrorf("undo writes into %s: confirm with --yes", s)
	}
	if inv.opts.wait < 0 {
		return usageErrorf("--wait %s: give a duration of 0 or more", inv.opts.wait)
	}
	sess, err := a.connect(inv.kube)
	if err != nil {
		return err
	}
	ns := sess.namespace
	rel, err := getRelease(ctx, sess.client, ns, s)
	if err != nil {
		return err
	}
	target, err := undoTarget(rel.Status, inv.opts.toRev)
	if err != nil {
		return fmt.Errorf("%s: %w", s, err)
	}
	c, err := readKept(ctx, sess.client, ns, s, target)
	if err != nil {
		return err
	}
	obj, current, err := readSource(ctx, sess.client, ns, s)
	if err != nil {
		return err
	}
	if current == target {
		return holdsError(s, target)
	}
	if m := managedBy(obj); m != "" {
		printf(a.ErrOut, "warning: %s is managed by %s; it will write its own content back, which starts another release\n", s, m)
	}
	if !inv.opts.yes {
		what := target
		if r := roleOf(rel.Status, target); r != "" {
			what += " (" + r + ")"
		}
		printf(a.ErrOut, "Write revision %s back into %s in namespace %s", what, s, ns)
		if inv.opts.reason != "" {
			printf(a.ErrOut, " (%s)", inv.opts.reason)
		}
		fmt.Fprint(a.ErrOut, "? [y/N] ")
		answer, _ := bufio.NewReader(a.In).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
			return fmt.Errorf("not confirmed: %s is unchanged", s)
		}
	}
	// Who asks is known before anything is written: the undo is recorded in
	// their name.
	cmd, err := newCommand(ctx, sess, v1alpha1.ActionUndo, target, inv.opts.reason)
	if err != nil {
		return err
	}
	if err := writeBack(ctx, sess.client, ns, s, target, c); err != nil {
		return err
	}
	res, err := give(ctx, sess, rel, s, cmd, inv.opts.wait)
	switch {
	case err != nil:
		return fmt.Errorf("%s: revision %s is written back, which starts its release; recording who undid it: %w", s, target, err)
	case res == nil:
		printf(a.Out, "%s: revision %s written back; its release starts now (kubectl hotreload status %s -n %s -w)\n", s, target, s, ns)
		return nil
	case !res.Done:
		return fmt.Errorf("%s: revision %s is written back, but the controller did not record the undo: %s", s, target, res.Result)
	}
	printf(a.Out, "%s: %s (kubectl hotreload status %s -n %s -w)\n", s, res.Result, s, ns)
	return nil
}
