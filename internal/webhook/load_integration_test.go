//go:build integration

package webhook_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/hotreload/hotreload/internal/testenv"
	"github.com/hotreload/hotreload/internal/webhook"
	"github.com/hotreload/hotreload/pkg/mutate/mutatetest"
)

// Load of the admission benchmark: the rate and duration of issue's target
// (p99 at most 5 ms at 500 reviews/s on 2 cores).
const (
	loadRate     = 500
	loadDuration = 30 * time.Second
)

// BenchmarkIntegrationAdmissionLoad sends AdmissionReviews for a realistic pod
// to `webhook serve` over TLS on loopback at a fixed rate (open loop: a slow
// answer does not slow the sender), and reports the latency percentiles.
// Run it once: go test -tags integration -run '^$' -bench AdmissionLoad -benchtime 1x ./internal/webhook/
func BenchmarkIntegrationAdmissionLoad(b *testing.B) {
	rig := newLoadRig(b, webhook.ServerOptions{})
	for b.Loop() {
		r := rig.startAdmissions(b)()
		reportLatencies(b, "", r.Latencies, r.Failures, r.Elapsed, "reviews/s")
	}
}

// startAdmissions sends the review loadRate times a second for loadDuration
// from a process of its own, as the API server would, and returns a
// function that waits for the result.
func (l *loadRig) startAdmissions(b *testing.B) func() senderResult {
	return startSender(b, senderSpec{Admissions: true, AdmitURL: l.url, CA: l.ca, Review: l.review, Rate: loadRate, Duration: loadDuration})
}

// loadRig is `webhook serve` on loopback, with an enabled namespace and the
// AdmissionReview of a realistic pod in it.
type loadRig struct {
	env    *testenv.Env
	mgr    manager.Manager
	o      webhook.ServerOptions
	ns     string
	ca     []byte // PEM
	client *http.Client
	url    string
	review []byte
}

// newLoadRig starts the server with o (its addresses and certificates set
// here) and warms its connections and caches.
func newLoadRig(b *testing.B, o webhook.ServerOptions) *loadRig {
	env := testenv.Get(b)
	def := serverOptions(mutatetest.Case{})
	o.NativeSidecar, o.Mutate = def.NativeSidecar, def.Mutate
	serving := serveOnLoopback(b, &o)
	mgr := runManager(b, env, o, logr.Discard())
	ns := enabledNamespace(b, env, mgr.GetCache(), map[string]string{"hotreload/rollout": "1,25%,100%"})

	c := readCase(b, filepath.Join(mutatetest.Dir(), "nginx-subpath-link.yaml"))
	c.Pod.Namespace = ""
	rawPod, err := json.Marshal(c.Pod)
	require.NoError(b, err)
	review, err := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID: "load", Namespace: ns, Operation: admissionv1.Create,
			Kind:     metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
			Resource: metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
			Object:   runtime.RawExtension{Raw: rawPod},
		},
	})
	require.NoError(b, err)

	pool := x509.NewCertPool()
	require.True(b, pool.AppendCertsFromPEM(serving.LocalServingCAData))
	rig := &loadRig{env: env, mgr: mgr, o: o, ns: ns, ca: serving.LocalServingCAData, review: review,
		client: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
			MaxIdleConnsPerHost: 64,
		}},
		url: fmt.Sprintf("https://%s:%d%s", serving.LocalServingHost, serving.LocalServingPort, webhook.Path),
	}
	for range 50 { // warm the connections and the caches
		_, err := admit(rig.client, rig.url, rig.review)
		require.NoError(b, err)
	}
	return rig
}

// openLoop calls send rate times a second for d, each call leaving at its
// time whatever the calls before it take (a sender that falls behind catches
// up rather than lowering the rate), and returns the latencies of the calls
// that succeeded, sorted, how many failed, and how long it all took.
func openLoop(rate int, d time.Duration, send func() (time.Duration, error)) ([]time.Duration, int, time.Duration) {
	var (
		mu        sync.Mutex
		latencies []time.Duration
		failures  int
		wg        sync.WaitGroup
	)
	total := int(d.Seconds() * float64(rate))
	start := time.Now()
	for i := range total {
		time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))))
		wg.Go(func() {
			d, err := send()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failures++
				return
			}
			latencies = append(latencies, d)
		})
	}
	wg.Wait()
	slices.Sort(latencies)
	return latencies, failures, time.Since(start)
}

// reportLatencies reports the rate, percentiles and failures of one open
// loop, each metric named with prefix.
func reportLatencies(b *testing.B, prefix string, lat []time.Duration, failures int, elapsed time.Duration, rateUnit string) {
	require.NotEmpty(b, lat, "%sno call succeeded (%d failed)", prefix, failures)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), prefix+rateUnit)
	b.ReportMetric(pct(0.50), prefix+"p50-ms")
	b.ReportMetric(pct(0.99), prefix+"p99-ms")
	b.ReportMetric(pct(1), prefix+"max-ms")
	b.ReportMetric(float64(failures), prefix+"failures")
}
