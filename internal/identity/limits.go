package identity

import (
	"crypto/sha256"
	"maps"
	"sync"
	"time"

	"golang.org/x/time/rate"
	authenticationv1 "k8s.io/api/authentication/v1"
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

// maxTracked bounds the callers, pods and tokens the limits remember; past
// it they start again.
const maxTracked = 10000

// limits is the state of Limits.
type limits struct {
	Limits
	mu      sync.Mutex
	callers map[string]*rate.Limiter
	pods    map[string]*rate.Limiter
	issued  map[[sha256.Size]byte]issued
}

type issued struct {
	status *authenticationv1.TokenRequestStatus
	reuse  time.Time // until when it is given again
}

func newLimits(l Limits) *limits {
	if l == (Limits{}) {
		l = DefaultLimits
	}
	return &limits{Limits: l}
}

// allow reports whether key may spend one more of its tokens in m.
func (l *limits) allow(m *map[string]*rate.Limiter, key string, every time.Duration, burst int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if *m == nil || len(*m) >= maxTracked {
		*m = map[string]*rate.Limiter{}
	}
	lim := (*m)[key]
	if lim == nil {
		lim = rate.NewLimiter(rate.Every(every), burst)
		(*m)[key] = lim
	}
	return lim.Allow()
}

func (l *limits) allowCaller(addr string) bool {
	return l.allow(&l.callers, addr, l.CallerEvery, l.CallerBurst)
}

func (l *limits) allowPod(uid string) bool {
	return l.allow(&l.pods, uid, l.PodEvery, l.PodBurst)
}

// reused returns the reloader token issued for podToken, while it has more
// than half its lifetime left.
func (l *limits) reused(podToken string, now time.Time) (*authenticationv1.TokenRequestStatus, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.issued[sha256.Sum256([]byte(podToken))]
	if !ok || !now.Before(e.reuse) {
		return nil, false
	}
	return e.status, true
}

// remember keeps the reloader token issued for podToken at now.
func (l *limits) remember(podToken string, st *authenticationv1.TokenRequestStatus, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.issued) >= maxTracked {
		maps.DeleteFunc(l.issued, func(_ [sha256.Size]byte, e issued) bool { return !now.Before(e.reuse) })
		if len(l.issued) >= maxTracked {
			clear(l.issued)
		}
	}
	if l.issued == nil {
		l.issued = map[[sha256.Size]byte]issued{}
	}
	half := st.ExpirationTimestamp.Sub(now) / 2
	l.issued[sha256.Sum256([]byte(podToken))] = issued{status: st, reuse: now.Add(half)}
}
