package plugin

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/annotations"
)

// clearScreen moves a terminal's cursor home and clears the screen.
const clearScreen = "\x1b[H\x1b[2J"

// watchLoop prints render's output at once and again after every change,
// until ctx ends. On a terminal it redraws in place; elsewhere it prints a
// rendering, after a blank line, only when it differs from the last. An
// error reading is shown in place of the status, and the watch goes on.
func watchLoop(ctx context.Context, w io.Writer, terminal bool, changed <-chan struct{}, render func(context.Context) (string, error)) error {
	last := ""
	for {
		text, err := render(ctx)
		if err != nil && ctx.Err() != nil {
			return nil
		}
		if err != nil {
			text = fmt.Sprintf("error: %s (watching on)\n", annotations.Printable(err.Error()))
		}
		last = redraw(w, terminal, last, text)
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		}
	}
}

// redraw prints next after last and returns what is on screen now.
func redraw(w io.Writer, terminal bool, last, next string) string {
	switch {
	case terminal:
		fmt.Fprint(w, clearScreen+next)
	case next == last:
	case last == "":
		fmt.Fprint(w, next)
	default:
		fmt.Fprint(w, "\n"+next)
	}
	return next
}

// watchRetry is how long a watch that ended or failed waits before it
// starts again.
const watchRetry = time.Second

// watchChanges signals on changed (without blocking: one pending signal is
// enough) whenever a release of q, or an opted-in pod of its namespace when
// q shows pods, changes, until ctx ends. A watch the API server closes is
// started again.
func watchChanges(ctx context.Context, c client.WithWatch, q statusQuery, changed chan<- struct{}) {
	var ns []client.ListOption
	if !q.all {
		ns = append(ns, client.InNamespace(q.namespace))
	}
	type watched struct {
		list func() client.ObjectList
		opts []client.ListOption
	}
	ws := []watched{{func() client.ObjectList { return &v1alpha1.ConfigReleaseList{} }, ns}}
	if !q.listing() {
		ws = append(ws, watched{func() client.ObjectList { return &corev1.PodList{} },
			append(slices.Clone(ns), client.MatchingLabels{annotations.EnableLabel: annotations.EnableValue})})
	}
	for _, wd := range ws {
		go wait.UntilWithContext(ctx, func(ctx context.Context) {
			w, err := c.Watch(ctx, wd.list(), wd.opts...)
			if err != nil {
				return
			}
			defer w.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case _, ok := <-w.ResultChan():
					if !ok {
						return
					}
					select {
					case changed <- struct{}{}:
					default:
					}
				}
			}
		}, watchRetry)
	}
}
