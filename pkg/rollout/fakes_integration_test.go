//go:build integration

package rollout

import (
	"context"
	"encoding/json"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/hotreload/hotreload/pkg/annotations"
)

// reloaderAction is what the fake reloaders do with a released revision.
type reloaderAction int

const (
	apply        reloaderAction = iota
	hold                        // not yet: ask again later
	fail                        // report the reload failed
	applyUnready                // apply, and the pod stops being Ready at that moment
	applyReady                  // apply, and the pod becomes Ready at that moment
	applyRestart                // apply, and the app container restarts at that moment
	applyForged                 // apply, say so an hour ahead, and the pod stops being Ready now
	applyAhead                  // apply, and say so 60 s ahead: a node clock ahead of the controller's
	applyBehind                 // apply, and say so an hour behind: a node clock behind the controller's
)

// fakeReloaders play every pod's reloader: when a pod is released a revision
// it does not run, they ask decide, then label it applied (or annotate it
// failed) as the reloader does. They stop at the end of the test.
func (c *cluster) fakeReloaders(decide func(pod, rev string) reloaderAction) {
	ctx, cancel := context.WithCancel(c.ctx)
	done := make(chan struct{})
	c.t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			list, err := c.env.Clientset.CoreV1().Pods(c.ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				continue
			}
			for _, p := range list.Items {
				rel := p.Annotations[annotations.Released]
				failed, _, _ := annotations.FailedOf(p.Annotations)
				if rel == "" || rel == p.Labels[annotations.Applied] || rel == failed {
					continue
				}
				var patch map[string]any
				at := time.Now().UTC().Truncate(time.Second)
				action := decide(p.Name, rel)
				var err error
				switch action {
				case applyUnready, applyReady:
					err = c.status(p.Name, action == applyReady, at, time.Time{})
				case applyForged:
					err = c.status(p.Name, false, at, time.Time{})
					at = at.Add(time.Hour)
				case applyRestart:
					err = c.status(p.Name, true, at.Add(-time.Hour), at)
				case applyAhead:
					at = at.Add(time.Minute)
				case applyBehind:
					at = at.Add(-time.Hour)
				}
				if err != nil {
					continue
				}
				switch action {
				case hold:
					continue
				case fail:
					patch = map[string]any{"metadata": map[string]any{"annotations": map[string]any{
						annotations.Failed: annotations.FormatFailed(rel, "the app exited")}}}
				default:
					patch = map[string]any{"metadata": map[string]any{
						"labels":      map[string]any{annotations.Applied: rel},
						"annotations": map[string]any{annotations.AppliedAt: at.Format(time.RFC3339), annotations.Failed: nil}}}
				}
				body, _ := json.Marshal(patch)
				_, _ = c.env.Clientset.CoreV1().Pods(c.ns).Patch(ctx, p.Name, types.MergePatchType, body, metav1.PatchOptions{})
			}
		}
	}()
}

// applyAll applies every release.
func applyAll(string, string) reloaderAction { return apply }
