package access

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hotreload/hotreload/pkg/contract"
)

// The annotations of the exchange's CA bundle ConfigMap.
const (
	// caCurrentAnnotation is the digest of the CA file the bundle was last
	// made from: a new digest is a rotation.
	caCurrentAnnotation = "hotreload.dev/ca-current"
	// caPreviousUntilAnnotation is when the CAs of before the last rotation
	// leave the bundle.
	caPreviousUntilAnnotation = "hotreload.dev/ca-previous-until"
)

// DefaultCAOverlap is how long the CAs of before a rotation stay in the
// bundle: longer than the kubelet takes to update a Secret in the webhook's
// pods (and a ConfigMap in the sidecars').
const DefaultCAOverlap = time.Hour

// maxBundleCerts bounds the CAs one bundle holds.
const maxBundleCerts = 4

// caBundle returns the ConfigMap data and annotations for the CA file's
// certificates current, given the ConfigMap as it is (nil when missing), and
// when to look again (zero: only on the next change). After a rotation the
// bundle holds the new CAs first, then the earlier ones that have not
// expired, until overlap has passed.
func caBundle(current []*x509.Certificate, have *corev1.ConfigMap, now time.Time, overlap time.Duration) (data string, ann map[string]string, again time.Time) {
	id := certsDigest(current)
	ann = map[string]string{caCurrentAnnotation: id}
	if have == nil {
		return encodeCerts(current), ann, time.Time{}
	}
	if have.Annotations[caCurrentAnnotation] == id {
		until, err := time.Parse(time.RFC3339, have.Annotations[caPreviousUntilAnnotation])
		if err != nil || !now.Before(until) {
			return encodeCerts(current), ann, time.Time{} // no earlier CA, or its time is up
		}
		ann[caPreviousUntilAnnotation] = have.Annotations[caPreviousUntilAnnotation]
		return have.Data[contract.ExchangeCAKey], ann, until
	}
	out := append([]*x509.Certificate(nil), current...)
	for _, c := range decodeCerts([]byte(have.Data[contract.ExchangeCAKey])) {
		if len(out) < maxBundleCerts && now.Before(c.NotAfter) && !containsCert(out, c) {
			out = append(out, c)
		}
	}
	if len(out) == len(current) {
		return encodeCerts(current), ann, time.Time{}
	}
	until := now.Add(overlap).UTC().Truncate(time.Second)
	ann[caPreviousUntilAnnotation] = until.Format(time.RFC3339)
	return encodeCerts(out), ann, until
}

// ensureCABundle writes the exchange's CA bundle ConfigMap of namespace from
// the CA file, and returns when to look again (zero: on the next change).
func (r *Reconciler) ensureCABundle(ctx context.Context, namespace string) (time.Time, error) {
	pemBytes, err := os.ReadFile(r.CAFile)
	if errors.Is(err, fs.ErrNotExist) {
		// A serving certificate without its CA (one the system roots
		// trust): the sidecars trust those.
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("reading the exchange's CA %s: %w", r.CAFile, err)
	}
	current := decodeCerts(pemBytes)
	if len(current) == 0 {
		return time.Time{}, fmt.Errorf("the exchange's CA %s holds no certificate", r.CAFile)
	}
	key := client.ObjectKey{Namespace: namespace, Name: contract.ExchangeCAConfigMap}
	have := &corev1.ConfigMap{}
	switch err := r.Reader.Get(ctx, key, have); {
	case apierrors.IsNotFound(err):
		have = nil
	case err != nil:
		return time.Time{}, fmt.Errorf("reading ConfigMap %s: %w", key, err)
	case have.Labels[ManagedByLabel] != ManagedBy:
		return time.Time{}, fmt.Errorf("ConfigMap %s is not hotreload's: the sidecars of %s trust only the CA of their environment", key, namespace)
	}
	now := time.Now()
	if r.Now != nil {
		now = r.Now()
	}
	overlap := r.CAOverlap
	if overlap <= 0 {
		overlap = DefaultCAOverlap
	}
	data, ann, again := caBundle(current, have, now, overlap)
	want := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: namespace, Labels: map[string]string{ManagedByLabel: ManagedBy}, Annotations: ann},
		Data:       map[string]string{contract.ExchangeCAKey: data},
	}
	if have == nil {
		if err := r.Client.Create(ctx, own(r, want)); err != nil && !apierrors.IsAlreadyExists(err) {
			return time.Time{}, fmt.Errorf("creating ConfigMap %s: %w", key, err)
		}
		return again, nil
	}
	if have.Data[contract.ExchangeCAKey] == data && have.Annotations[caCurrentAnnotation] == ann[caCurrentAnnotation] &&
		have.Annotations[caPreviousUntilAnnotation] == ann[caPreviousUntilAnnotation] && ownedBy(have, r.Owner) {
		return again, nil
	}
	want.ResourceVersion = have.ResourceVersion
	want.OwnerReferences = withOwner(have.OwnerReferences, r.Owner)
	if err := r.Client.Update(ctx, want); err != nil {
		return time.Time{}, fmt.Errorf("updating ConfigMap %s: %w", key, err)
	}
	return again, nil
}

func decodeCerts(data []byte) []*x509.Certificate {
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return out
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		if c, err := x509.ParseCertificate(b.Bytes); err == nil {
			out = append(out, c)
		}
	}
}

func encodeCerts(certs []*x509.Certificate) string {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return string(out)
}

func certsDigest(certs []*x509.Certificate) string {
	h := sha256.New()
	for _, c := range certs {
		h.Write(c.Raw)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func containsCert(certs []*x509.Certificate, c *x509.Certificate) bool {
	for _, have := range certs {
		if have.Equal(c) {
			return true
		}
	}
	return false
}
