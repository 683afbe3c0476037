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

func TestFormatWarnings(t *testing.T) {
	long := func(c string) string { return strings.Repeat(c, 1000) }
	tests := []struct {
		name     string
		warnings []string
		want     string
	}{
		{"is empty for no warnings", nil, ""},
		{"writes one warning per line, in order", []string{`hotreload/signal: unknown signal "SIGFOO"; using SIGHUP`, "subPathExpr left alone"},
			"hotreload/signal: unknown signal \"SIGFOO\"; using SIGHUP\nsubPathExpr left alone"},
		{"writes a warning given twice once", []string{"a", "b", "a"}, "a\nb"},
		{"escapes control and format characters, newlines too", []string{"two\nlines \x1b[2J\u202e"}, `two\nlines \x1b[2J\u202e`},
		{"keeps the whole warnings that fit and says how many it left out", []string{long("a"), long("b"), long("c"), "d"},
			long("a") + "\n" + long("b") + "\n… 2 more warnings"},
		{"fills up to the limit when nothing is left out", []string{long("a"), long("b"), strings.Repeat("c", 46)},
			long("a") + "\n" + long("b") + "\n" + strings.Repeat("c", 46)},
		{"cuts a single warning over the limit", []string{strings.Repeat("x", 3000)}, strings.Repeat("x", MaxWarnings-len("…")) + "…"},
		{"cuts a first warning over the limit and counts the rest", []string{strings.Repeat("x", 3000), "y"},
			strings.Repeat("x", MaxWarnings-len("…\n… 1 more warning")) + "…\n… 1 more warning"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FormatWarnings(tt.warnings)
			assert.Equal(t, tt.want, got)
			assert.LessOrEqual(t, len(got), MaxWarnings)
		})
	}
}

func TestWarningsOf(t *testing.T) {
	tests := []struct {
		name string
		pod  map[string]string
		want []string
	}{
		{"is nil without the annotation", map[string]string{Injected: "v1"}, nil},
		{"reads one warning per line", map[string]string{Warnings: "a: b; using c\nd"}, []string{"a: b; using c", "d"}},
		{"skips blank lines", map[string]string{Warnings: "\na\n  \nb\n"}, []string{"a", "b"}},
		{"escapes what someone else wrote", map[string]string{Warnings: "a\x1b[2J\tb\r"}, []string{`a\x1b[2J\tb`}},
		{"reads back what FormatWarnings writes", map[string]string{Warnings: FormatWarnings([]string{"x\ny", "z"})}, []string{`x\ny`, "z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, WarningsOf(tt.pod))
		})
	}
}
