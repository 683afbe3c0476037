package webhook

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

// writeCert writes a self-signed certificate valid until notAfter as
// dir/tls.crt, as cert-manager and certs/ write it.
func writeCert(t *testing.T, dir string, notAfter time.Time) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "hotreload-webhook.hotreload-system.svc"},
		NotBefore: notAfter.Add(-90 * 24 * time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tls.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
}

// expiryText is the gauge as the metrics endpoint writes it, at notAfter.
func expiryText(notAfter time.Time) string {
	return fmt.Sprintf(`# HELP hotreload_serving_certificate_expiration_timestamp_seconds %s
# TYPE hotreload_serving_certificate_expiration_timestamp_seconds gauge
hotreload_serving_certificate_expiration_timestamp_seconds %d
`, certExpiryHelp, notAfter.Unix())
}

// The gauge is the notAfter of the certificate in the cert dir at each
// scrape: a rotated file is what the next scrape reads, and without a
// readable certificate there is no sample, rather than a time that would
// read as expired.
func TestTheCertificateGaugeFollowsTheCertDir(t *testing.T) {
	dir := t.TempDir()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(newCertExpiry(dir))

	first := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
	writeCert(t, dir, first)
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(expiryText(first))))

	rotated := first.Add(60 * 24 * time.Hour)
	writeCert(t, dir, rotated)
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(expiryText(rotated))), "the rotated certificate")

	require.NoError(t, os.WriteFile(filepath.Join(dir, "tls.crt"), []byte("not a certificate"), 0o600))
	n, err := testutil.GatherAndCount(reg)
	require.NoError(t, err)
	require.Zero(t, n, "no sample for a file that holds no certificate")

	require.NoError(t, os.Remove(filepath.Join(dir, "tls.crt")))
	n, err = testutil.GatherAndCount(reg)
	require.NoError(t, err)
	require.Zero(t, n, "no sample without the file")
}
