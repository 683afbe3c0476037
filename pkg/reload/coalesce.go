package reload

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Coalescer turns a stream of "released R" and "mounted R" events into applies
// of the newest target only: a burst applies once, with the newest revision,
// and an apply still waiting for its revision is cancelled when a newer one
// arrives, so an older revision never follows a newer one.
//
// With WaitRelease, only releases set the target; without it (rollout 100%),
// a newly mounted revision does too.
type Coalescer struct {
	WaitRelease bool
	// Debounce is the quiet period after an event before an apply starts;
	// 100ms when zero.
	Debounce time.Duration

	mu sync.Mutex
	// released is the last release seen, empty before the first.
	released string
	target   string
	gen      uint64
	applied  string
	// failed is the generation whose target failed to apply: it is not
	// tried again until a new target arrives.
	failed  uint64
	running string
	cancel  context.CancelFunc
	wake    chan struct{}
}

// NewCoalescer returns a Coalescer whose process already runs applied.
func NewCoalescer(waitRelease bool, applied string) *Coalescer {
	return &Coalescer{WaitRelease: waitRelease, applied: applied, target: applied, wake: make(chan struct{}, 1)}
}

// Released records that revision rev is released to this pod.
//
// Only a change of the released value counts: the pod's annotation is seen
// again on every update of the pod, and a value seen before must not pull the
// target back after a newer mounted revision was applied (rollout 100%). The
// first value seen counts where releases gate applies; without the gate the
// mounted files are what counts, and the first value is only remembered.
func (c *Coalescer) Released(rev string) {
	if rev == "" {
		return
	}
	c.mu.Lock()
	first, changed := c.released == "", rev != c.released
	c.released = rev
	c.mu.Unlock()
	if changed && (!first || c.WaitRelease) {
		c.set(rev)
	}
}

// Failed records that rev, released to this pod, failed here before this
// Coalescer started: it is not applied until another revision is released
// or mounted, as if this Coalescer had tried it.
func (c *Coalescer) Failed(rev string) {
	if rev == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.released, c.target = rev, rev
	c.gen++
	c.failed = c.gen
}

// Mounted records that the mounted sources are at revision rev.
func (c *Coalescer) Mounted(rev string) {
	if !c.WaitRelease {
		c.set(rev)
	}
}

// Applied returns the revision last applied.
func (c *Coalescer) Applied() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.applied
}

func (c *Coalescer) set(rev string) {
	if rev == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if rev == c.target {
		return
	}
	c.target = rev
	c.gen++
	if c.cancel != nil && c.running != rev {
		c.cancel() // superseded
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Run applies the newest target until ctx ends. apply gets a context that is
// cancelled when a newer target supersedes it; it must not swap the live copy
// after that. A successful apply records rev as applied; a failed one is not
// retried until a new target arrives.
func (c *Coalescer) Run(ctx context.Context, apply func(ctx context.Context, rev string) error) error {
	debounce := c.Debounce
	if debounce == 0 {
		debounce = 100 * time.Millisecond
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.wake:
		}
		// Wait for a quiet period so that a burst applies once.
		for {
			c.mu.Lock()
			gen := c.gen
			c.mu.Unlock()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(debounce):
			}
			c.mu.Lock()
			quiet := gen == c.gen
			c.mu.Unlock()
			if quiet {
				break
			}
		}
		for {
			c.mu.Lock()
			rev, gen := c.target, c.gen
			// A wake left from an earlier target may find this one applied,
			// or failed.
			if rev == c.applied || gen == c.failed {
				c.mu.Unlock()
				break
			}
			actx, cancel := context.WithCancel(ctx)
			c.running, c.cancel = rev, cancel
			c.mu.Unlock()

			err := apply(actx, rev)
			superseded := errors.Is(actx.Err(), context.Canceled) && ctx.Err() == nil
			cancel()
			c.mu.Lock()
			c.running, c.cancel = "", nil
			switch {
			case err == nil:
				c.applied = rev
			case isSwappedBack(err):
				// The previous live copy is live again: applied stands.
				c.failed = gen
			default:
				// A failed apply may have swapped the live copy before it
				// failed: what the app reads is no longer known to be the
				// last applied revision, so any later target, that one
				// included (a revert), is applied again.
				c.applied = ""
				if !superseded {
					c.failed = gen
				}
			}
			again := c.gen != gen
			c.mu.Unlock()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if !again && !superseded {
				break
			}
		}
	}
}
