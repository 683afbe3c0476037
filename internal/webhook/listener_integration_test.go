//go:build integration

package webhook_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/hotreload/hotreload/internal/identity"
	"github.com/hotreload/hotreload/internal/testenv"
	"github.com/hotreload/hotreload/internal/webhook"
	"github.com/hotreload/hotreload/pkg/mutate/mutatetest"
)

// The webhook's ports, which anyone the NetworkPolicy admits can reach before
// any authentication, speak HTTP/1.1 only over TLS 1.2 or later with
// forward-secret AEAD suites, and refuse a large body unread.
func TestIntegrationTheWebhookPortRefusesWhatItDoesNotNeed(t *testing.T) {
	env := testenv.Get(t)
	o := serverOptions(mutatetest.Case{})
	serving := serveOnLoopback(t, &o)
	o.ExchangePort = freePort(t)
	runManager(t, env, o, logr.Discard())
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(serving.LocalServingCAData))
	addr := fmt.Sprintf("%s:%d", serving.LocalServingHost, serving.LocalServingPort)
	base := func() *tls.Config { return &tls.Config{RootCAs: pool, ServerName: serving.LocalServingHost} }

	t.Run("HTTP/2 is not negotiated", func(t *testing.T) {
		c := base()
		c.NextProtos = []string{"h2", "http/1.1"}
		conn, err := tls.Dial("tcp", addr, c)
		require.NoError(t, err)
		defer conn.Close()
		assert.Equal(t, "http/1.1", conn.ConnectionState().NegotiatedProtocol)

		only2 := &http.Protocols{}
		only2.SetHTTP2(true)
		h2 := &http.Client{Transport: &http.Transport{TLSClientConfig: base(), Protocols: only2}}
		_, err = h2.Post("https://"+addr+webhook.Path, "application/json", nil)
		assert.Error(t, err, "an HTTP/2-only client gets no answer")
	})
	t.Run("TLS 1.1 is refused", func(t *testing.T) {
		c := base()
		c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
		_, err := tls.Dial("tcp", addr, c)
		assert.Error(t, err)
	})
	t.Run("a TLS 1.2 suite without forward secrecy or AEAD is refused", func(t *testing.T) {
		for _, suite := range []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA} {
			c := base()
			c.MaxVersion, c.CipherSuites = tls.VersionTLS12, []uint16{suite}
			_, err := tls.Dial("tcp", addr, c)
			assert.Error(t, err, tls.CipherSuiteName(suite))
		}
		c := base()
		c.MaxVersion, c.CipherSuites = tls.VersionTLS12, []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}
		conn, err := tls.Dial("tcp", addr, c)
		require.NoError(t, err, "ECDHE with AES-GCM is served")
		conn.Close()
	})
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: base()}}
	for _, tc := range []struct {
		port int
		path string
		size int
	}{{o.Port, webhook.Path, 7 << 20}, {o.ExchangePort, identity.Path, 64 << 10}} {
		t.Run(fmt.Sprintf("a body of %d bytes to %s is refused unread", tc.size, tc.path), func(t *testing.T) {
			url := fmt.Sprintf("https://%s:%d%s", serving.LocalServingHost, tc.port, tc.path)
			var code int
			var body string
			require.Eventually(t, func() bool { // the exchange's server may not listen yet
				resp, err := client.Post(url, "application/json", bytes.NewReader(make([]byte, tc.size)))
				if err != nil {
					return false
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				code, body = resp.StatusCode, string(b)
				return true
			}, 30*time.Second, 50*time.Millisecond)
			assert.Equal(t, []any{http.StatusRequestEntityTooLarge, "request body too large\n"}, []any{code, body})
		})
	}
}

// The token exchange is served on its own port only, which a NetworkPolicy
// can open to enabled namespaces only. On the admission port, where sidecars
// injected before it had a port look for it, its path answers 410 with what
// to do, and no token sent there is reviewed.
func TestIntegrationTheExchangeHasItsOwnPortOnly(t *testing.T) {
	env := testenv.Get(t)
	exchangePort := freePort(t)
	o := serverOptions(mutatetest.Case{})
	serving := serveOnLoopback(t, &o)
	o.ExchangePort = exchangePort
	var reviews testenv.TokenReviews
	runManagerWith(t, reviews.Wrap(env.Config), o, logr.Discard())
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(serving.LocalServingCAData))
	tlsConfig := &tls.Config{RootCAs: pool, ServerName: serving.LocalServingHost, NextProtos: []string{"h2", "http/1.1"}}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConfig, ForceAttemptHTTP2: true}}
	type answer struct {
		Code        int
		Proto, Body string
	}
	post := func(port int, path, token string) answer {
		var a answer
		require.Eventually(t, func() bool {
			req, err := http.NewRequest(http.MethodPost, fmt.Sprintf("https://127.0.0.1:%d%s", port, path), nil)
			require.NoError(t, err)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := client.Do(req)
			if err != nil {
				return false // the exchange's server may not listen yet
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			a = answer{resp.StatusCode, resp.Proto, strings.TrimSpace(string(b))}
			return true
		}, 30*time.Second, 50*time.Millisecond)
		return a
	}

	assert.Equal(t, answer{http.StatusGone, "HTTP/1.1", fmt.Sprintf("the token exchange is served on its own port only (%d, the Service's port named exchange), not on the admission port: "+
		"this pod's sidecar was injected by an older hotreload; recreate the pod (e.g. kubectl rollout restart) to inject a current one", exchangePort)},
		post(serving.LocalServingPort, identity.Path, "junk"), "the admission port's exchange")
	assert.Equal(t, 0, reviews.Count(), "no token sent to the admission port is reviewed")
	assert.Equal(t, http.StatusNotFound, post(exchangePort, webhook.Path, "").Code, "the exchange port serves no admission")
	assert.Equal(t, answer{http.StatusUnauthorized, "HTTP/1.1", "a bearer token with audience hotreload is required"},
		post(exchangePort, identity.Path, ""), "the exchange port serves the exchange, over HTTP/1.1 only")
}

