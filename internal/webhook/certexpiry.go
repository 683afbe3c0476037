package webhook

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"
)

const certExpiryHelp = "When the serving certificate (tls.crt in --cert-dir, served on the admission, exchange and metrics ports) expires, as Unix time: its notAfter, read at each scrape. Absent while the file holds no certificate."

// certExpiry is a collector of the serving certificate's expiry. It reads
// the file at each scrape, so it follows a rotation as the servers do
// (cert-manager or the kubelet replace the file), with nothing to watch.
type certExpiry struct {
	file string
	desc *prometheus.Desc
}

var _ prometheus.Collector = (*certExpiry)(nil)

// newCertExpiry collects the expiry of certDir's tls.crt.
func newCertExpiry(certDir string) *certExpiry {
	return &certExpiry{
		file: filepath.Join(certDir, "tls.crt"),
		desc: prometheus.NewDesc("hotreload_serving_certificate_expiration_timestamp_seconds", certExpiryHelp, nil, nil),
	}
}

func (c *certExpiry) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect sends the notAfter of the file's first certificate, the server's
// own (a chain follows it); nothing when there is none.
func (c *certExpiry) Collect(ch chan<- prometheus.Metric) {
	cert, err := firstCertificate(c.file)
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(cert.NotAfter.Unix()))
}

// firstCertificate parses the first PEM certificate of file.
func firstCertificate(file string) (*x509.Certificate, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	for {
		var block *pem.Block
		if block, data = pem.Decode(data); block == nil {
			return nil, errors.New("no PEM certificate in " + file)
		}
		if block.Type == "CERTIFICATE" {
			return x509.ParseCertificate(block.Bytes)
		}
	}
}
