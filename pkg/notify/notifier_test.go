package notify

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// receiver is a real HTTP receiver on loopback that answers each request
// with the next of its statuses (then 200) and keeps what it got.
type receiver struct {
	mu       sync.Mutex
	statuses []int
	got      []received
	arrived  chan struct{}
	srv      *httptest.Server
}

type received struct {
	Auth string
	Body map[string]any
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	r := &receiver{statuses: statuses, arrived: make(chan struct{}, 64)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		var body map[string]any
		_ = json.Unmarshal(b, &body)
		r.mu.Lock()
		r.got = append(r.got, received{Auth: req.Header.Get("Authorization"), Body: body})
		status := http.StatusOK
		if len(r.statuses) > 0 {
			status, r.statuses = r.statuses[0], r.statuses[1:]
		}
		r.mu.Unlock()
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "0")
		}
		w.WriteHeader(status)
		r.arrived <- struct{}{}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// await waits for n requests.
func (r *receiver) await(t *testing.T, n int) []received {
	t.Helper()
	for range n {
		select {
		case <-r.arrived:
		case <-time.After(10 * time.Second):
			t.Fatalf("the receiver got %d requests, want %d", len(r.requests()), n)
		}
	}
	return r.requests()
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// started returns a running Notifier reading cfg, its registry and a
// function that returns what it logged.
func started(t *testing.T, cfg map[string]string, o Options) (*Notifier, *prometheus.Registry, func() string) {
	t.Helper()
	data := map[string][]byte{}
	for k, v := range cfg {
		data[k] = []byte(v)
	}
	var mu sync.Mutex
	logs := &strings.Builder{}
	o.Log = funcr.New(func(prefix, args string) { mu.Lock(); defer mu.Unlock(); logs.WriteString(args + "\n") }, funcr.Options{Verbosity: 1})
	reg := prometheus.NewRegistry()
	o.Registry = reg
	if o.Retry == (Retry{}) {
		o.Retry = Retry{First: time.Millisecond, Cap: 4 * time.Millisecond, Attempts: 4}
	}
	n, err := New(o)
	require.NoError(t, err)
	n.read = func(context.Context) (Config, error) { return ParseConfig(data) }
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { _ = n.Start(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return n, reg, func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
}

func count(t *testing.T, reg *prometheus.Registry, sink Sink, result string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["sink"] == string(sink) && labels["result"] == result {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

var halted = Notification{Kind: Halted, Time: at, Namespace: "shop", Source: Source{Kind: "ConfigMap", Name: "app"},
	Release: "configmap-app", Candidate: "0123456789ab", Stable: "ba9876543210", Pod: "web-1", Workload: "Deployment/web", Cause: "refused"}

func TestEachSinkGetsItsPayload(t *testing.T) {
	hook, slack := newReceiver(t), newReceiver(t)
	n, reg, _ := started(t, map[string]string{KeyWebhookURL: hook.srv.URL, KeyWebhookAuthorization: "Bearer t0k3n", KeySlackURL: slack.srv.URL, KeyCluster: "prod"}, Options{})

	n.Notify(halted)

	msg := "the release of revision 0123456789ab halted at pod web-1 of Deployment/web: refused; every pod goes back to stable revision ba9876543210"
	assert.Equal(t, []received{{Auth: "Bearer t0k3n", Body: map[string]any{"kind": "Halted", "time": "2026-12-07T21:00:00Z", "cluster": "prod", "namespace": "shop",
		"source": map[string]any{"kind": "ConfigMap", "name": "app"}, "release": "configmap-app", "candidate": "0123456789ab", "stable": "ba9876543210",
		"pod": "web-1", "workload": "Deployment/web", "cause": "refused", "message": msg}}}, hook.await(t, 1))
	assert.Equal(t, []received{{Body: map[string]any{"text": ":red_circle: hotreload prod: ConfigMap shop/app — Halted: " + msg}}}, slack.await(t, 1))
	assert.Eventually(t, func() bool { return count(t, reg, Webhook, "sent") == 1 && count(t, reg, Slack, "sent") == 1 }, 10*time.Second, time.Millisecond)
}

func TestAFailedSendIsTriedAgain(t *testing.T) {
	hook := newReceiver(t, http.StatusServiceUnavailable, http.StatusTooManyRequests, http.StatusRequestTimeout)
	n, reg, _ := started(t, map[string]string{KeyWebhookURL: hook.srv.URL}, Options{})

	n.Notify(halted)

	got := hook.await(t, 4)
	assert.Len(t, got, 4)
	for _, r := range got {
		assert.Equal(t, "Halted", r.Body["kind"])
	}
	assert.Eventually(t, func() bool { return count(t, reg, Webhook, "sent") == 1 }, 10*time.Second, time.Millisecond)
	assert.Equal(t, 0.0, count(t, reg, Webhook, "failed"))
}

func TestARefusalIsNotTriedAgain(t *testing.T) {
	hook := newReceiver(t, http.StatusForbidden)
	n, reg, logs := started(t, map[string]string{KeyWebhookURL: hook.srv.URL}, Options{})

	n.Notify(halted)
	hook.await(t, 1)
	assert.Eventually(t, func() bool { return count(t, reg, Webhook, "failed") == 1 }, 10*time.Second, time.Millisecond)

	n.Notify(halted) // the next one is sent: the sink was not given up
	got := hook.await(t, 1)
	assert.Len(t, got, 2, "one request per notification")
	assert.Contains(t, logs(), `"msg"="notification refused by its receiver; not sent again" "sink"="webhook" "kind"="Halted" "namespace"="shop" "source"="ConfigMap/app" "status"=403`)
}

func TestAReceiverThatIsDownIsGivenUpWithoutItsURLInTheLog(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	url := down.URL + "/services/s3cr3tt0k3n"
	down.Close()
	n, reg, logs := started(t, map[string]string{KeySlackURL: url}, Options{})

	n.Notify(halted)

	assert.Eventually(t, func() bool { return count(t, reg, Slack, "failed") == 1 }, 10*time.Second, time.Millisecond)
	assert.Contains(t, logs(), `"msg"="notification not sent" "sink"="slack" "kind"="Halted" "namespace"="shop" "source"="ConfigMap/app" "attempts"=4 "error"="dial tcp`)
	assert.NotContains(t, logs(), "s3cr3tt0k3n")
}

func TestOnlyTheKindsAsked(t *testing.T) {
	hook := newReceiver(t)
	n, _, _ := started(t, map[string]string{KeyWebhookURL: hook.srv.URL, KeyEvents: "Command"}, Options{})

	n.Notify(halted)
	cmd := halted
	cmd.Kind, cmd.Command = Command, &CommandInfo{Action: "abort", By: "alice", Done: true, Result: "aborted"}
	n.Notify(cmd)

	got := hook.await(t, 1)
	require.Len(t, got, 1, "the halt before it was not sent")
	assert.Equal(t, "Command", got[0].Body["kind"])
}

func TestAFullQueueDropsAndNeverBlocks(t *testing.T) {
	reg := prometheus.NewRegistry()
	n, err := New(Options{Registry: reg, QueueSize: 2, Log: logr.Discard()})
	require.NoError(t, err)

	for range 5 { // not started: nothing drains the queues
		n.Notify(halted)
	}

	assert.Equal(t, 3.0, testutil.ToFloat64(n.results.WithLabelValues(string(Webhook), "dropped")))
	assert.Equal(t, 3.0, testutil.ToFloat64(n.results.WithLabelValues(string(Slack), "dropped")))
}

func TestNoSecretSendsNothing(t *testing.T) {
	n, err := New(Options{Log: logr.Discard()})
	require.NoError(t, err)
	reads := 0
	n.read = func(context.Context) (Config, error) { reads++; return Config{}, errNotConfigured }

	for _, s := range Sinks { // as the sinks' workers would, one after the other
		n.deliver(t.Context(), s, halted)
	}

	assert.Equal(t, 1, reads, "the Secret's absence is kept for ConfigTTL")
	for _, s := range Sinks {
		for _, result := range []string{"sent", "failed", "dropped"} {
			assert.Zero(t, testutil.ToFloat64(n.results.WithLabelValues(string(s), result)), "%s %s", s, result)
		}
	}
}