// Metrics are served over TLS, and only to callers the API server
// authenticates and allows GET on /metrics: not to every pod over HTTP. What a
// caller makes the webhook ask the API server is bounded: an address gets
// Burst answers, then 429 with Retry-After, unreviewed; a token over 8 KiB
// gets 431, unreviewed; and a burst of junk from one address takes nothing
// from a scraper at another.
func TestIntegrationMetricsAreServedOnlyToAllowedCallers(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	ns := env.Namespace(t, nil)
	reader := "metrics-reader-" + ns
	for _, obj := range []client.Object{
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "scraper", Namespace: ns}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: reader},
			Rules: []rbacv1.PolicyRule{{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: reader},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: reader},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "scraper", Namespace: ns}}},
	} {
		require.NoError(t, env.Client.Create(ctx, obj))
	}
	t.Cleanup(func() {
		_ = env.Client.Delete(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: reader}})
		_ = env.Client.Delete(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: reader}})
	})
	// The webhook's authoriser keeps a denial 30 s: scrape once the API
	// server allows the scraper.
	require.Eventually(t, func() bool {
		sar, err := env.Clientset.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: "system:serviceaccount:" + ns + ":scraper", NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: "/metrics", Verb: "get"},
		}}, metav1.CreateOptions{})
		return err == nil && sar.Status.Allowed
	}, 30*time.Second, 100*time.Millisecond, "RBAC allows the scraper")
	token := func(sa string) string {
		tr, err := env.Clientset.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
		require.NoError(t, err)
		return tr.Status.Token
	}
	scraper, app := token("scraper"), token("app")

	metricsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	o := serverOptions(mutatetest.Case{})
	serving := serveOnLoopback(t, &o)
	o.MetricsAddr, o.MetricsSecure = metricsAddr, true
	o.Scrapes = webhook.ScrapeLimits{Every: time.Hour, Burst: 4}
	var reviews testenv.TokenReviews
	runManagerWith(t, reviews.Wrap(env.Config), o, logr.Discard())
	require.Eventually(t, func() bool {
		conn, err := net.Dial("tcp", metricsAddr)
		if err == nil {
			conn.Close()
		}
		return err == nil
	}, 30*time.Second, 50*time.Millisecond, "the metrics server listens")

	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(serving.LocalServingCAData))
	type answer struct {
		Code       int
		RetryAfter string
	}
	// from scrapes from the loopback address source.
	from := func(source string) func(scheme, tok string) answer {
		dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(source)}}
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: dialer.DialContext,
			TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}}}
		return func(scheme, tok string) answer {
			req, err := http.NewRequest(http.MethodGet, scheme+"://"+metricsAddr+"/metrics", nil)
			require.NoError(t, err)
			if tok != "" {
				req.Header.Set("Authorization", "Bearer "+tok)
			}
			resp, err := c.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			_, _ = io.Copy(io.Discard, resp.Body)
			return answer{resp.StatusCode, resp.Header.Get("Retry-After")}
		}
	}

	junk := from("127.0.0.1")
	// controller-runtime's filter answers a token the API server cannot review
	// with 500 (the review's error), not 401: either way, no metrics.
	assert.Equal(t, []answer{{Code: http.StatusUnauthorized}, {Code: http.StatusInternalServerError}, {Code: http.StatusForbidden}, {Code: http.StatusInternalServerError},
		{http.StatusTooManyRequests, "3600"}, {http.StatusTooManyRequests, "3600"}, {http.StatusTooManyRequests, "3600"}},
		[]answer{junk("https", ""), junk("https", "junk-1"), junk("https", app), junk("https", "junk-2"), junk("https", "junk-3"), junk("https", scraper), junk("https", "")},
		"no token, junk, an app's token, junk: then the address is over its rate, whatever it sends")
	assert.Equal(t, 3, reviews.Count(), "one TokenReview for each token answered, none past the rate")
	assert.Equal(t, answer{Code: http.StatusRequestHeaderFieldsTooLarge},
		from("127.0.0.3")("https", strings.Repeat("x", identity.MaxTokenSize+1)), "a token over 8 KiB, from an address within its rate")
	assert.Equal(t, 3, reviews.Count(), "is not reviewed")

	s := from("127.0.0.2")
	assert.Equal(t, []answer{{Code: http.StatusOK}, {Code: http.StatusOK}, {Code: http.StatusBadRequest}},
		[]answer{s("https", scraper), s("https", scraper), s("http", scraper)}, "the scraper, at another address; plain HTTP")
	assert.Equal(t, 4, reviews.Count(), "the scraper's token is reviewed once")
}

// freePort returns a loopback port nothing listens on.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// serveOnLoopback prepares a loopback port and a serving certificate for it
// (envtest's, removed when the test ends), and points o at them.
func serveOnLoopback(t testing.TB, o *webhook.ServerOptions) *envtest.WebhookInstallOptions {
	t.Helper()
	serving := &envtest.WebhookInstallOptions{LocalServingHost: "127.0.0.1"}
	require.NoError(t, serving.PrepWithoutInstalling())
	t.Cleanup(func() { _ = serving.Cleanup() })
	o.Host, o.Port, o.CertDir = serving.LocalServingHost, serving.LocalServingPort, serving.LocalServingCertDir
	return serving
}
