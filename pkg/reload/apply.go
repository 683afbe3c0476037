package reload

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// ErrContainerStopped means an app container stopped running, or was
// replaced by a new one, within the grace period after it was told to reload.
var ErrContainerStopped = errors.New("container stopped after the reload")

// statusLag bounds the wait for the kubelet to report a container's stop in
// the pod status: it notices within its relist period (1s), then writes.
const statusLag = 3 * time.Second

// applier makes one revision live and tells the app, in fixed steps: stage
// (copy the mounted sources and verify they hash to the revision), have the
// app's own check accept the staged copy where it has one, swap the
// live copy, tell the app containers that run, confirm they survived the
// grace period (else swap the previous copy back), and report the outcome.
type applier struct {
	live *Live
	view *PodView
	// deliverer tells the containers that deliverers does not name.
	deliverer  *Deliverer
	deliverers map[string]*Deliverer
	containers []string
	reporter   *Reporter
	// verifyTimeout bounds the wait for the mounted sources to reach the revision.
	verifyTimeout time.Duration
	// validators, when set, check the staged revision before the swap.
	validators *Validators
	log        *slog.Logger
}

// apply makes rev live and tells the app. A failure is reported on the pod
// and returned; the Coalescer then waits for a newer revision.
//
// Failures that may pass on their own (the app not listening yet,
// 429/502/503/504) are tried again by the Deliverer, a bounded number of
// times, before the revision counts as failed.
func (a *applier) apply(ctx context.Context, rev string) error {
	log := a.log.With("revision", rev)
	log.Info("applying revision")
	staged, err := a.stage(ctx, rev)
	if errors.Is(err, context.Canceled) {
		log.Info("revision superseded before it was mounted")
		return err
	}
	if err != nil {
		return a.fail(ctx, log, rev, err)
	}
	if a.validators != nil {
		err := a.validators.check(ctx, staged)
		if err != nil {
			staged.Discard()
		}
		if ctx.Err() != nil {
			log.Info("revision superseded while it was checked")
			return ctx.Err()
		}
		if err != nil {
			return a.fail(ctx, log, rev, err)
		}
		log.Info("staged copy accepted by the app's check", "containers", a.validators.containers())
	}
	// Which containers run is decided before the swap: one that is not
	// running then cannot have been stopped by the new config.
	checked := time.Now()
	running := a.running(log)
	undo, err := staged.SwapUndoable()
	if err != nil {
		return a.fail(ctx, log, rev, a.swapBack(log, undo, err))
	}
	log.Info("live copy swapped")
	// From here on the live copy holds rev: the steps run to their end.
	ctx = context.WithoutCancel(ctx)
	toldAt := time.Now()
	told, err := a.tell(ctx, log, running)
	if err == nil {
		err = a.confirm(ctx, running, toldAt)
	}
	if err != nil {
		// The rejected files never stay live: the app that restarts, or
		// reads again, finds what it ran before.
		return a.fail(ctx, log, rev, a.swapBack(log, undo, err))
	}
	o := Outcome{Revision: rev, Message: a.toldMessage(told)}
	if len(running) < len(a.containers) {
		o.After = checked
	}
	_ = a.reporter.Report(ctx, o)
	return nil
}

// stage copies the mounted sources next to the live copy once they hash to rev.
func (a *applier) stage(ctx context.Context, rev string) (*Staged, error) {
	ctx, cancel := context.WithTimeout(ctx, a.verifyTimeout)
	defer cancel()
	return a.live.Stage(ctx, rev)
}

// running returns the IDs of the app containers that run now, by the pod
// status and, where a container is told by a signal in a shared process namespace, by
// /proc too: a container without a process has stopped though the kubelet
// has not reported it yet (it does within a second or so, as in a crash
// loop). The others read the live copy when they start.
func (a *applier) running(log *slog.Logger) map[string]string {
	ids := map[string]string{}
	for _, name := range a.containers {
		d := a.delivererOf(name)
		seesProcesses := d.Method.Signal != 0 && a.view.SharesProcesses()
		id, ok := a.view.Running(name)
		if !ok {
			log.Info("container not running: it reads the live copy when it starts", "container", name)
			continue
		}
		if seesProcesses {
			if procs, err := d.Procs.Container(id); err == nil && len(procs) == 0 {
				log.Info("container has no process left, its stop not reported yet: it reads the live copy when it starts", "container", name, "id", id)
				continue
			}
		}
		ids[name] = id
	}
	return ids
}

// swapBack makes the previous live copy live again after err, and returns err.
func (a *applier) swapBack(log *slog.Logger, undo *Undo, err error) error {
	if berr := undo.Back(); berr != nil {
		log.Error("swapping the previous live copy back failed", "err", berr)
		return fmt.Errorf("%w (and swapping the previous config back failed: %v)", err, berr)
	}
	log.Info("previous live copy swapped back")
	return swappedBack{err}
}

// swappedBack is a failed apply whose previous live copy is live again.
type swappedBack struct{ error }

func (e swappedBack) Unwrap() error { return e.error }

// isSwappedBack reports whether a failed apply left the previous live copy live.
func isSwappedBack(err error) bool {
	var sb swappedBack
	return errors.As(err, &sb)
}

func (a *applier) fail(ctx context.Context, log *slog.Logger, rev string, err error) error {
	log.Error("reload failed", "err", err)
	_ = a.reporter.Report(context.WithoutCancel(ctx), Outcome{Revision: rev, Message: err.Error(), Failed: true})
	return err
}
