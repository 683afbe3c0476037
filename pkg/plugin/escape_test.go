package plugin

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
)

// hostile is text an app (through its sidecar's identity), a user's command
// or any writer of the cluster's objects may put where the plugin reads it:
// it clears the screen, forges a line, rings, sets the window's title and
// reverses what follows.
const hostile = "\x1b[2J\x1b[Hok\r\nPhase: Complete\a\x1b]0;title\x07\u202eevil"

// The plugin prints what the cluster wrote with its control and format
// characters escaped; its own newlines, alignment and colours stay.
func TestWhatTheClusterWroteIsPrintedEscaped(t *testing.T) {
	rel := newRelease(appConfig, v1alpha1.ConfigReleaseStatus{
		Phase: v1alpha1.PhaseHalted, Stable: stableRev, Candidate: candidateRev, CandidateSince: beforePtr(10 * time.Minute),
		Halt: &v1alpha1.Halt{Pod: "web-7d9f8c6b5-b2", Workload: "Deployment/web", Revision: candidateRev,
			Cause: "refused by the app: " + hostile, Time: before(4 * time.Minute), RolledBack: true},
		Workloads: []v1alpha1.WorkloadStatus{webWorkload(2, 0, 0, 3)},
		Summary:   "Deployment/web 2/3\x1b[2J",
		Message:   hostile,
		LastCommand: &v1alpha1.CommandResult{ID: "0a1b2c3d4e5f", Action: v1alpha1.ActionPromote, By: "eve\x1b[8m", Done: true,
			Result: hostile, Time: before(6 * time.Minute)},
		History: []v1alpha1.RevisionRecord{{Revision: candidateRev, Outcome: v1alpha1.OutcomeHalted, Seen: before(10 * time.Minute),
			Ended: beforePtr(4 * time.Minute), Cause: hostile, Reached: []string{"Deployment/web 2 of 3\x1b[1A"}, Size: 1300}},
	})
	ps := pods(
		newPod("web-7d9f8c6b5-b2").of("ReplicaSet", "web-7d9f8c6b5").runs("r-web-stable").restarted(1).
			failed("r-web-cand", "\x1b[31mnginx: [emerg]\x1b[0m\nbad").warnings(hostile),
	)

	t.Run("status", func(t *testing.T) {
		view := statusView{Release: rel, Pods: ps, ReplicaSets: webReplicaSets}
		plain := render(func(w *strings.Builder) { renderStatus(w, view, now, false) })
		golden(t, "status_escaped", plain)
		coloured := render(func(w *strings.Builder) { renderStatus(w, view, now, true) })
		assert.Equal(t, plain, strings.NewReplacer(string(red), "", reset, "").Replace(coloured), "only the plugin's own colours are written raw")
	})
	t.Run("list", func(t *testing.T) {
		golden(t, "list_escaped", render(func(w *strings.Builder) { renderList(w, []v1alpha1.ConfigRelease{*rel}, false, now, false) }))
	})
	t.Run("history", func(t *testing.T) {
		golden(t, "history_escaped", render(func(w *strings.Builder) { renderHistory(w, rel, nil, now) }))
	})
	t.Run("diff, which keeps a content line's tabs", func(t *testing.T) {
		old := content{Data: map[string]string{"app.conf": "a\tb\nlog \x1b[31mred\x1b[0m\n"}}
		cand := content{Data: map[string]string{"app.conf": "a\tb\nlog \x1b[2J\u202eevil\r\n"}}
		golden(t, "diff_escaped", render(func(w *strings.Builder) {
			renderDiff(w, appConfig, revisionSide{Rev: stableRev, Role: "stable", Content: old}, revisionSide{Rev: candidateRev, Role: "candidate", Content: cand}, false)
		}))
	})
	t.Run("an error", func(t *testing.T) {
		code, stdout, stderr := runApp(t, func(*genericclioptions.ConfigFlags) (*session, error) {
			return nil, errors.New("connecting to https://api.example: 403: " + hostile)
		}, "status", "cm/app-config")
		assert.Equal(t, 1, code)
		assert.Empty(t, stdout)
		assert.Equal(t, `error: connecting to https://api.example: 403: \x1b[2J\x1b[Hok\r\nPhase: Complete\a\x1b]0;title\a\u202eevil`+"\n", stderr)
	})
	t.Run("an error while watching", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		w := &cancelOnWrite{cancel: cancel} // the watch ends once it printed
		err := watchLoop(ctx, w, false, nil, func(context.Context) (string, error) {
			return "", errors.New("listing the pods: " + hostile)
		})
		assert.NoError(t, err)
		assert.Equal(t, `error: listing the pods: \x1b[2J\x1b[Hok\r\nPhase: Complete\a\x1b]0;title\a\u202eevil (watching on)`+"\n", w.String())
	})
}

// cancelOnWrite keeps what is written to it, and cancels a context then.
type cancelOnWrite struct {
	strings.Builder
	cancel func()
}

func (c *cancelOnWrite) Write(p []byte) (int, error) {
	defer c.cancel()
	return c.Builder.Write(p)
}
