//go:build integration

package webhook_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/hotreload/hotreload/internal/testenv"
	"github.com/hotreload/hotreload/internal/webhook"
	"github.com/hotreload/hotreload/pkg/mutate/mutatetest"
)

// A rotated serving certificate is served without a restart: replacing the
// files in --cert-dir, the way the kubelet updates a mounted Secret, changes
// the certificate the next TLS handshake sees, and the expiry the metrics
// give.
func TestIntegrationServerReloadsRotatedCertificate(t *testing.T) {
	env := testenv.Get(t)
	o := serverOptions(mutatetest.Case{})
	first := serveOnLoopback(t, &o)
	// A second certificate, to rotate to (its port is not used).
	second := serveOnLoopback(t, &webhook.ServerOptions{})
	reg := prometheus.NewRegistry()
	o.Registry = reg
	runManager(t, env, o, testr.New(t))

	addr := fmt.Sprintf("%s:%d", o.Host, o.Port)
	before, err := servedCertificate(addr)
	require.NoError(t, err)
	want := fileCertificate(t, second.LocalServingCertDir)
	require.NotEqual(t, want, before)
	require.Equal(t, []float64{notAfter(t, before)}, certificateExpiry(t, reg), "the served certificate's expiry")

	for _, f := range []string{"tls.key", "tls.crt"} {
		raw, err := os.ReadFile(filepath.Join(second.LocalServingCertDir, f))
		require.NoError(t, err)
		tmp := filepath.Join(first.LocalServingCertDir, "."+f)
		require.NoError(t, os.WriteFile(tmp, raw, 0o600))
		require.NoError(t, os.Rename(tmp, filepath.Join(first.LocalServingCertDir, f)))
	}
	require.Eventually(t, func() bool {
		got, err := servedCertificate(addr)
		return err == nil && got == want
	}, time.Minute, 100*time.Millisecond, "the server presents the rotated certificate")
	require.Equal(t, []float64{notAfter(t, want)}, certificateExpiry(t, reg), "the rotated certificate's expiry")
}

// notAfter is the expiry of the DER certificate der, as Unix time.
func notAfter(t *testing.T, der string) float64 {
	t.Helper()
	cert, err := x509.ParseCertificate([]byte(der))
	require.NoError(t, err)
	return float64(cert.NotAfter.Unix())
}

// certificateExpiry is the serving certificate's expiry gauge in reg, each
// sample.
func certificateExpiry(t *testing.T, reg *prometheus.Registry) []float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	var out []float64
	for _, mf := range mfs {
		if mf.GetName() == "hotreload_serving_certificate_expiration_timestamp_seconds" {
			for _, m := range mf.GetMetric() {
				out = append(out, m.GetGauge().GetValue())
			}
		}
	}
	return out
}

// servedCertificate returns the DER of the leaf certificate the server presents.
func servedCertificate(addr string) (string, error) {
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // reads the certificate, trusts nothing
	if err != nil {
		return "", err
	}
	defer conn.Close()
	return string(conn.ConnectionState().PeerCertificates[0].Raw), nil
}

func fileCertificate(t *testing.T, dir string) string {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"))
	require.NoError(t, err)
	return string(pair.Certificate[0])
}
