//go:build integration

package rollout

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"k8s.io/client-go/rest"

	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/reload"
)

// sidecarFleet plays the reloader sidecars of many pods in this process, with the
// real reloader's code for what crosses the API server: each member keeps a
// reload.PodView, the informer on its one pod every sidecar runs, and
// reports a released revision it does not run through a reload.Reporter,
// as applied at once (the files and the app are left out). Its requests,
// the watches included, are counted apart from the controller's.
type sidecarFleet struct {
	requests *requestCounts
	// applied counts the reports that landed.
	applied atomic.Int64
}

// startFleet starts a member for each of pods, 64 at a time, and returns
// once every one has seen its pod; they stop at the end of the test.
func (c *cluster) startFleet(pods []string) *sidecarFleet {
	c.t.Helper()
	f := &sidecarFleet{requests: newRequestCounts()}
	cfg := rest.CopyConfig(c.env.Config)
	cfg.QPS = -1 // each sidecar has its own client: none waits for another
	cfg.Wrap(f.requests.wrap)
	api, err := reload.NewAPI(cfg)
	require.NoError(c.t, err)
	ctx, cancel := context.WithCancel(context.Background())
	c.t.Cleanup(cancel)
	quiet := slog.New(slog.DiscardHandler)

	sem := make(chan struct{}, 64)
	var (
		wg     sync.WaitGroup
		synced atomic.Int64
	)
	for _, name := range pods {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			view := reload.NewPodView(api, c.ns, name)
			reporter := &reload.Reporter{Client: api, Namespace: c.ns, PodName: name, Log: quiet}
			go reporter.Run(ctx)
			view.OnReleased(func(rev string) {
				if annotations.AppliedOf(view.Pod().Labels) == rev {
					return
				}
				if reporter.Report(ctx, reload.Outcome{Revision: rev, Message: "applied by the fleet"}) == nil {
					f.applied.Add(1)
				}
			})
			if view.Start(ctx) {
				synced.Add(1)
			}
		}()
	}
	wg.Wait()
	require.Equal(c.t, int64(len(pods)), synced.Load(), "every member saw its pod")
	return f
}

// benchFleet reports the fleet's requests between two snapshots, per pod.
func benchFleet(b *testing.B, before, after map[string]int, pods int) {
	writes, reads, diff := perPod(before, after, pods)
	b.ReportMetric(writes, "reloader-writes/pod")
	b.ReportMetric(reads, "reloader-reads/pod")
	b.Logf("the reloaders' requests for the edit: %v", diff)
}
