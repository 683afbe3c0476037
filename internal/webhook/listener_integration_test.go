//go:build integration

package webhook_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/hotreload/hotreload/internal/identity"
	"github.com/hotreload/hotreload/internal/testenv"
	"github.com/hotreload/hotreload/internal/webhook"
	"github.com/hotreload/hotreload/pkg/mutate/mutatetest"
)

// The webhook's port, which anyone the NetworkPolicy admits can reach before
// any authentication, speaks HTTP/1.1 only over TLS 1.2 or later with
// forward-secret AEAD suites, and refuses a large body unread.
func TestIntegrationTheWebhookPortRefusesWhatItDoesNotNeed(t *testing.T) {
	env := testenv.Get(t)
	serving := envtest.WebhookInstallOptions{LocalServingHost: "127.0.0.1"}
	require.NoError(t, serving.PrepWithoutInstalling())
	t.Cleanup(func() { _ = serving.Cleanup() })
	o := serverOptions(mutatetest.Case{})
	o.Host, o.Port, o.CertDir = serving.LocalServingHost, serving.LocalServingPort, serving.LocalServingCertDir
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

		h2 := &http.Client{Transport: &http2.Transport{TLSClientConfig: base()}}
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
		path string
		size int
	}{{webhook.Path, 7 << 20}, {identity.Path, 64 << 10}} {
		t.Run(fmt.Sprintf("a body of %d bytes to %s is refused unread", tc.size, tc.path), func(t *testing.T) {
			resp, err := client.Post("https://"+addr+tc.path, "application/json", bytes.NewReader(make([]byte, tc.size)))
			require.NoError(t, err)
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			assert.Equal(t, []any{http.StatusRequestEntityTooLarge, "request body too large\n"}, []any{resp.StatusCode, string(b)})
		})
	}
}
