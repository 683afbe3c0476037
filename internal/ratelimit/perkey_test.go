package ratelimit

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// Each key spends its own burst: one caller's requests never take another's.
func TestPerKeyGivesEachKeyItsOwnBurst(t *testing.T) {
	p := NewPerKey(time.Hour, 2)
	var got []bool
	for _, key := range []string{"a", "a", "b", "a", "b", "b", "c"} {
		got = append(got, p.Allow(key))
	}
	assert.Equal(t, []bool{true, true, true, false, true, false, true}, got)
}

func TestCallerIsTheAddressWithoutItsPort(t *testing.T) {
	for addr, want := range map[string]string{"10.0.0.7:41234": "10.0.0.7", "[fd00::7]:443": "fd00::7", "pipe": "pipe"} {
		assert.Equal(t, want, Caller(&http.Request{RemoteAddr: addr}), addr)
	}
}
