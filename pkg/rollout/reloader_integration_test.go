//go:build integration

package rollout

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hotreload/hotreload/internal/kubeletdir"
	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/contract"
	"github.com/hotreload/hotreload/pkg/reload"
)

// TestIntegrationRealReloadersFollowTheRollout runs the real reloader code of
// each pod in-process, with kubelet-style source directories the test writes
// as the kubelet would: the reloaders wait for the controller's releases, step
// by step, and every pod's live files end with the new config.
func TestIntegrationRealReloadersFollowTheRollout(t *testing.T) {
	c := newCluster(t, nil)
	c.configMap("app", map[string]string{"app.conf": "v=0"})
	pods := c.replicaSet("web", 3, map[string]string{annotations.Rollout: "1,100%", annotations.RolloutInterval: "1s"}, "app")
	root := t.TempDir()
	kubelet := func(data string) {
		for _, p := range pods {
			require.NoError(t, kubeletdir.Write(filepath.Join(root, p.Name, "src", "config"),
				map[string]kubeletdir.File{"app.conf": {Data: []byte(data), Mode: 0o644}}))
		}
	}
	kubelet("v=0")
	method, err := reload.MethodOf(contract.Delivery{Signal: annotations.SignalNone})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(c.ctx)
	var done []chan error
	t.Cleanup(func() {
		cancel()
		for _, d := range done {
			<-d
		}
	})
	api, err := reload.NewAPI(c.env.Config)
	require.NoError(t, err)
	for _, p := range pods {
		r := reload.New(reload.Options{
			Client: api, Namespace: c.ns, PodName: p.Name,
			Live:       &reload.Live{SrcRoot: filepath.Join(root, p.Name, "src"), LiveRoot: filepath.Join(root, p.Name, "live"), Volumes: []string{"config"}},
			Containers: []string{"app"}, Deliverer: &reload.Deliverer{Method: method},
			WaitRelease: true, Resync: time.Second, VerifyTimeout: 30 * time.Second,
		})
		d := make(chan error, 1)
		done = append(done, d)
		go func() { d <- r.Run(ctx) }()
	}
	startController(t, c.env, c.ns)

	c.configMap("app", map[string]string{"app.conf": "v=1"})
	kubelet("v=1")
	rev := c.desired(pods[0])
	o := order(pods, rev)
	assert.Equal(t, []string{
		started(rev, "ReplicaSet/web", 3, "1,100%", "1s"),
		step(1, 2, rev, 1, "ReplicaSet/web", 1, 3, o[0]),
		step(2, 2, rev, 2, "ReplicaSet/web", 3, 3, sorted(o[1:])),
		completed(rev, 3, "ReplicaSet/web"),
	}, c.waitEvents("ConfigMap", "app", ReasonRolloutCompleted))
	final := c.pods("web")
	assert.Equal(t, all(final, rev+" "+rev), podRevisions(final))
	live := map[string]string{}
	for _, p := range pods {
		b, err := os.ReadFile(filepath.Join(root, p.Name, "live", "config", "app.conf"))
		require.NoError(t, err)
		live[p.Name] = string(b)
	}
	assert.Equal(t, map[string]string{pods[0].Name: "v=1", pods[1].Name: "v=1", pods[2].Name: "v=1"}, live)
}
