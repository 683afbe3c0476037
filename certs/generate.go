package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"
)

// Options says what to generate.
type Options struct {
	// Service and Namespace name the webhook's Service; the serving certificate is
	// valid for <Service>.<Namespace>.svc and <Service>.<Namespace>.svc.<ClusterDomain>.
	Service, Namespace, ClusterDomain string
	// Validity of the serving certificate and of the CA.
	Validity, CAValidity time.Duration
	// Now is the start of validity (backdated by a minute for clock skew).
	Now time.Time
}

// Bundle is a generated CA and serving certificate, PEM-encoded. The CA's key is
// not kept: a new bundle comes with a new CA.
type Bundle struct {
	CACert, Cert, Key []byte
}

// DNSNames are the names the serving certificate is valid for.
func (o Options) DNSNames() []string {
	svc := o.Service + "." + o.Namespace + ".svc"
	return []string{svc, svc + "." + o.ClusterDomain}
}

// Generate creates an ECDSA P-256 CA and a serving certificate it signs.
func Generate(o Options) (*Bundle, error) {
	if o.Validity <= 0 || o.CAValidity < o.Validity {
		return nil, fmt.Errorf("validity %s and CA validity %s: want 0 < validity <= CA validity", o.Validity, o.CAValidity)
	}
	start := o.Now.Add(-time.Minute)

	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating the CA key: %w", err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "hotreload-webhook-ca", Organization: []string{"hotreload"}},
		NotBefore:             start,
		NotAfter:              start.Add(o.CAValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("signing the CA certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating the serving key: %w", err)
	}
	names := o.DNSNames()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: names[0], Organization: []string{"hotreload"}},
		DNSNames:     names,
		NotBefore:    start,
		NotAfter:     start.Add(o.Validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("signing the serving certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return &Bundle{
		CACert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		Cert:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		Key:    pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}, nil
}

// serial is a random 128-bit serial number, as RFC 5280 recommends.
func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return n
}
