package annotations

import (
	"fmt"
	"strings"
)

// Warning reports a malformed value: the key, the value, what is wrong with it
// and what is used instead. Its String reads well among `kubectl apply`'s
// warnings, e.g.
//
//	hotreload/signal: unknown signal "SIGFOO"; using SIGHUP
//	hotreload/signal: unknown signal "SIGFOO" for container "php-fpm"; using SIGHUP
type Warning struct {
	Key string
	// Namespace is true when the value came from the namespace's annotation.
	Namespace bool
	Value     string
	// Container, when set, is the container whose entry of a per-container
	// list held Value.
	Container string
	// Problem describes the value, and reads before it: "unknown signal".
	Problem string
	// Detail, when set, explains the problem after the value.
	Detail string
	// Used is what hotreload uses instead.
	Used string
}

// String formats the warning as one line.
func (w Warning) String() string {
	var b strings.Builder
	if w.Namespace {
		b.WriteString("namespace annotation ")
	}
	fmt.Fprintf(&b, "%s: %s %q", w.Key, w.Problem, w.Value)
	if w.Container != "" {
		fmt.Fprintf(&b, " for container %q", w.Container)
	}
	if w.Detail != "" {
		b.WriteString(": ")
		b.WriteString(w.Detail)
	}
	b.WriteString("; using ")
	b.WriteString(w.Used)
	return b.String()
}

// Strings formats warnings one per string, in order.
func Strings(ws []Warning) []string {
	if len(ws) == 0 {
		return nil
	}
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.String()
	}
	return out
}

// value returns the trimmed value of key in m, and whether it is set to a
// non-blank value. A blank value counts as absent.
func value(m map[string]string, key string) (string, bool) {
	v, ok := m[key]
	v = strings.TrimSpace(v)
	return v, ok && v != ""
}

// list splits a comma-separated value into its trimmed, non-empty elements.
func list(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
