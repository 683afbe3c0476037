//go:build integration

package webhook_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hotreload/hotreload/internal/identity"
	"github.com/hotreload/hotreload/internal/webhook"
	"github.com/hotreload/hotreload/pkg/mutate"
)

// The junk of BenchmarkIntegrationAdmissionUnderJunk, sent from 127.0.0.2 (an
// address of its own, as another pod's would be) while the real traffic runs.
const (
	junkJSONRate   = 200 // garbage AdmissionReviews a second
	junkHugeRate   = 4   // 7 MiB bodies a second
	junkTokenRate  = 200 // junk bearer tokens at the exchange a second
	junkSlowConns  = 300 // connections that send their headers a byte a second, opened over 10 s
	exchangePods   = 30  // sidecars exchanging fresh pod tokens...
	exchangeRate   = 3   // ...this many a second in all
	junkSourceAddr = "127.0.0.2"
)

// BenchmarkIntegrationAdmissionUnderJunk runs the admission load of
// BenchmarkIntegrationAdmissionLoad and real sidecars' token exchanges while
// junk is sent at both ports: garbage JSON, 7 MiB bodies, slow-loris
// connections and junk bearer tokens. It reports the real traffic's latencies
// and failures, and what the junk got.
// Run it once: go test -tags integration -run '^$' -bench AdmissionUnderJunk -benchtime 1x ./internal/webhook/
func BenchmarkIntegrationAdmissionUnderJunk(b *testing.B) {
	exchangePort := freePort(b)
	rig := newLoadRig(b, webhook.ServerOptions{ExchangePort: exchangePort})
	ctx := context.Background()
	env := rig.env
	env.Apply(b, env.Kustomize(b, "../../deploy/base")) // the reloader policy, without which no token is issued
	require.NoError(b, env.Client.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: rig.ns}}))
	require.Eventually(b, func() bool {
		return env.Client.Get(ctx, client.ObjectKey{Namespace: rig.ns, Name: "hotreload-reloader"}, &corev1.ServiceAccount{}) == nil
	}, 30*time.Second, 50*time.Millisecond, "the controller gives the namespace the reloader's account")
	pods := make([]*corev1.Pod, exchangePods)
	for i := range pods {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("sidecar-%d", i), Namespace: rig.ns, Labels: map[string]string{"hotreload/enable": "true"}},
			Spec: corev1.PodSpec{ServiceAccountName: "app", Containers: []corev1.Container{{Name: "app", Image: "app:1",
				VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: "/etc/app"}}}},
				Volumes: []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{
					ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "app"}}}}}},
		}
		p, _, err := mutate.Mutate(p, rig.o.Mutate)
		require.NoError(b, err)
		require.NoError(b, env.Client.Create(ctx, p))
		pods[i] = p
	}
	exchangeURL := fmt.Sprintf("https://127.0.0.1:%d%s", exchangePort, identity.Path)
	var next atomic.Int64
	var lastErr atomic.Value
	exchange := func() (d time.Duration, err error) {
		defer func() {
			if err != nil {
				lastErr.Store(err.Error())
			}
		}()
		p := pods[int(next.Add(1))%len(pods)]
		tr, err := env.Clientset.CoreV1().ServiceAccounts(rig.ns).CreateToken(ctx, "app", &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
			Audiences:      []string{identity.Audience},
			BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: p.Name, UID: p.UID},
		}}, metav1.CreateOptions{})
		if err != nil {
			return 0, err
		}
		start := time.Now()
		code, body, err := post(rig.client, exchangeURL, "Bearer "+tr.Status.Token, nil)
		if err != nil {
			return 0, err
		}
		var st authenticationv1.TokenRequestStatus
		if code != http.StatusOK || json.Unmarshal(body, &st) != nil || st.Token == "" {
			return 0, fmt.Errorf("exchange: %d %s", code, body)
		}
		return time.Since(start), nil
	}

	junkClient := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{
		TLSClientConfig:     rig.client.Transport.(*http.Transport).TLSClientConfig.Clone(),
		DialContext:         (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(junkSourceAddr)}}).DialContext,
		MaxIdleConnsPerHost: 64,
	}}
	garbage := make([]byte, 1024)
	_, _ = rand.Read(garbage)
	huge := make([]byte, 7<<20)
	for b.Loop() {
		jctx, stop := context.WithCancel(ctx)
		codes := &statusCounts{m: map[string]int{}}
		var junk sync.WaitGroup
		every := func(name string, rate int, send func() (int, error)) {
			if !junkKind(name) {
				return
			}
			junk.Go(func() {
				tick := time.NewTicker(time.Second / time.Duration(rate))
				defer tick.Stop()
				for {
					select {
					case <-jctx.Done():
						return
					case <-tick.C:
					}
					junk.Go(func() {
						code, err := send()
						codes.add(name, code, err)
					})
				}
			})
		}
		every("garbage-json", junkJSONRate, func() (int, error) {
			code, _, err := post(junkClient, rig.url, "", garbage)
			return code, err
		})
		every("7MiB-body", junkHugeRate, func() (int, error) {
			code, _, err := post(junkClient, rig.url, "", huge)
			return code, err
		})
		every("junk-token", junkTokenRate, func() (int, error) {
			code, _, err := post(junkClient, exchangeURL, "Bearer junk."+fmt.Sprint(time.Now().UnixNano()), nil)
			return code, err
		})
		slow := 0
		if junkKind("slow-loris") {
			slow = junkSlowConns
		}
		for i := range slow {
			// Opened over the first 10 s: a burst of TLS handshakes costs the
			// server's CPU whatever is behind them.
			junk.Go(func() {
				select {
				case <-jctx.Done():
					return
				case <-time.After(time.Duration(i) * 10 * time.Second / junkSlowConns):
				}
				codes.add("slow-loris", slowLoris(jctx, rig, exchangePort), nil)
			})
		}

		var wg sync.WaitGroup
		var exLat []time.Duration
		var exFailures int
		var exElapsed time.Duration
		wg.Go(func() { exLat, exFailures, exElapsed = openLoop(exchangeRate, loadDuration, exchange) })
		lat, failures, elapsed := openLoop(loadRate, loadDuration, rig.admit)
		wg.Wait()
		stop()
		junk.Wait()
		reportLatencies(b, "", lat, failures, elapsed, "reviews/s")
		if exFailures > 0 {
			b.Logf("%d exchanges failed, the last: %v", exFailures, lastErr.Load())
		}
		reportLatencies(b, "exchange-", exLat, exFailures, exElapsed, "exchanges/s")
		for k, n := range codes.snapshot() {
			b.ReportMetric(float64(n), "junk-"+k)
		}
	}
}

