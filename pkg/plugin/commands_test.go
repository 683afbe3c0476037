package plugin

import (
	"context"
	"errors"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/release"
)

func TestCommandPatch(t *testing.T) {
	cmd := func(a v1alpha1.Action, reason string) v1alpha1.Command {
		return v1alpha1.Command{ID: "7f3c9a0e1b2d", Action: a, Revision: candidateRev, By: "jane@example.com", Reason: reason}
	}
	tests := []struct {
		name string
		cmd  v1alpha1.Command
		want string
	}{
		{"promote writes the command only", cmd(v1alpha1.ActionPromote, "canary looks fine"),
			`{"spec":{"command":{"id":"7f3c9a0e1b2d","action":"Promote","revision":"9e107d9d372b","by":"jane@example.com","reason":"canary looks fine"}}}`},
		{"promote --full writes PromoteFull", cmd(v1alpha1.ActionPromoteFull, ""),
			`{"spec":{"command":{"id":"7f3c9a0e1b2d","action":"PromoteFull","revision":"9e107d9d372b","by":"jane@example.com","reason":""}}}`},
		{"pause sets spec.paused in the same write", cmd(v1alpha1.ActionPause, "release window closed"),
			`{"spec":{"paused":true,"command":{"id":"7f3c9a0e1b2d","action":"Pause","revision":"9e107d9d372b","by":"jane@example.com","reason":"release window closed"}}}`},
		{"resume clears spec.paused in the same write", cmd(v1alpha1.ActionResume, ""),
			`{"spec":{"paused":false,"command":{"id":"7f3c9a0e1b2d","action":"Resume","revision":"9e107d9d372b","by":"jane@example.com","reason":""}}}`},
		{"abort writes the command only", cmd(v1alpha1.ActionAbort, "error rate up"),
			`{"spec":{"command":{"id":"7f3c9a0e1b2d","action":"Abort","revision":"9e107d9d372b","by":"jane@example.com","reason":"error rate up"}}}`},
		{"retry writes the command only", cmd(v1alpha1.ActionRetry, "the node was drained"),
			`{"spec":{"command":{"id":"7f3c9a0e1b2d","action":"Retry","revision":"9e107d9d372b","by":"jane@example.com","reason":"the node was drained"}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := commandPatch(tt.cmd)
			require.NoError(t, err)
			assert.JSONEq(t, tt.want, string(got))
			assert.Equal(t, tt.want, string(got))
		})
	}
}

func TestNewCommandIDIsTwelveRandomHexDigits(t *testing.T) {
	a, err := newCommandID()
	require.NoError(t, err)
	b, err := newCommandID()
	require.NoError(t, err)
	assert.Regexp(t, regexp.MustCompile(`^[0-9a-f]{12}$`), a)
	assert.NotEqual(t, a, b)
}

// TestRefusal: the plugin refuses what the controller would refuse, with
// the controller's reason (release.CommandRefusal), and lets through what it
// would carry out. A promote of a Progressing release with nothing in
// progress (its candidate stable) is refused: the controller would refuse it.
func TestRefusal(t *testing.T) {
	inProgress := v1alpha1.ConfigReleaseStatus{Stable: stableRev, Candidate: candidateRev}
	settled := v1alpha1.ConfigReleaseStatus{Stable: stableRev, Candidate: stableRev}
	halted := inProgress
	halted.Halt = &v1alpha1.Halt{Revision: candidateRev}
	in := func(st v1alpha1.ConfigReleaseStatus, phase v1alpha1.Phase) v1alpha1.ConfigReleaseStatus {
		st.Phase = phase
		return st
	}
	tests := []struct {
		action  v1alpha1.Action
		st      v1alpha1.ConfigReleaseStatus
		refused string
	}{
		{v1alpha1.ActionPromote, in(inProgress, v1alpha1.PhaseProgressing), ""},
		{v1alpha1.ActionPromote, in(inProgress, v1alpha1.PhasePaused), ""},
		{v1alpha1.ActionPromote, in(settled, v1alpha1.PhaseComplete), "Promote of configmap/app-config does not apply: the release is Complete: there is no candidate in progress (kubectl hotreload status configmap/app-config -n shop)"},
		{v1alpha1.ActionPromote, in(settled, v1alpha1.PhaseProgressing), "Promote of configmap/app-config does not apply: the release is Progressing: there is no candidate in progress (kubectl hotreload status configmap/app-config -n shop)"},
		{v1alpha1.ActionPromoteFull, in(halted, v1alpha1.PhaseHalted), "PromoteFull of configmap/app-config does not apply: the release is Halted: there is no candidate in progress (kubectl hotreload status configmap/app-config -n shop)"},
		{v1alpha1.ActionAbort, in(inProgress, v1alpha1.PhasePaused), ""},
		{v1alpha1.ActionAbort, in(halted, v1alpha1.PhaseHalted), "Abort of configmap/app-config does not apply: the release is Halted: there is no candidate in progress (kubectl hotreload status configmap/app-config -n shop)"},
		{v1alpha1.ActionRetry, in(halted, v1alpha1.PhaseHalted), ""},
		{v1alpha1.ActionRetry, in(inProgress, v1alpha1.PhaseProgressing), "Retry of configmap/app-config does not apply: the release is Progressing, not Halted (kubectl hotreload status configmap/app-config -n shop)"},
		{v1alpha1.ActionPause, in(settled, v1alpha1.PhaseComplete), ""},
		{v1alpha1.ActionResume, in(halted, v1alpha1.PhaseHalted), ""},
	}
	for _, tt := range tests {
		t.Run(string(tt.action)+" in "+string(tt.st.Phase), func(t *testing.T) {
			err := refusal(tt.action, newRelease(appConfig, tt.st))
			controller := release.CommandRefusal(v1alpha1.Command{Action: tt.action, Revision: tt.st.Candidate}, tt.st)
			if tt.refused == "" {
				assert.NoError(t, err)
				assert.Empty(t, controller, "the controller carries it out")
				return
			}
			require.EqualError(t, err, tt.refused)
			assert.Contains(t, err.Error(), ": "+controller+" (", "the controller's reason")
		})
	}
}

// releases returns a getter that hands out rels one per call, and a
// channel that receives each call's index.
func releases(rels ...*v1alpha1.ConfigRelease) (func(context.Context) (*v1alpha1.ConfigRelease, error), <-chan int) {
	calls := make(chan int, len(rels)+1)
	n := 0
	return func(context.Context) (*v1alpha1.ConfigRelease, error) {
		calls <- n
		if n >= len(rels) {
			return nil, errors.New("read more often than the test expected")
		}
		n++
		return rels[n-1], nil
	}, calls
}

// withCommand is a release whose spec holds command id and whose status
// records last (nil: none).
func withCommand(id string, last *v1alpha1.CommandResult) *v1alpha1.ConfigRelease {
	rel := newRelease(appConfig, v1alpha1.ConfigReleaseStatus{Phase: v1alpha1.PhaseProgressing, LastCommand: last})
	rel.Spec.Command = &v1alpha1.Command{ID: id, Action: v1alpha1.ActionPromote, By: "bob@example.com"}
	return rel
}

func TestAwaitCommand(t *testing.T) {
	const id = "7f3c9a0e1b2d"
	earlier := &v1alpha1.CommandResult{ID: "000000000000", Action: v1alpha1.ActionPause, Done: true, Result: "paused"}
	done := &v1alpha1.CommandResult{ID: id, Action: v1alpha1.ActionPromote, Done: true, Result: "released Deployment/web step 2 of 3"}
	refused := &v1alpha1.CommandResult{ID: id, Action: v1alpha1.ActionPromote, Result: "not carried out: the release is Halted"}

	type outcome struct {
		res *v1alpha1.CommandResult
		err error
	}
	start := func(ctx context.Context, get func(context.Context) (*v1alpha1.ConfigRelease, error), tick, timeout chan time.Time) <-chan outcome {
		out := make(chan outcome, 1)
		go func() {
			res, err := awaitCommand(ctx, id, get, tick, timeout)
			out <- outcome{res, err}
		}()
		return out
	}

	t.Run("returns the result once the status records the command", func(t *testing.T) {
		get, calls := releases(withCommand(id, earlier), withCommand(id, earlier), withCommand(id, done))
		tick := make(chan time.Time)
		out := start(context.Background(), get, tick, nil)
		for range 2 {
			<-calls
			tick <- now // unbuffered: received once the waiter is back in its select
		}
		got := <-out
		require.NoError(t, got.err)
		assert.Equal(t, done, got.res)
		assert.Equal(t, 2, <-calls)
		assert.Empty(t, calls, "read once more than needed")
	})

	t.Run("returns a command the controller refused, for the caller to report", func(t *testing.T) {
		get, _ := releases(withCommand(id, refused))
		got := <-start(context.Background(), get, nil, nil)
		require.NoError(t, got.err)
		assert.Equal(t, refused, got.res)
	})

	t.Run("says when another command replaced it", func(t *testing.T) {
		get, calls := releases(withCommand(id, nil), withCommand("ffeeddccbbaa", nil))
		tick := make(chan time.Time)
		out := start(context.Background(), get, tick, nil)
		<-calls
		tick <- now
		got := <-out
		require.ErrorIs(t, got.err, errReplaced)
		assert.EqualError(t, got.err, "the command was replaced by another (Promote by bob@example.com) before the controller carried it out; only the later one is carried out")
	})

	t.Run("says when spec.command was removed", func(t *testing.T) {
		rel := withCommand(id, nil)
		rel.Spec.Command = nil
		get, _ := releases(rel)
		got := <-start(context.Background(), get, nil, nil)
		assert.ErrorIs(t, got.err, errReplaced)
	})

	t.Run("gives up when the time is out", func(t *testing.T) {
		get, calls := releases(withCommand(id, earlier), withCommand(id, earlier))
		tick, timeout := make(chan time.Time), make(chan time.Time)
		out := start(context.Background(), get, tick, timeout)
		<-calls
		tick <- now
		<-calls
		timeout <- now
		got := <-out
		assert.ErrorIs(t, got.err, errNotCarriedOut)
		assert.Nil(t, got.res)
		assert.Empty(t, calls)
	})

	t.Run("stops when interrupted", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		get, calls := releases(withCommand(id, nil))
		out := start(ctx, get, nil, nil)
		<-calls
		cancel()
		got := <-out
		assert.ErrorIs(t, got.err, context.Canceled)
	})

	t.Run("says what a timeout means", func(t *testing.T) {
		assert.EqualError(t, timeoutError(30*time.Second), "the command is recorded in the release but the controller has not carried it out within 30s; is the hotreload controller running? (kubectl -n hotreload-system get pods)")
	})
}
