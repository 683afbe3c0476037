package webhook

import (
	"context"
	"crypto/tls"
	"net/http"
	"time"

	"golang.org/x/sync/semaphore"
)

// Limits bound what one caller of a webhook port can make it do: the port
// is reachable by whoever the NetworkPolicy admits, before any
// authentication, so each request's body, read time and share of the
// server are capped before its body is read.
type Limits struct {
	// MaxBody is the largest request body read; a larger one is answered
	// 413 without being read in full.
	MaxBody int64
	// ReadTimeout bounds the time to read a request's body (a slow upload
	// holds a slot no longer).
	ReadTimeout time.Duration
	// MaxInFlight requests are read and answered at once; QueueWait is how
	// long a request waits for a slot before it is answered 429.
	MaxInFlight int
	QueueWait   time.Duration
}

// AdmissionLimits are those of the admission path. The API server sends an
// AdmissionReview of one pod, under its own 3 MiB request limit; 64 of them
// at most are decoded at once (well inside the replica's 256 MiB), and a
// request waits up to 2 s, inside the webhook's 5 s timeout.
var AdmissionLimits = Limits{MaxBody: 3 << 20, ReadTimeout: 10 * time.Second, MaxInFlight: 64, QueueWait: 2 * time.Second}

// ExchangeLimits are those of the token exchange: a bearer token in a header
// and no body.
var ExchangeLimits = Limits{MaxBody: 4 << 10, ReadTimeout: 5 * time.Second, MaxInFlight: 32, QueueWait: time.Second}

// guard serves h within l.
func guard(l Limits, h http.Handler) http.Handler {
	slots := semaphore.NewWeighted(int64(max(l.MaxInFlight, 1)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		if r.ContentLength > l.MaxBody {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), l.QueueWait)
		err := slots.Acquire(ctx, 1)
		cancel()
		if err != nil {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "too many requests in flight", http.StatusTooManyRequests)
			return
		}
		defer slots.Release(1)
		if l.ReadTimeout > 0 {
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(l.ReadTimeout))
		}
		r.Body = http.MaxBytesReader(w, r.Body, l.MaxBody)
		h.ServeHTTP(w, r)
	})
}

// hardenTLS makes the listener speak HTTP/1.1 only (no HTTP/2, and so none of
// its stream-multiplexing attacks such as rapid reset, as kubebuilder's
// projects do) and TLS 1.2 or later, with, for TLS 1.2, only ECDHE key
// exchange and AEAD ciphers (forward secrecy; what the API server offers).
// TLS 1.3's suites are all of that kind and not configurable.
func hardenTLS(c *tls.Config) {
	c.NextProtos = []string{"http/1.1"}
	c.MinVersion = tls.VersionTLS12
	c.CipherSuites = []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	}
}

// orDefault returns l, or def where l is the zero value.
func (l Limits) orDefault(def Limits) Limits {
	if l == (Limits{}) {
		return def
	}
	return l
}
