package reload

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// After a failure the pod's watch is tried again within 20 s at the most
// (10 s, stretched by up to as much again), not client-go's minute: the
// waits, jitter aside, and their bound with it.
func TestThePodsWatchIsTriedAgainWithinTwentySeconds(t *testing.T) {
	b := podWatchBackoff
	b.Jitter = 0
	var waits []time.Duration
	for range 8 {
		waits = append(waits, b.Step())
	}
	assert.Equal(t, []time.Duration{800 * time.Millisecond, 1600 * time.Millisecond, 3200 * time.Millisecond, 6400 * time.Millisecond,
		10 * time.Second, 10 * time.Second, 10 * time.Second, 10 * time.Second}, waits)
	b = podWatchBackoff
	for range 100 {
		assert.LessOrEqual(t, b.Step(), 20*time.Second)
	}
}
