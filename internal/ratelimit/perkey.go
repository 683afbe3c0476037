package ratelimit

import (
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
	"k8s.io/utils/lru"
)

// MaxKeys bounds the keys a PerKey remembers; past it the least recently
// seen go first, and start again with a full bucket.
const MaxKeys = 10000

// PerKey gives each key Burst requests, then one per Every.
type PerKey struct {
	every time.Duration
	burst int
	mu    sync.Mutex // a bucket is looked up and added at once
	keys  *lru.Cache // key -> *rate.Limiter
}

// NewPerKey returns a PerKey of burst requests, then one per every, for
// each key.
func NewPerKey(every time.Duration, burst int) *PerKey {
	return &PerKey{every: every, burst: burst, keys: lru.New(MaxKeys)}
}

// Allow reports whether key may make one more request now, and counts it.
func (p *PerKey) Allow(key string) bool {
	p.mu.Lock()
	lim, ok := p.keys.Get(key)
	if !ok {
		lim = rate.NewLimiter(rate.Every(p.every), p.burst)
		p.keys.Add(key, lim)
	}
	p.mu.Unlock()
	return lim.(*rate.Limiter).Allow()
}

// Caller is the address r came from, without its port.
func Caller(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
