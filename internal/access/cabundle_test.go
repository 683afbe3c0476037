package access

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hotreload/hotreload/pkg/contract"
)

var t0 = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

// newCA returns a self-signed CA certificate valid until notAfter.
func newCA(t *testing.T, name string, notAfter time.Time) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, NotBefore: notAfter.Add(-365 * 24 * time.Hour), NotAfter: notAfter,
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	c, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return c
}

// PEMCA returns a self-signed CA certificate in PEM, valid for an hour from
// now (for the integration tests of package access_test).
func PEMCA(t *testing.T, name string) []byte {
	return []byte(encodeCerts([]*x509.Certificate{newCA(t, name, time.Now().Add(time.Hour))}))
}

func TestCABundleKeepsTheCAsOfBeforeARotationForTheOverlap(t *testing.T) {
	a, b, c := newCA(t, "a", t0.Add(90*24*time.Hour)), newCA(t, "b", t0.Add(90*24*time.Hour)), newCA(t, "c", t0.Add(90*24*time.Hour))
	expired := newCA(t, "expired", t0.Add(-time.Minute))
	cm := func(data string, ann map[string]string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Annotations: ann}, Data: map[string]string{contract.ExchangeCAKey: data}}
	}
	until := t0.Add(time.Hour).Format(time.RFC3339)
	type result struct {
		data  string
		ann   map[string]string
		again time.Time
	}
	for _, tc := range []struct {
		name    string
		current []*x509.Certificate
		have    *corev1.ConfigMap
		now     time.Time
		want    result
	}{
		{"the first bundle is the CA file", []*x509.Certificate{a}, nil, t0,
			result{encodeCerts([]*x509.Certificate{a}), map[string]string{caCurrentAnnotation: certsDigest([]*x509.Certificate{a})}, time.Time{}}},
		{"the same CA file leaves it as it is", []*x509.Certificate{a}, cm(encodeCerts([]*x509.Certificate{a}), map[string]string{caCurrentAnnotation: certsDigest([]*x509.Certificate{a})}), t0,
			result{encodeCerts([]*x509.Certificate{a}), map[string]string{caCurrentAnnotation: certsDigest([]*x509.Certificate{a})}, time.Time{}}},
		{"a rotation puts the new CA first and keeps the old one for the overlap", []*x509.Certificate{b},
			cm(encodeCerts([]*x509.Certificate{a, expired}), map[string]string{caCurrentAnnotation: certsDigest([]*x509.Certificate{a})}), t0,
			result{encodeCerts([]*x509.Certificate{b, a}), map[string]string{caCurrentAnnotation: certsDigest([]*x509.Certificate{b}), caPreviousUntilAnnotation: until}, t0.Add(time.Hour)}},
		{"during the overlap nothing changes", []*x509.Certificate{b},
			cm(encodeCerts([]*x509.Certificate{b, a}), map[string]string{caCurrentAnnotation: certsDigest([]*x509.Certificate{b}), caPreviousUntilAnnotation: until}), t0.Add(30 * time.Minute),
			result{encodeCerts([]*x509.Certificate{b, a}), map[string]string{caCurrentAnnotation: certsDigest([]*x509.Certificate{b}), caPreviousUntilAnnotation: until}, t0.Add(time.Hour)}},
		{"after the overlap the old CA goes", []*x509.Certificate{b},
			cm(encodeCerts([]*x509.Certificate{b, a}), map[string]string{caCurrentAnnotation: certsDigest([]*x509.Certificate{b}), caPreviousUntilAnnotation: until}), t0.Add(time.Hour),
			result{encodeCerts([]*x509.Certificate{b}), map[string]string{caCurrentAnnotation: certsDigest([]*x509.Certificate{b})}, time.Time{}}},
		{"a second rotation within the overlap keeps both earlier CAs", []*x509.Certificate{c},
			cm(encodeCerts([]*x509.Certificate{b, a}), map[string]string{caCurrentAnnotation: certsDigest([]*x509.Certificate{b}), caPreviousUntilAnnotation: until}), t0.Add(10 * time.Minute),
			result{encodeCerts([]*x509.Certificate{c, b, a}), map[string]string{caCurrentAnnotation: certsDigest([]*x509.Certificate{c}),
				caPreviousUntilAnnotation: t0.Add(70 * time.Minute).Format(time.RFC3339)}, t0.Add(70 * time.Minute)}},
		{"a ConfigMap edited by hand holds nothing usable: the CA file alone", []*x509.Certificate{b}, cm("junk", nil), t0,
			result{encodeCerts([]*x509.Certificate{b}), map[string]string{caCurrentAnnotation: certsDigest([]*x509.Certificate{b})}, time.Time{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, ann, again := caBundle(tc.current, tc.have, tc.now, time.Hour)
			assert.Equal(t, tc.want, result{data, ann, again})
		})
	}
}
