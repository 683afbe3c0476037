//go:build integration

package rollout

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/notify"
)

// bodies is a receiver on loopback that keeps the JSON bodies POSTed to it.
type bodies struct {
	mu  sync.Mutex
	got []map[string]any
	srv *httptest.Server
}

func newBodies(t *testing.T) *bodies {
	b := &bodies{}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		if err := json.Unmarshal(raw, &body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		b.mu.Lock()
		b.got = append(b.got, body)
		b.mu.Unlock()
	}))
	t.Cleanup(b.srv.Close)
	return b
}

// await waits until the receiver holds n bodies, and returns them.
func (b *bodies) await(t *testing.T, n int) []map[string]any {
	t.Helper()
	var got []map[string]any
	require.Eventually(t, func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		got = append([]map[string]any(nil), b.got...)
		return len(got) >= n
	}, 30*time.Second, 20*time.Millisecond, "%d notifications, want %d", len(got), n)
	return got
}

// A release's halt, its rollback, an operator's command and a completion
// each reach the receivers the notifications Secret names, read from a real
// API server: the JSON receiver gets the whole notification, the Slack one a
// line of text.
func TestIntegrationAReleasesOutcomesAreNotified(t *testing.T) {
	c := newCluster(t, nil)
	hook, slack := newBodies(t), newBodies(t)
	_, err := c.env.Clientset.CoreV1().Secrets(c.ns).Create(c.ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "hotreload-notifications"},
		StringData: map[string]string{notify.KeyWebhookURL: hook.srv.URL, notify.KeySlackURL: slack.srv.URL, notify.KeyCluster: "test"},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	api, err := client.New(c.env.Config, client.Options{Scheme: testScheme})
	require.NoError(t, err)
	n, err := notify.New(notify.Options{Reader: api, Secret: types.NamespacedName{Namespace: c.ns, Name: "hotreload-notifications"}})
	require.NoError(t, err)
	go func() { _ = n.Start(t.Context()) }()

	steps := map[string]string{annotations.Rollout: "1,50%,100%", annotations.RolloutInterval: "1s"}
	data0 := map[string]string{"app.conf": "v=0"}
	c.configMap("app", data0)
	pods := c.replicaSet("web", 3, steps, "app")
	startController(t, c.env, c.ns, func(o *Options) { o.Notifier = n })
	stable := sourceRev(data0)
	c.waitRelease("app", "first seen", phase(v1alpha1.PhaseComplete, stable))
	c.startOn = func(p *corev1.Pod) string { return c.at(p, map[string]map[string]string{"ConfigMap/app": data0}) }

	data1 := map[string]string{"app.conf": "broken"}
	c.configMap("app", data1)
	cand, rev1 := sourceRev(data1), c.desired(pods[0])
	o := order(pods, cand)
	c.fakeReloaders(func(_, rev string) reloaderAction {
		if rev == rev1 {
			return fail
		}
		return apply
	})
	c.waitRelease("app", "rolled back", func(rel *v1alpha1.ConfigRelease) bool { return rel.Status.Halt != nil && rel.Status.Halt.RolledBack })
	id := c.command("app", v1alpha1.ActionPromote, cand, "", nil)
	c.waitCommand("app", id)
	data2 := map[string]string{"app.conf": "v=2"}
	c.configMap("app", data2)
	fixed := sourceRev(data2)
	c.waitRelease("app", "the fix completes", phase(v1alpha1.PhaseComplete, fixed))

	release := "configmap-app"
	common := func(kind notify.Kind, candidate, stable, message string) map[string]any {
		return map[string]any{"kind": string(kind), "cluster": "test", "namespace": c.ns, "source": map[string]any{"kind": "ConfigMap", "name": "app"},
			"release": release, "candidate": candidate, "stable": stable, "message": message}
	}
	halted := common(notify.Halted, cand, stable, "the release of revision "+cand+" halted at pod "+o[0]+" of ReplicaSet/web: the app exited; every pod goes back to stable revision "+stable)
	halted["pod"], halted["workload"], halted["cause"] = o[0], "ReplicaSet/web", "the app exited"
	promote := common(notify.Command, "", "", "Promote by jane: not carried out: the release is Halted: there is no candidate in progress")
	promote["command"] = map[string]any{"action": "Promote", "by": "jane", "done": false, "result": "not carried out: the release is Halted: there is no candidate in progress"}
	delete(promote, "candidate")
	delete(promote, "stable")
	completed := common(notify.Completed, fixed, fixed, "Revision "+fixed+" runs on every pod of 1 workload; it is the stable revision")
	completed["workloads"] = 1.0
	want := []map[string]any{
		halted,
		common(notify.RolledBack, cand, stable, "every pod that can go back runs stable revision "+stable+" again, instead of revision "+cand),
		promote,
		completed,
	}
	got := hook.await(t, len(want))
	for _, g := range got {
		_, err := time.Parse(time.RFC3339Nano, g["time"].(string))
		assert.NoError(t, err)
		delete(g, "time")
	}
	assert.Equal(t, want, got)
	var texts []any
	for _, w := range want {
		texts = append(texts, ":"+map[string]string{"Halted": "red_circle", "RolledBack": "leftwards_arrow_with_hook", "Command": "keyboard", "Completed": "large_green_circle"}[w["kind"].(string)]+
			": hotreload test: ConfigMap "+c.ns+"/app — "+w["kind"].(string)+": "+w["message"].(string))
	}
	var gotTexts []any
	for _, g := range slack.await(t, len(want)) {
		gotTexts = append(gotTexts, g["text"])
	}
	assert.Equal(t, texts, gotTexts)
}
