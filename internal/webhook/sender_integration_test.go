//go:build integration

package webhook_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"

	"github.com/hotreload/hotreload/internal/webhook"
)

// The benchmarks' load comes from processes of their own, as it does in a
// cluster (the API server's admissions, other pods' junk): their CPU time and
// garbage are not the server's. A sender is this test binary run again with
// senderEnv set to its senderSpec; it writes its senderResult to stdout.
const senderEnv = "HOTRELOAD_BENCH_SENDER"

// senderSpec is what a sender process sends.
type senderSpec struct {
	// Admissions: Review to AdmitURL Rate times a second for Duration, each
	// answer checked to be a patch.
	Admissions bool
	// Junk kinds (garbage-json, 7MiB-body, junk-token, slow-loris) sent for
	// Duration from SourceAddr, at AdmitURL and ExchangeURL.
	Junk        []string
	SourceAddr  string
	AdmitURL    string
	ExchangeURL string
	CA          []byte // PEM, the server's CA
	Review      []byte
	Rate        int
	Duration    time.Duration
}

// senderResult is what a sender saw.
type senderResult struct {
	Latencies []time.Duration // of the admissions that succeeded, sorted
	Failures  int
	Elapsed   time.Duration
	Answers   map[string]int // what junk got: "kind-status", or "kind-err"
	Error     string
}

// The junk rates, a second.
const (
	junkJSONRate  = 200 // garbage AdmissionReviews
	junkHugeRate  = 4   // 7 MiB bodies
	junkTokenRate = 200 // junk bearer tokens at the exchange
	junkSlowConns = 300 // connections that send their headers a byte a second, opened over 10 s
)

// startSender runs spec in a process of its own, on one core
// (GOMAXPROCS=1), and returns a function that waits for its result. A junk
// sender also runs niced: on a machine of two cores it would otherwise take
// the CPU the server and the API server need, which an attacker on another
// node does not.
func startSender(b *testing.B, spec senderSpec) func() senderResult {
	raw, err := json.Marshal(spec)
	require.NoError(b, err)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if len(spec.Junk) > 0 {
		cmd = exec.Command("nice", "-n", "10", os.Args[0], "-test.run=^$")
	}
	cmd.Env = append(os.Environ(), senderEnv+"="+string(raw), "GOMAXPROCS=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	require.NoError(b, cmd.Start())
	return func() senderResult {
		require.NoError(b, cmd.Wait(), "the sender process")
		var r senderResult
		require.NoError(b, json.Unmarshal(out.Bytes(), &r), "the sender's result")
		require.Empty(b, r.Error, "the sender")
		return r
	}
}

// runSender is a sender process's main: it sends what the spec in senderEnv
// says and prints the result.
func runSender(raw string) int {
	var spec senderSpec
	r := senderResult{Answers: map[string]int{}}
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		r.Error = err.Error()
	} else if err := send(spec, &r); err != nil {
		r.Error = err.Error()
	}
	if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
		return 1
	}
	return 0
}

func send(spec senderSpec, r *senderResult) error {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(spec.CA) {
		return fmt.Errorf("no CA certificate in the spec")
	}
	tlsConfig := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if spec.Admissions {
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConfig, MaxIdleConnsPerHost: 64}}
		r.Latencies, r.Failures, r.Elapsed = openLoop(spec.Rate, spec.Duration, func() (time.Duration, error) {
			return admit(c, spec.AdmitURL, spec.Review)
		})
	}
	if len(spec.Junk) > 0 {
		answers := sendJunk(spec, tlsConfig)
		for k, v := range answers.snapshot() {
			r.Answers[k] = v
		}
	}
	return nil
}

// admit sends review to url and checks the answer is a patch.
func admit(c *http.Client, url string, review []byte) (time.Duration, error) {
	start := time.Now()
	resp, err := c.Post(url, "application/json", bytes.NewReader(review))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var out admissionv1.AdmissionReview
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return 0, err
	}
	if out.Response == nil || !out.Response.Allowed || len(out.Response.Patch) == 0 {
		return 0, fmt.Errorf("unexpected response: %+v", out.Response)
	}
	return time.Since(start), nil
}

// sendJunk sends spec's junk for its duration and returns what it got.
func sendJunk(spec senderSpec, tlsConfig *tls.Config) *statusCounts {
	ctx, stop := context.WithTimeout(context.Background(), spec.Duration)
	defer stop()
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(spec.SourceAddr)}}
	c := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{
		TLSClientConfig: tlsConfig.Clone(), DialContext: dialer.DialContext, MaxIdleConnsPerHost: 64,
	}}
	garbage := make([]byte, 1024)
	_, _ = rand.Read(garbage)
	huge := make([]byte, 7<<20)
	codes := &statusCounts{m: map[string]int{}}
	var junk sync.WaitGroup
	every := func(name string, rate int, send func() (int, error)) {
		if !slices.Contains(spec.Junk, name) {
			return
		}
		junk.Go(func() {
			tick := time.NewTicker(time.Second / time.Duration(rate))
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
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
		code, _, err := post(c, spec.AdmitURL, "", garbage)
		return code, err
	})
	every("7MiB-body", junkHugeRate, func() (int, error) {
		code, _, err := post(c, spec.AdmitURL, "", huge)
		return code, err
	})
	every("junk-token", junkTokenRate, func() (int, error) {
		code, _, err := post(c, spec.ExchangeURL, "Bearer junk."+fmt.Sprint(time.Now().UnixNano()), nil)
		return code, err
	})
	if slices.Contains(spec.Junk, "slow-loris") {
		d := &tls.Dialer{NetDialer: dialer, Config: tlsConfig.Clone()}
		for i := range junkSlowConns {
			// Opened over the first 10 s: a burst of TLS handshakes costs the
			// server's CPU whatever is behind them.
			url := spec.AdmitURL
			if i%2 == 1 {
				url = spec.ExchangeURL
			}
			junk.Go(func() {
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Duration(i) * 10 * time.Second / junkSlowConns):
				}
				codes.add("slow-loris", slowLoris(ctx, d, url), nil)
			})
		}
	}
	junk.Wait()
	return codes
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

// slowLoris opens a TLS connection to url's host and sends a request's
// headers a byte a second until the server hangs up or ctx ends; it returns
// 1 when the server hung up.
func slowLoris(ctx context.Context, d *tls.Dialer, target string) int {
	u, err := url.Parse(target)
	if err != nil {
		return 0
	}
	conn, err := d.DialContext(ctx, "tcp", u.Host)
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
