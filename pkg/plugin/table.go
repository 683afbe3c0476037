package plugin

import (
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/annotations"
)

// What the plugin prints from the cluster (names, causes, messages,
// annotations, who ran a command, a key's content) is text that whoever may
// write those objects chose, an app through its sidecar's identity among
// them. It reaches the terminal only as a table's cell or a printf argument,
// made printable (annotations.Printable), or as a diff's content line
// (contentLine): never a control character of its own. The plugin's own
// newlines, padding and colours are written as they are.

// printf is fmt.Fprintf with each string, error and Stringer argument made
// printable: the format is the plugin's own text, the arguments the
// cluster's.
func printf(w io.Writer, format string, args ...any) {
	for i, a := range args {
		switch v := a.(type) {
		case string:
			args[i] = annotations.Printable(v)
		case error:
			args[i] = annotations.Printable(v.Error())
		case fmt.Stringer:
			args[i] = annotations.Printable(v.String())
		}
	}
	fmt.Fprintf(w, format, args...)
}

// colour is an ANSI colour, or "" for none.
type colour string

const (
	green  colour = "\x1b[32m"
	yellow colour = "\x1b[33m"
	red    colour = "\x1b[31m"
	reset         = "\x1b[0m"
)

// paint returns s in colour c when on is true.
func paint(s string, c colour, on bool) string {
	if !on || c == "" || s == "" {
		return s
	}
	return string(c) + s + reset
}

// phaseColour is the colour of a phase: green when complete, yellow while
// it moves or is held, red when halted.
func phaseColour(p v1alpha1.Phase) colour {
	switch p {
	case v1alpha1.PhaseComplete:
		return green
	case v1alpha1.PhaseProgressing, v1alpha1.PhasePaused:
		return yellow
	case v1alpha1.PhaseHalted:
		return red
	}
	return ""
}

// cell is one cell of a table: its text and its colour.
type cell struct {
	text string
	c    colour
}

// table lays out rows in columns three spaces apart, as kubectl does. It is
// written here rather than with text/tabwriter because a tabwriter counts
// the bytes of colour escapes as width.
type table struct {
	indent string
	colour bool
	rows   [][]cell
}

// add appends a row of uncoloured cells.
func (t *table) add(texts ...string) {
	row := make([]cell, len(texts))
	for i, s := range texts {
		row[i] = cell{text: s}
	}
	t.rows = append(t.rows, row)
}

// addCells appends a row.
func (t *table) addCells(row ...cell) { t.rows = append(t.rows, row) }

// write prints the table, each cell made printable; the last column is not
// padded.
func (t *table) write(w io.Writer) {
	var widths []int
	for _, row := range t.rows {
		for i := range row {
			row[i].text = annotations.Printable(row[i].text)
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(row[i].text))
		}
	}
	for _, row := range t.rows {
		var b strings.Builder
		b.WriteString(t.indent)
		for i, c := range row {
			b.WriteString(paint(c.text, c.c, t.colour))
			if i < len(row)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c.text)+3))
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

// age is how long ago t was, as kubectl prints ages ("5m", "2d3h"); "-" for
// no time.
func age(t metav1.Time, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

// ago is age followed by " ago".
func ago(t metav1.Time, now time.Time) string {
	if t.IsZero() {
		return "at an unknown time"
	}
	return age(t, now) + " ago"
}

// humanBytes prints a size in bytes, KiB or MiB.
func humanBytes(n int64) string {
	switch {
	case n < 1024:
		return fmt.Sprintf("%d B", n)
	case n < 1024*1024:
		return fmt.Sprintf("%.1f KiB", float64(n)/1024)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1024*1024))
}

// shorten cuts s to n runes, ending it with "…" when cut.
func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// count is n and a noun, in the plural unless n is 1: "1 pod", "3 pods".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
