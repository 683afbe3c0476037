package reloadertoken

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/client-go/rest"
)

// RefreshAt is the share of a token's lifetime after which Source exchanges
// again.
const RefreshAt = 0.8

// Source gives the sidecar a valid reloader token, exchanging its pod token
// at the controller when the cached one has lived RefreshAt of its lifetime.
type Source struct {
	// URL of the Exchanger, e.g. https://hotreload-webhook.hotreload-system.svc/reloader-token.
	URL string
	// Client reaches URL; it must trust the webhook's CA.
	Client *http.Client
	// PodTokenFile is the projected token of the pod's ServiceAccount with
	// audience mutate.TokenAudience; the kubelet rotates it, so it is read at each exchange.
	PodTokenFile string
	// Now is the clock (default time.Now).
	Now func() time.Time

	mu      sync.Mutex
	token   string
	refresh time.Time
}

// Token returns the cached token, or exchanges for a new one when it is due. If
// an exchange fails while the cached token has not expired, the cached token is
// returned with the error, so callers may keep working.
func (s *Source) Token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.token != "" && now.Before(s.refresh) {
		return s.token, nil
	}
	st, err := s.exchange(ctx)
	if err != nil {
		return s.token, err
	}
	issued := now
	s.token = st.Token
	s.refresh = issued.Add(time.Duration(RefreshAt * float64(st.ExpirationTimestamp.Sub(issued))))
	return s.token, nil
}

func (s *Source) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Source) exchange(ctx context.Context) (*authenticationv1.TokenRequestStatus, error) {
	pod, err := os.ReadFile(s.PodTokenFile)
	if err != nil {
		return nil, fmt.Errorf("reading the pod token: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(pod)))
	c := s.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("exchanging the pod token at %s: %w", s.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the answer of %s: %w", s.URL, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("exchanging the pod token at %s: %s: %s", s.URL, resp.Status, strings.TrimSpace(string(body)))
	}
	st := &authenticationv1.TokenRequestStatus{}
	if err := json.Unmarshal(body, st); err != nil || st.Token == "" {
		return nil, fmt.Errorf("exchanging the pod token at %s: no token in the answer", s.URL)
	}
	return st, nil
}

// Config returns a copy of base (the API server's address and CA) that
// authenticates every request with ts's token, and with nothing else.
func Config(base *rest.Config, ts *Source) *rest.Config {
	cfg := rest.AnonymousClientConfig(base)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return &bearer{ts: ts, next: rt}
	})
	return cfg
}

type bearer struct {
	ts   *Source
	next http.RoundTripper
}

func (b *bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	tok, err := b.ts.Token(r.Context())
	if tok == "" {
		return nil, err
	}
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+tok)
	return b.next.RoundTrip(r)
}
