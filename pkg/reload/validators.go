package reload

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hotreload/hotreload/pkg/validate"
)

// Validators are the app's own checks of a staged revision, one validator
// per app container that has one (hotreload/validate), each answering on a
// Unix socket (docs/design/2026-12-07-verified-apply.md). Before asking, the
// reloader points the staged view at the copy it staged: StagedRoot/V holds a
// ..data link to CandidateRoot/V/<copy> and the copy's top-level entries
// through it, in the kubelet's layout. The validators mount StagedRoot/V
// where their app container mounts the live copy of V, and the live copy of V
// at CandidateRoot/V, so every config path of the app resolves to the staged
// copy.
type Validators struct {
	// Sockets are the validators' sockets, by app container, in pod order.
	Sockets []ContainerSocket
	// StagedRoot is where the reloader writes the staged view.
	StagedRoot string
	// CandidateRoot is where the validators mount the live copy of each
	// volume, which holds the staged copy beside the live one.
	CandidateRoot string
}

func (v *Validators) containers() []string {
	var out []string
	for _, c := range v.Sockets {
		out = append(out, c.Container)
	}
	return out
}

// ContainerSocket is the socket of one app container's validator.
type ContainerSocket struct {
	Container, Socket string
}

// check points the staged view at s and asks every validator; it returns the
// first refusal (ErrRefused), or ErrValidatorUnavailable for a validator that
// gave no verdict.
func (v *Validators) check(ctx context.Context, s *Staged) error {
	if err := v.show(s); err != nil {
		return fmt.Errorf("staged view: %w", err)
	}
	for _, c := range v.Sockets {
		verdict, err := validate.Ask(ctx, c.Socket, s.Revision, 0)
		if err != nil {
			return fmt.Errorf("container %s: %w", c.Container, err)
		}
		if err := verdictErr(verdict); err != nil {
			return fmt.Errorf("%w (container %s)", err, c.Container)
		}
	}
	return nil
}

// ErrValidatorUnavailable means a validator gave no verdict: it is not
// running, it crashed, or it did not answer in time. A fault, not the app's
// verdict on the config.
var ErrValidatorUnavailable = validate.ErrUnavailable

// ErrCheckNotRun means the app's check could not start in the validator
// (its command is not in the app's image, say): a fault of the check's
// setup, not the app's verdict on the config.
var ErrCheckNotRun = errors.New("the app's check could not run")

// verdictErr returns nil for a revision the check accepts, else the app's
// refusal: the command, its exit status (or why it did not finish) and the
// last lines of its output; or ErrCheckNotRun.
func verdictErr(v validate.Verdict) error {
	if v.OK {
		return nil
	}
	cmd := strings.Join(v.Command, " ")
	if cmd == "" {
		cmd = "the check"
	}
	if v.NotRun {
		return fmt.Errorf("%w: %s: %s", ErrCheckNotRun, cmd, v.Problem)
	}
	what := fmt.Sprintf("exit status %d", v.Exit)
	if v.Problem != "" {
		what = v.Problem
	}
	if v.Output == "" {
		return refused(nil, "%s: %s", cmd, what)
	}
	return refused(nil, "%s: %s: %s", cmd, what, v.Output)
}

// show makes StagedRoot/V the staged copy of each volume V: its ..data link
// points to CandidateRoot/V/<copy>, replaced atomically, and its top-level
// entries are links through ..data to the copy's, as in a live copy. The
// directory StagedRoot/V is made once and never replaced: a validator mounts
// it by subPath.
func (v *Validators) show(s *Staged) error {
	for _, vol := range s.live.layout() {
		copyDir := s.dirs[vol.Name]
		entries, err := os.ReadDir(filepath.Join(s.live.LiveRoot, vol.Name, copyDir))
		if err != nil {
			return err
		}
		dir := filepath.Join(v.StagedRoot, vol.Name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if err := relinkData(dir, filepath.Join(v.CandidateRoot, vol.Name, copyDir), nil); err != nil {
			return err
		}
		if err := linkEntries(dir, entries, nil); err != nil {
			return err
		}
	}
	return nil
}