// post sends body (none when nil) with the Authorization header auth, when
// set, and returns the status and the answer.
func post(c *http.Client, url, auth string, body []byte) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b, err
}

// slowLoris opens a TLS connection from the junk address to one of the
// server's ports and sends a request's headers a byte a second until the
// server hangs up or ctx ends; it returns 1 when the server hung up.
func slowLoris(ctx context.Context, rig *loadRig, exchangePort int) int {
	port := rig.o.Port
	if time.Now().UnixNano()%2 == 0 {
		port = exchangePort
	}
	d := &tls.Dialer{NetDialer: &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(junkSourceAddr)}},
		Config: rig.client.Transport.(*http.Transport).TLSClientConfig.Clone()}
	conn, err := d.DialContext(ctx, "tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return 0
	}
	defer conn.Close()
	head := []byte("POST " + webhook.Path + " HTTP/1.1\r\nHost: x\r\nX-Slow: " + string(bytes.Repeat([]byte("a"), 4096)))
	for _, c := range head {
		select {
		case <-ctx.Done():
			return 0
		case <-time.After(time.Second):
		}
		if _, err := conn.Write([]byte{c}); err != nil {
			return 1
		}
	}
	return 0
}

// statusCounts counts the answers junk got, by kind and status ("err" when
// there was none).
type statusCounts struct {
	mu sync.Mutex
	m  map[string]int
}

func (s *statusCounts) add(kind string, code int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := fmt.Sprintf("%s-%d", kind, code)
	if err != nil {
		key = kind + "-err"
	}
	s.m[key]++
}

func (s *statusCounts) snapshot() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.m))
	for k, v := range s.m {
		out[k] = v
	}
	return out
}

// junkKind reports whether HOTRELOAD_JUNK (a comma-separated list of
// garbage-json, 7MiB-body, junk-token, slow-loris; default all) names kind.
func junkKind(kind string) bool {
	v := os.Getenv("HOTRELOAD_JUNK")
	return v == "" || slices.Contains(strings.Split(v, ","), kind)
}
