package identity

import (
	"crypto/sha256"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/util/cache"

	"github.com/hotreload/hotreload/internal/ratelimit"
)

// Limits bound what the exchange spends for its callers. Each fresh
// exchange costs the API server a TokenReview, a TokenRequest, a pod GET and
// a pod PATCH; an app can read its sidecar's pod token and call the
// exchange in a loop, and anyone the NetworkPolicy admits can send junk.
//
//   - A pod token presented again while the reloader token issued for it
//     has more than half its lifetime left gets that token again, at no
//     cost: a sidecar restarted in a crash loop, or an app replaying the
//     token, costs nothing. A request that says "Cache-Control: no-cache"
//     (a sidecar whose token the API server refused) gets a fresh one,
//     within the pod's limit below.
//   - Each caller address gets CallerBurst reviews, then one per
//     CallerEvery: junk tokens cost at most that, and one caller's junk
//     does not delay another's exchange.
//   - Each pod gets PodBurst fresh exchanges, then one per PodEvery.
type Limits struct {
	CallerEvery time.Duration
	CallerBurst int
	PodEvery    time.Duration
	PodBurst    int
}

// DefaultLimits: a sidecar exchanges once every 48 minutes, and once at start.
var DefaultLimits = Limits{CallerEvery: 200 * time.Millisecond, CallerBurst: 20, PodEvery: 10 * time.Second, PodBurst: 3}

// limits is the state of Limits: a rate limiter per caller address and per
// pod UID, and the reloader token issued for each pod token while it may be
// given again, each bounded to ratelimit.MaxKeys entries.
type limits struct {
	callers, pods *ratelimit.PerKey
	// issued holds, by the SHA-256 of a pod token, the reloader token issued
	// for it, until it has half its lifetime left.
	issued *cache.LRUExpireCache
}

func newLimits(l Limits, now func() time.Time) *limits {
	if l == (Limits{}) {
		l = DefaultLimits
	}
	return &limits{callers: ratelimit.NewPerKey(l.CallerEvery, l.CallerBurst), pods: ratelimit.NewPerKey(l.PodEvery, l.PodBurst),
		issued: cache.NewLRUExpireCacheWithClock(ratelimit.MaxKeys, clockFunc(now))}
}

// clockFunc is a func as the clock of an LRUExpireCache.
type clockFunc func() time.Time

func (f clockFunc) Now() time.Time { return f() }

// reused returns the reloader token issued for podToken, while it has more
// than half its lifetime left.
func (l *limits) reused(podToken string) (*authenticationv1.TokenRequestStatus, bool) {
	st, ok := l.issued.Get(sha256.Sum256([]byte(podToken)))
	if !ok {
		return nil, false
	}
	return st.(*authenticationv1.TokenRequestStatus), true
}

// remember keeps the reloader token issued for podToken at now, to be given
// again until half its lifetime is left.
func (l *limits) remember(podToken string, st *authenticationv1.TokenRequestStatus, now time.Time) {
	if half := st.ExpirationTimestamp.Sub(now) / 2; half > 0 {
		l.issued.Add(sha256.Sum256([]byte(podToken)), st, half)
	}
}
