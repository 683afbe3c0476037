package annotations

import (
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Enabled reports whether a pod's labels opt it in.
func Enabled(podLabels map[string]string) bool {
	return podLabels[EnableLabel] == EnableValue
}

// InjectionEnabledFor reports whether a namespace's labels enable injection.
func InjectionEnabledFor(namespaceLabels map[string]string) bool {
	return namespaceLabels[InjectionLabel] == InjectionEnabled
}

// NeverServed are the namespaces hotreload never serves, whatever their
// labels: the control plane's and hotreload's own. The webhook's namespace
// selector (deploy/base/mutatingwebhook.yaml) and the controller's policies
// name them too.
var NeverServed = []string{"kube-system", "hotreload-system"}

// NamespaceServed reports whether hotreload serves a namespace: its labels
// enable injection, it is not being deleted, and it is not NeverServed.
func NamespaceServed(ns metav1.Object) bool {
	return ns.GetDeletionTimestamp() == nil && InjectionEnabledFor(ns.GetLabels()) && !slices.Contains(NeverServed, ns.GetName())
}

// InjectedOf returns the version that mutated the pod, and whether it was.
func InjectedOf(pod map[string]string) (version string, ok bool) {
	version, ok = pod[Injected]
	return version, ok
}

// ReleasedOf returns the revision the pod may apply now, or "" if none was released.
func ReleasedOf(pod map[string]string) string {
	return pod[Released]
}

// AppliedOf returns the revision the pod's process runs with, from its labels,
// or "" if none was applied.
func AppliedOf(podLabels map[string]string) string {
	return podLabels[Applied]
}

// AppliedAtOf returns when the applied revision was applied, and false when
// the annotation is absent or not RFC 3339.
func AppliedAtOf(pod map[string]string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339, pod[AppliedAt])
	return t, err == nil
}

// MaxFailed bounds the Failed annotation's value, as the reloader policy in
// deploy/ does; MaxFailedReason leaves room for the revision and a time.
const (
	MaxFailed       = 1024
	MaxFailedReason = 900
)

// FormatFailed formats the Failed annotation's value: "REVISION: reason".
func FormatFailed(revision, reason string) string {
	return revision + ": " + reason
}

// Shorten cuts s to at most n bytes, ending in "…" when it cuts, on a UTF-8
// boundary.
func Shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const ellipsis = "…"
	cut := max(n-len(ellipsis), 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}

// Printable escapes every control and format character of s (C0, DEL, C1,
// bidi overrides; newlines and tabs too) as Go quotes them: "\x1b", "\n",
// "\u202e". It is what hotreload/failed may hold (the reloader policy in
// deploy/ refuses any other value there), and what a terminal shows as
// written: text another program chose, made safe to print.
func Printable(s string) string {
	if !strings.ContainsFunc(s, unprintable) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unprintable(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func unprintable(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }

// FailedOf returns the revision and reason of a failed reload, and false when
// the pod has none.
func FailedOf(pod map[string]string) (revision, reason string, ok bool) {
	v, ok := pod[Failed]
	if !ok {
		return "", "", false
	}
	revision, reason, _ = strings.Cut(v, ": ")
	return revision, reason, true
}

// CandidatesOf returns the candidates a pod holds, by source ("ConfigMap/app"),
// from its Candidates annotation. Malformed entries are left out.
func CandidatesOf(pod map[string]string) map[string]string {
	return revisionsOf(pod[Candidates])
}

// PinnedOf returns the revisions a pod's references were pinned to, by
// source ("ConfigMap/app"), from its Pinned annotation. Malformed entries
// are left out.
func PinnedOf(pod map[string]string) map[string]string {
	return revisionsOf(pod[Pinned])
}

// revisionsOf reads "Kind/name=rev,..." (Candidates, Pinned).
func revisionsOf(v string) map[string]string {
	if v == "" {
		return nil
	}
	out := map[string]string{}
	for _, e := range strings.Split(v, ",") {
		src, rev, ok := strings.Cut(strings.TrimSpace(e), "=")
		if ok && src != "" && rev != "" {
			out[src] = rev
		}
	}
	return out
}

// FormatCandidates formats the Candidates (or Pinned) annotation's value,
// sources in order; "" for none.
func FormatCandidates(candidates map[string]string) string {
	srcs := make([]string, 0, len(candidates))
	for s := range candidates {
		srcs = append(srcs, s)
	}
	slices.Sort(srcs)
	for i, s := range srcs {
		srcs[i] = s + "=" + candidates[s]
	}
	return strings.Join(srcs, ",")
}
