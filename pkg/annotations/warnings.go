package annotations

import (
	"fmt"
	"slices"
	"strings"
)

// MaxWarnings bounds the Warnings annotation's value.
const MaxWarnings = 2048

// FormatWarnings formats the Warnings annotation's value: the warnings in
// order, each once and made Printable, one per line, as many whole ones as fit
// in MaxWarnings with the line "… N more warnings" that says how many were
// left out (a single warning longer than that is cut, ending in "…"). ""
// for none.
func FormatWarnings(warnings []string) string {
	var lines []string
	for _, w := range warnings {
		if w = Printable(w); !slices.Contains(lines, w) {
			lines = append(lines, w)
		}
	}
	// room for the line that says how many of lines after the i-th are left out
	room := func(i int) int {
		if n := len(lines) - i - 1; n > 0 {
			return len("\n" + moreWarnings(n))
		}
		return 0
	}
	var kept []string
	size := 0
	for i, w := range lines {
		n := len(w)
		if i > 0 {
			n++ // its newline
		}
		if size+n+room(i) > MaxWarnings {
			break
		}
		kept, size = append(kept, w), size+n
	}
	if len(kept) == 0 && len(lines) > 0 {
		kept = []string{Shorten(lines[0], MaxWarnings-room(0))}
	}
	if left := len(lines) - len(kept); left > 0 {
		kept = append(kept, moreWarnings(left))
	}
	return strings.Join(kept, "\n")
}

func moreWarnings(n int) string {
	if n == 1 {
		return "… 1 more warning"
	}
	return fmt.Sprintf("… %d more warnings", n)
}

// WarningsOf returns the warnings a pod was admitted with, from its Warnings
// annotation: one per non-blank line, each made Printable (the annotation
// may have been written by anyone who may patch the pod). Nil for none.
func WarningsOf(pod map[string]string) []string {
	var out []string
	for _, l := range strings.Split(pod[Warnings], "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, Printable(l))
		}
	}
	return out
}
