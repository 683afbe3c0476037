//go:build integration

package webhook_test

import (
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/stretchr/testify/require"

	"github.com/hotreload/hotreload/internal/testenv"
	"github.com/hotreload/hotreload/internal/webhook"
	"github.com/hotreload/hotreload/pkg/mutate/mutatetest"
)

// A rotated serving certificate is served without a restart: replacing the
// files in --cert-dir, the way the kubelet updates a mounted Secret, changes
// the certificate the next TLS handshake sees.
func TestIntegrationServerReloadsRotatedCertificate(t *testing.T) {
	env := testenv.Get(t)
	o := serverOptions(mutatetest.Case{})
	first := serveOnLoopback(t, &o)
	// A second certificate, to rotate to (its port is not used).
	second := serveOnLoopback(t, &webhook.ServerOptions{})
	runManager(t, env, o, testr.New(t))

	addr := fmt.Sprintf("%s:%d", o.Host, o.Port)
	before, err := servedCertificate(addr)
	require.NoError(t, err)
	want := fileCertificate(t, second.LocalServingCertDir)
	require.NotEqual(t, want, before)

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
