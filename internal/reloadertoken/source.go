package reloadertoken

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/transport"
)

// RefreshAt is the share of a token's lifetime after which it is exchanged
// again.
const RefreshAt = 0.8

// Exchange trades the pod's audience-scoped token at the controller for a
// reloader token, once per call of Token. Source caches what it returns.
type Exchange struct {
	// URL of the Exchanger, e.g. https://hotreload-webhook.hotreload-system.svc/reloader-token.
	URL string
	// Client reaches URL; it must trust the webhook's CA. It should bound
	// each request (Timeout): Token has no context. When nil, each exchange
	// builds one that trusts CAFile and CA.
	Client *http.Client
	// CAFile is a CA bundle read at each exchange, so that it follows a
	// rotation of the webhook's CA (contract.ExchangeCAFile); CA is one read
	// once (contract.ExchangeCAEnv). Both are trusted; with neither, the
	// system roots are.
	CAFile string
	CA     []byte
	// PodTokenFile is the projected token of the pod's ServiceAccount with
	// audience contract.TokenAudience; the kubelet rotates it, so it is read
	// at each exchange.
	PodTokenFile string
	// Now is the clock (default time.Now).
	Now func() time.Time

	// exchanged is set once an exchange succeeded: every later one asks
	// for a token the exchange has not handed out before.
	exchanged atomic.Bool
}

var _ oauth2.TokenSource = (*Exchange)(nil)

// Token exchanges the pod token. The token it returns expires, for its
// cache, at RefreshAt of its lifetime, so that it is exchanged again while
// the old one still works.
//
// The exchange hands a pod token it has seen before the reloader token it
// issued for it, so that a sidecar restarted in a loop costs nothing. Once e
// has had a token, though, it is asked again only because that token is due
// or because the API server refused it (Config drops it on a 401, e.g. when
// the reloader's ServiceAccount was replaced): every later exchange says
// "Cache-Control: no-cache", and gets a new one.
func (e *Exchange) Token() (*oauth2.Token, error) {
	now := time.Now
	if e.Now != nil {
		now = e.Now
	}
	issued := now()
	st, err := e.exchange(context.Background())
	if err != nil {
		return nil, err
	}
	refresh := issued.Add(time.Duration(RefreshAt * float64(st.ExpirationTimestamp.Sub(issued))))
	return &oauth2.Token{AccessToken: st.Token, TokenType: "Bearer", Expiry: refresh}, nil
}

func (e *Exchange) exchange(ctx context.Context) (*authenticationv1.TokenRequestStatus, error) {
	pod, err := os.ReadFile(e.PodTokenFile)
	if err != nil {
		return nil, fmt.Errorf("reading the pod token: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(pod)))
	if e.exchanged.Load() {
		req.Header.Set("Cache-Control", "no-cache")
	}
	c := e.Client
	if c == nil {
		c = e.newClient()
		defer c.CloseIdleConnections()
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("exchanging the pod token at %s: %w", e.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the answer of %s: %w", e.URL, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("exchanging the pod token at %s: %s: %s", e.URL, resp.Status, strings.TrimSpace(string(body)))
	}
	st := &authenticationv1.TokenRequestStatus{}
	if err := json.Unmarshal(body, st); err != nil || st.Token == "" {
		return nil, fmt.Errorf("exchanging the pod token at %s: no token in the answer", e.URL)
	}
	e.exchanged.Store(true)
	return st, nil
}

// Source returns e's tokens cached until they are due (client-go's caching
// token source): a failed exchange keeps the token it had, which still works
// for the rest of its lifetime.
func Source(e *Exchange) transport.ResettableTokenSource {
	return transport.NewCachedTokenSource(e)
}

// Config returns a copy of base (the API server's address and CA) that
// authenticates every request with ts's token, and with nothing else. A 401
// from the API server drops the cached token, so the next request exchanges
// again.
func Config(base *rest.Config, ts transport.ResettableTokenSource) *rest.Config {
	cfg := rest.AnonymousClientConfig(base)
	cfg.Wrap(transport.ResettableTokenSourceWrapTransport(ts))
	return cfg
}

// newClient returns a client for one exchange, trusting the CA bundles of
// CAFile, as it is now, and CA.
func (e *Exchange) newClient() *http.Client {
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	pool := x509.NewCertPool()
	ok := false
	if e.CAFile != "" {
		if pem, err := os.ReadFile(e.CAFile); err == nil {
			ok = pool.AppendCertsFromPEM(pem)
		}
	}
	if len(e.CA) > 0 && pool.AppendCertsFromPEM(e.CA) {
		ok = true
	}
	if ok {
		tlsCfg.RootCAs = pool
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsCfg}}
}
