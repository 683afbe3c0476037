package annotations

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestShortenCutsOnARuneBoundary(t *testing.T) {
	assert.Equal(t, "short", Shorten("short", 10))
	assert.Equal(t, "abc…", Shorten("abcdefghij", 6))
	assert.Equal(t, "é…", Shorten("ééééé", 6), "a cut never splits a rune")
	long := Shorten(strings.Repeat("x", 5000), MaxFailedReason)
	assert.Len(t, long, MaxFailedReason)
	assert.LessOrEqual(t, len(FormatFailed("0123456789ab", long+" (at 2026-12-02T01:00:00Z)")), MaxFailed)
}

func TestPrintableEscapesControlAndFormatCharacters(t *testing.T) {
	assert.Equal(t, `nginx: \x1b[31m[emerg]\x1b[0m\n\tat \u202eline 12\r\x7f\u0085\x00; é, 🙂 and a \ stay`,
		Printable("nginx: \x1b[31m[emerg]\x1b[0m\n\tat \u202eline 12\r\x7f\u0085\x00; é, 🙂 and a \\ stay"))
	assert.Equal(t, "plain text", Printable("plain text"))
}
