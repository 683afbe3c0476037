package reloadertoken

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// authority is a CA and a serving certificate it signed for 127.0.0.1.
type authority struct {
	caPEM []byte
	cert  tls.Certificate
}

func newAuthority(t *testing.T, name string) authority {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	leafDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "exchange"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}, ca, &key.PublicKey, caKey)
	require.NoError(t, err)
	return authority{
		caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		cert:  tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: key},
	}
}

// A sidecar trusts the exchange's CA bundle file as it is at each exchange:
// after the webhook's CA is rotated, the bundle the kubelet updates (old and
// new CA) is trusted without a restart; the CA of its environment stays
// trusted alongside.
func TestAnExchangeTrustsTheCABundleFileAsItIsNow(t *testing.T) {
	old, rotated := newAuthority(t, "old"), newAuthority(t, "new")
	var serving atomic.Pointer[tls.Certificate]
	serving.Store(&old.cert)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(authenticationv1.TokenRequestStatus{Token: "reloader", ExpirationTimestamp: metav1.NewTime(time.Now().Add(time.Hour))})
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		_ = srv.Serve(tls.NewListener(ln, &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return serving.Load(), nil }}))
	}()
	t.Cleanup(func() { _ = srv.Close() })
	url := "https://" + ln.Addr().String()

	dir := t.TempDir()
	podToken, bundle := filepath.Join(dir, "token"), filepath.Join(dir, "exchange-ca.crt")
	require.NoError(t, os.WriteFile(podToken, []byte("pod"), 0o600))
	require.NoError(t, os.WriteFile(bundle, old.caPEM, 0o600))
	e := &Exchange{URL: url, PodTokenFile: podToken, CAFile: bundle}
	exchange := func() error {
		_, err := e.Token()
		return err
	}

	require.NoError(t, exchange(), "the bundle's CA signed the serving certificate")
	serving.Store(&rotated.cert)
	err = exchange()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "certificate signed by unknown authority", "the new CA is not trusted yet")
	require.NoError(t, os.WriteFile(bundle, append(append([]byte{}, rotated.caPEM...), old.caPEM...), 0o600))
	require.NoError(t, exchange(), "the updated bundle is read at the next exchange")
	serving.Store(&old.cert)
	require.NoError(t, exchange(), "during the overlap both CAs are trusted")

	require.NoError(t, os.Remove(bundle))
	e.CA = rotated.caPEM
	serving.Store(&rotated.cert)
	require.NoError(t, exchange(), "without the file, the environment's CA")
	e.CAFile = filepath.Join(dir, "junk")
	require.NoError(t, os.WriteFile(e.CAFile, []byte(strings.Repeat("junk", 10)), 0o600))
	require.NoError(t, exchange(), "a bundle file of no certificate adds none, and takes none away")
}
