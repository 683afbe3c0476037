package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

var now = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func parseCert(t *testing.T, data []byte) *x509.Certificate {
	t.Helper()
	block, rest := pem.Decode(data)
	require.NotNil(t, block, "PEM block")
	require.Empty(t, bytes.TrimSpace(rest), "one certificate per file")
	require.Equal(t, "CERTIFICATE", block.Type)
	c, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	return c
}

func readFile(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	require.NoError(t, err)
	return b
}

func TestGeneratedFilesFormAChainForTheServiceNames(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	require.NoError(t, run([]string{"--out", dir, "--service", "hr", "--namespace", "ops"}, &out, &out, now))
	require.Equal(t, "wrote a CA and a serving certificate for [hr.ops.svc hr.ops.svc.cluster.local] into "+dir+" (valid until 2027-11-24)\n", out.String())

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	modes := map[string]os.FileMode{}
	for _, e := range entries {
		info, err := e.Info()
		require.NoError(t, err)
		modes[e.Name()] = info.Mode().Perm()
	}
	require.Equal(t, map[string]os.FileMode{
		"ca.crt": 0o644, "tls.crt": 0o644, "tls.key": 0o600, "secret.yaml": 0o600, "cabundle-patch.yaml": 0o644,
	}, modes, "the files written and their modes")

	ca := parseCert(t, readFile(t, dir, FileCACert))
	cert := parseCert(t, readFile(t, dir, FileCert))

	require.True(t, ca.IsCA)
	require.True(t, ca.MaxPathLenZero)
	require.Equal(t, x509.KeyUsageCertSign|x509.KeyUsageCRLSign|x509.KeyUsageDigitalSignature, ca.KeyUsage)
	require.Equal(t, now.Add(-time.Minute), ca.NotBefore)
	require.Equal(t, now.Add(-time.Minute+5*365*24*time.Hour), ca.NotAfter)

	require.False(t, cert.IsCA)
	require.Equal(t, []string{"hr.ops.svc", "hr.ops.svc.cluster.local"}, cert.DNSNames)
	require.Empty(t, cert.IPAddresses)
	require.Equal(t, "hr.ops.svc", cert.Subject.CommonName)
	require.Equal(t, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, cert.ExtKeyUsage)
	require.Equal(t, now.Add(-time.Minute), cert.NotBefore)
	require.Equal(t, now.Add(-time.Minute+365*24*time.Hour), cert.NotAfter)
	require.Equal(t, x509.ECDSA, cert.PublicKeyAlgorithm)
	require.Equal(t, elliptic.P256(), cert.PublicKey.(*ecdsa.PublicKey).Curve)
	require.Equal(t, elliptic.P256(), ca.PublicKey.(*ecdsa.PublicKey).Curve)

	roots := x509.NewCertPool()
	roots.AddCert(ca)
	for _, name := range cert.DNSNames {
		_, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: name, CurrentTime: now.Add(time.Hour)})
		require.NoError(t, err, "the CA verifies the certificate for %s", name)
	}
	_, err = cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: "hr.other.svc", CurrentTime: now.Add(time.Hour)})
	require.ErrorAs(t, err, new(x509.HostnameError), "no other name")
	_, err = cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: "hr.ops.svc", CurrentTime: now.Add(366 * 24 * time.Hour)})
	require.ErrorAs(t, err, new(x509.CertificateInvalidError), "expired after a year")

	pair, err := tls.X509KeyPair(readFile(t, dir, FileCert), readFile(t, dir, FileKey))
	require.NoError(t, err, "tls.key is the key of tls.crt")
	require.IsType(t, &ecdsa.PrivateKey{}, pair.PrivateKey)

	b64 := func(name string) string { return base64.StdEncoding.EncodeToString(readFile(t, dir, name)) }
	var secret map[string]any
	require.NoError(t, yaml.Unmarshal(readFile(t, dir, FileSecret), &secret))
	require.Equal(t, map[string]any{
		"apiVersion": "v1",
		"kind":       "Secret",
		"type":       "kubernetes.io/tls",
		"metadata":   map[string]any{"name": "hotreload-webhook-tls", "namespace": "ops"},
		"data":       map[string]any{"tls.crt": b64(FileCert), "tls.key": b64(FileKey), "ca.crt": b64(FileCACert)},
	}, secret)
	var patch []map[string]any
	require.NoError(t, yaml.Unmarshal(readFile(t, dir, FileCAPatch), &patch))
	require.Equal(t, []map[string]any{{"op": "add", "path": "/webhooks/0/clientConfig/caBundle", "value": b64(FileCACert)}}, patch)
}

func TestRefusesToOverwriteWithoutForce(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	require.NoError(t, run([]string{"--out", dir}, &out, &out, now))
	before := readFile(t, dir, FileKey)

	err := run([]string{"--out", dir}, &out, &out, now)
	require.ErrorIs(t, err, ErrExists)
	require.EqualError(t, err, dir+" already holds [ca.crt tls.crt tls.key secret.yaml cabundle-patch.yaml]: refusing to overwrite them without --force")
	require.Equal(t, before, readFile(t, dir, FileKey), "nothing rewritten")

	require.NoError(t, os.Remove(filepath.Join(dir, FileCert)))
	require.ErrorIs(t, run([]string{"--out", dir}, &out, &out, now), ErrExists, "one remaining file is enough to refuse")

	require.NoError(t, run([]string{"--out", dir, "--force"}, &out, &out, now))
	require.NotEqual(t, before, readFile(t, dir, FileKey), "--force writes a new key")
}

func TestFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"asks for --out", nil, "--out is required"},
		{"refuses arguments", []string{"--out", "x", "extra"}, `unexpected arguments ["extra"]`},
		{"refuses a CA that expires first", []string{"--out", "x", "--ca-validity", "1h"}, "validity 8760h0m0s and CA validity 1h0m0s: want 0 < validity <= CA validity"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			require.EqualError(t, run(tc.args, &out, &out, now), tc.want)
		})
	}
	t.Run("prints help", func(t *testing.T) {
		var out bytes.Buffer
		err := run([]string{"--help"}, &out, &out, now)
		require.True(t, errors.Is(err, flag.ErrHelp))
		require.Contains(t, out.String(), "Usage: go run ./certs --out DIR [flags]")
	})
}
