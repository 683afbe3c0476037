package testenv

import (
	"net/http"
	"strings"
	"sync/atomic"

	"k8s.io/client-go/rest"
)

// TokenReviews counts the TokenReviews sent by the clients of the configs it
// wraps: what a caller made hotreload ask the API server.
type TokenReviews struct{ n atomic.Int64 }

// Count is how many were sent so far.
func (c *TokenReviews) Count() int { return int(c.n.Load()) }

// Wrap returns a copy of cfg whose requests are counted.
func (c *TokenReviews) Wrap(cfg *rest.Config) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripper(func(r *http.Request) (*http.Response, error) {
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/tokenreviews") {
				c.n.Add(1)
			}
			return rt.RoundTrip(r)
		})
	})
	return cfg
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
