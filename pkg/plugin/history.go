package plugin

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/contract"
)

// renderHistory prints a release's recent revisions, newest first, marking
// the stable (*) and the candidate (>). kept says which revisions have
// their object still; nil when that could not be read.
func renderHistory(w io.Writer, rel *v1alpha1.ConfigRelease, kept map[string]bool, now time.Time) {
	st := rel.Status
	if len(st.History) == 0 {
		printf(w, "%s: no revision recorded yet\n", sourceOf(rel))
		return
	}
	t := &table{}
	t.add("  REVISION", "OUTCOME", "SEEN", "ENDED", "REACHED", "SIZE", "KEPT", "CAUSE")
	marked := map[string]bool{}
	for _, r := range st.History {
		mark := " "
		switch {
		case marked[r.Revision]:
		case r.Revision == st.Stable:
			mark = "*"
		case r.Revision == st.Candidate:
			mark = ">"
		}
		marked[r.Revision] = true
		ended, size, isKept := "-", "-", "?"
		if r.Ended != nil {
			ended = age(*r.Ended, now)
		}
		if r.Size > 0 {
			size = humanBytes(r.Size)
		}
		if kept != nil {
			isKept = map[bool]string{true: "yes", false: "no"}[kept[r.Revision]]
		}
		t.add(mark+" "+r.Revision, string(r.Outcome), age(r.Seen, now), ended, cmp.Or(strings.Join(r.Reached, ", "), "-"), size, isKept, r.Cause)
	}
	t.write(w)
	legend := "\n* stable"
	if st.Candidate != st.Stable {
		legend += "   > candidate"
	}
	fmt.Fprintln(w, legend)
}

// keptRevisions returns the revisions of source s whose objects the
// controller keeps, from their metadata only (never their data); nil when
// the user may not list them.
func keptRevisions(ctx context.Context, c client.Reader, ns string, s source) (map[string]bool, error) {
	list := &metav1.PartialObjectMetadataList{}
	kind := "ConfigMapList"
	if s.Kind == v1alpha1.SourceSecret {
		kind = "SecretList"
	}
	list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind(kind))
	err := c.List(ctx, list, client.InNamespace(ns), client.MatchingLabels{
		contract.ManagedByLabel: contract.ManagedBy,
		contract.SourceLabel:    contract.SourceDigest(string(s.Kind), s.Name),
		contract.RoleLabel:      contract.RoleRevision,
	})
	if apierrors.IsForbidden(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing the kept revisions of %s: %w", s, err)
	}
	kept := map[string]bool{}
	for _, o := range list.Items {
		rev := o.Labels[contract.RevisionLabel]
		if o.Name == contract.RevisionName(s.Name, rev) {
			kept[rev] = true
		}
	}
	return kept, nil
}
