package plugin

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"k8s.io/utils/ptr"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/release"
)

// The one-shot commands go through the release's spec: the plugin writes
// spec.command (and spec.paused for pause and resume) and waits for the
// controller to record the same id in status.lastCommand.

// refusal says why a command of action, for the release's candidate, does
// not apply to the release in its state (release.CommandRefusal, the rule
// the controller applies), or returns nil when it does: it spares the user
// a wait for the controller's refusal.
func refusal(action v1alpha1.Action, rel *v1alpha1.ConfigRelease) error {
	why := release.CommandRefusal(v1alpha1.Command{Action: action, Revision: rel.Status.Candidate}, rel.Status)
	if why == "" {
		return nil
	}
	return fmt.Errorf("%s of %s does not apply: %s (kubectl hotreload status %s -n %s)", action, sourceOf(rel), why, sourceOf(rel), rel.Namespace)
}

// commandSpec is the part of a release's spec that a command writes. Every
// field of the command is written, even when empty, because a merge patch
// would otherwise keep a field of the previous command (its reason).
type commandSpec struct {
	Paused  *bool       `json:"paused,omitempty"`
	Command commandBody `json:"command"`
}

type commandBody struct {
	ID       string          `json:"id"`
	Action   v1alpha1.Action `json:"action"`
	Revision string          `json:"revision"`
	By       string          `json:"by"`
	Reason   string          `json:"reason"`
}

// commandPatch is the merge patch that gives a release command cmd, and for
// pause and resume sets spec.paused in the same write.
func commandPatch(cmd v1alpha1.Command) ([]byte, error) {
	spec := commandSpec{Command: commandBody{ID: cmd.ID, Action: cmd.Action, Revision: cmd.Revision, By: cmd.By, Reason: cmd.Reason}}
	switch cmd.Action {
	case v1alpha1.ActionPause:
		spec.Paused = ptr.To(true)
	case v1alpha1.ActionResume:
		spec.Paused = ptr.To(false)
	}
	return json.Marshal(struct {
		Spec commandSpec `json:"spec"`
	}{spec})
}

// newCommandID returns a random id of 12 hex digits.
func newCommandID() (string, error) {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("making a command id: %w", err)
	}
	return hex.EncodeToString(b), nil
}

var (
	// errReplaced means another command took ours' place in the spec before
	// the controller carried ours out.
	errReplaced = errors.New("replaced")
	// errNotCarriedOut means the controller has not recorded the command in
	// the time given.
	errNotCarriedOut = errors.New("not carried out in time")
)

// awaitCommand reads the release with get until its status records command
// id, and returns what the controller made of it. It reads once at once and
// again on every tick, gives up with errNotCarriedOut when timeout fires, and
// with errReplaced when the spec holds another command.
func awaitCommand(ctx context.Context, id string, get func(context.Context) (*v1alpha1.ConfigRelease, error),
	tick, timeout <-chan time.Time) (*v1alpha1.CommandResult, error) {
	for {
		rel, err := get(ctx)
		if err != nil {
			return nil, err
		}
		if lc := rel.Status.LastCommand; lc != nil && lc.ID == id {
			return lc, nil
		}
		if c := rel.Spec.Command; c == nil || c.ID != id {
			return nil, replacedError(c)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-timeout:
			return nil, errNotCarriedOut
		case <-tick:
		}
	}
}

func replacedError(c *v1alpha1.Command) error {
	if c == nil {
		return fmt.Errorf("the command was %w: someone removed spec.command before the controller carried it out", errReplaced)
	}
	return fmt.Errorf("the command was %w by another (%s by %s) before the controller carried it out; only the later one is carried out",
		errReplaced, c.Action, cmp.Or(c.By, "an unknown user"))
}

// timeoutError says what a command that was not carried out in time means.
func timeoutError(wait time.Duration) error {
	return fmt.Errorf("the command is recorded in the release but the controller has not carried it out within %s; is the hotreload controller running? (kubectl -n hotreload-system get pods)", wait)
}
