package webhook

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/hotreload/hotreload/internal/identity"
	"github.com/hotreload/hotreload/internal/ratelimit"
)

// ScrapeLimits bound what one caller of the metrics port makes the webhook
// ask the API server: its authentication sends each bearer token it has not
// seen for a minute to a TokenReview, and each user to a
// SubjectAccessReview. Each client address gets Burst requests, then one per
// Every; past that it is answered 429, with Retry-After, unreviewed.
type ScrapeLimits struct {
	Every time.Duration
	Burst int
}

// DefaultScrapeLimits: a scraper every second or slower (Prometheus scrapes
// every 15 to 60 s) never meets them; junk from one address costs at most one
// TokenReview and one SubjectAccessReview a second.
var DefaultScrapeLimits = ScrapeLimits{Every: time.Second, Burst: 5}

// filterProvider is the type of metricsserver.Options.FilterProvider.
type filterProvider = func(*rest.Config, *http.Client) (metricsserver.Filter, error)

// limitScrapes puts authn, the filter that authenticates and authorises
// scrapes through the API server, behind l and identity.MaxTokenSize: a
// request over its caller's rate is answered 429, one with a larger token
// 431, before authn sees it. It keeps client addresses, nothing a caller sent.
func limitScrapes(l ScrapeLimits, authn filterProvider) filterProvider {
	return func(c *rest.Config, hc *http.Client) (metricsserver.Filter, error) {
		filter, err := authn(c, hc)
		if err != nil {
			return nil, err
		}
		callers := ratelimit.NewPerKey(l.Every, l.Burst)
		retryAfter := strconv.Itoa(int(math.Ceil(l.Every.Seconds())))
		return func(log logr.Logger, h http.Handler) (http.Handler, error) {
			authenticated, err := filter(log, h)
			if err != nil {
				return nil, err
			}
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tokenTooLarge(r.Header) {
					http.Error(w, identity.TokenTooLarge, http.StatusRequestHeaderFieldsTooLarge)
					return
				}
				if caller := ratelimit.Caller(r); !callers.Allow(caller) {
					w.Header().Set("Retry-After", retryAfter)
					http.Error(w, "too many requests from "+caller+"; try again later", http.StatusTooManyRequests)
					return
				}
				authenticated.ServeHTTP(w, r)
			}), nil
		}, nil
	}
}

// tokenTooLarge reports whether a value of h where the API server's delegated
// authentication reads a token (the Authorization header, a WebSocket
// subprotocol) is longer than "Bearer " and identity.MaxTokenSize.
func tokenTooLarge(h http.Header) bool {
	for _, key := range []string{"Authorization", "Sec-Websocket-Protocol"} {
		for _, v := range h.Values(key) {
			if len(v) > len("Bearer ")+identity.MaxTokenSize {
				return true
			}
		}
	}
	return false
}
