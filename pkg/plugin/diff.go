package plugin

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/contract"
	"github.com/hotreload/hotreload/pkg/revision"
)

// content is what a kept revision holds: a ConfigMap's data and
// binaryData, or a Secret's data (in Binary).
type content struct {
	Data   map[string]string
	Binary map[string][]byte
}

// value returns key's bytes, whether it is binary (a ConfigMap's binaryData
// or any Secret key), and whether it is there.
func (c content) value(key string) (b []byte, binary, ok bool) {
	if s, ok := c.Data[key]; ok {
		return []byte(s), false, true
	}
	b, ok = c.Binary[key]
	return b, true, ok
}

// revisionSide is one side of a diff: a revision and its content.
type revisionSide struct {
	Rev     string
	Role    string // "stable", "candidate" or ""
	Content content
}

func (r revisionSide) String() string {
	if r.Role == "" {
		return r.Rev
	}
	return r.Rev + " (" + r.Role + ")"
}

// diffContext is how many lines of context a unified diff shows.
const diffContext = 3

// renderDiff prints what changed from revision a to revision b of source s,
// key by key. A ConfigMap's text keys get a unified diff; its binaryData
// keys and every key of a Secret get their sizes only: a Secret's values,
// and digests of them, are never printed.
func renderDiff(w io.Writer, s source, a, b revisionSide, colour bool) {
	printf(w, "%s: revision %s → %s\n", s, a, b)
	keys := map[string]bool{}
	for _, c := range []content{a.Content, b.Content} {
		for k := range c.Data {
			keys[k] = true
		}
		for k := range c.Binary {
			keys[k] = true
		}
	}
	var unchanged []string
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		av, abin, aok := a.Content.value(k)
		bv, bbin, bok := b.Content.value(k)
		sizesOnly := s.Kind == v1alpha1.SourceSecret || abin && aok || bbin && bok
		switch {
		case aok && bok && bytes.Equal(av, bv) && abin == bbin:
			unchanged = append(unchanged, k)
		case sizesOnly && !aok:
			printf(w, "\nadded key %s: %d bytes\n", k, len(bv))
		case sizesOnly && !bok:
			printf(w, "\nremoved key %s: %d bytes\n", k, len(av))
		case sizesOnly:
			printf(w, "\nchanged key %s: %d → %d bytes\n", k, len(av), len(bv))
		default:
			writeKeyDiff(w, k, a, b, colour)
		}
	}
	if len(unchanged) > 0 {
		printf(w, "\nunchanged keys: %s\n", strings.Join(unchanged, ", "))
	}
}

// writeKeyDiff prints a unified diff of a ConfigMap's text key.
func writeKeyDiff(w io.Writer, key string, a, b revisionSide, colour bool) {
	av, aok := a.Content.Data[key]
	bv, bok := b.Content.Data[key]
	d := difflib.UnifiedDiff{A: lines(av), B: lines(bv), FromFile: "a/" + key + "@" + a.Rev, ToFile: "b/" + key + "@" + b.Rev, Context: diffContext}
	verb := "changed"
	switch {
	case !aok:
		verb, d.FromFile = "added", "/dev/null"
	case !bok:
		verb, d.ToFile = "removed", "/dev/null"
	}
	text, _ := difflib.GetUnifiedDiffString(d) // writes to memory: cannot fail
	if text == "" {
		printf(w, "\n%s key %s: only its final newline (%d → %d bytes)\n", verb, key, len(av), len(bv))
		return
	}
	printf(w, "\n%s key %s:\n", verb, key)
	for _, l := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		l = contentLine(l)
		switch {
		case strings.HasPrefix(l, "+++"), strings.HasPrefix(l, "---"):
		case strings.HasPrefix(l, "+"):
			l = paint(l, green, colour)
		case strings.HasPrefix(l, "-"):
			l = paint(l, red, colour)
		}
		fmt.Fprintln(w, l)
	}
}

// contentLine makes a line of a diff printable but for its tabs, which are
// the config's own text and move a terminal's cursor forward only.
func contentLine(l string) string {
	parts := strings.Split(l, "\t")
	for i, p := range parts {
		parts[i] = annotations.Printable(p)
	}
	return strings.Join(parts, "\t")
}

// lines splits s into lines that each end in a newline, for difflib.
func lines(s string) []string {
	if s == "" {
		return nil
	}
	out := strings.SplitAfter(s, "\n")
	if out[len(out)-1] == "" {
		out = out[:len(out)-1]
	} else {
		out[len(out)-1] += "\n"
	}
	return out
}

// notKeptError says that a revision's content is gone, and why it may be.
func notKeptError(s source, rev string) error {
	return fmt.Errorf("revision %s of %s is not kept (hotreload keeps the last 5 revisions, and none over 256 KiB but stable and candidate); see kubectl hotreload history %s", rev, s, s)
}

// readKept reads the content of revision rev of source s from the object
// that keeps it. An object of that name that hotreload did not make, or
// labelled with another revision, does not count; one whose content does not
// hash to rev (changed by someone else) is an error.
func readKept(ctx context.Context, c client.Reader, ns string, s source, rev string) (content, error) {
	key := client.ObjectKey{Namespace: ns, Name: contract.RevisionName(s.Name, rev)}
	var obj client.Object = &corev1.ConfigMap{}
	if s.Kind == v1alpha1.SourceSecret {
		obj = &corev1.Secret{}
	}
	err := c.Get(ctx, key, obj)
	if apierrors.IsNotFound(err) {
		return content{}, notKeptError(s, rev)
	}
	if err != nil {
		return content{}, fmt.Errorf("reading revision %s of %s: %w", rev, s, err)
	}
	if l := obj.GetLabels(); l[contract.ManagedByLabel] != contract.ManagedBy || l[contract.RevisionLabel] != rev {
		return content{}, notKeptError(s, rev)
	}
	var kept content
	var held string
	switch o := obj.(type) {
	case *corev1.Secret:
		kept, held = content{Binary: o.Data}, revision.Files(revision.SecretKeys(o)).Revision()
	case *corev1.ConfigMap:
		kept, held = content{Data: o.Data, Binary: o.BinaryData}, revision.Files(revision.ConfigMapKeys(o)).Revision()
	}
	if held != rev {
		return content{}, fmt.Errorf("%s %s/%s does not hold revision %s (it was changed outside hotreload): it is not used; hotreload's controller restores it from verified content", s.Kind, ns, key.Name, rev)
	}
	return kept, nil
}

// diffSides picks the revisions diff compares: old (stable, or rev) and
// new (the candidate, or against). It returns a message instead when there
// is nothing to compare.
func diffSides(st v1alpha1.ConfigReleaseStatus, rev, against string) (oldRev, newRev, message string) {
	if rev == "" && against == "" && st.Candidate == st.Stable {
		return "", "", fmt.Sprintf("no candidate: stable revision %s is the source's content", st.Stable)
	}
	oldRev, newRev = cmp.Or(rev, st.Stable), cmp.Or(against, st.Candidate)
	if oldRev == newRev {
		return "", "", fmt.Sprintf("no difference: both sides are revision %s", oldRev)
	}
	return oldRev, newRev, ""
}

// roleOf says what a revision is to a release: stable, candidate or "".
func roleOf(st v1alpha1.ConfigReleaseStatus, rev string) string {
	switch rev {
	case st.Stable:
		return "stable"
	case st.Candidate:
		return "candidate"
	}
	return ""
}
