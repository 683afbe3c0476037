package plugin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/revision"
)

// undoTarget is the revision undo writes back: to when given; else, while
// a candidate is in flight or halted, the stable revision; else the newest
// revision before stable that completed (or was stable from the start).
func undoTarget(st v1alpha1.ConfigReleaseStatus, to string) (string, error) {
	if to != "" {
		return to, nil
	}
	if st.Candidate != st.Stable {
		return st.Stable, nil
	}
	seenStable := false
	for _, r := range st.History {
		if r.Revision == st.Stable {
			seenStable = true
			continue
		}
		if seenStable && (r.Outcome == v1alpha1.OutcomeCompleted || r.Outcome == v1alpha1.OutcomeStable) {
			return r.Revision, nil
		}
	}
	return "", fmt.Errorf("no revision before stable revision %s completed; name one with --to-revision (see kubectl hotreload history)", st.Stable)
}

// Who else may write a source: field managers and metadata of GitOps tools
// and package managers, by the name undo's warning gives them.
var (
	otherManagers = map[string]string{
		"argocd-controller": "argocd", "argocd-application-controller": "argocd",
		"kustomize-controller": "flux", "helm-controller": "flux", "flux": "flux",
	}
	otherMetadata = map[string]string{
		"argocd.argoproj.io/instance":      "argocd",
		"kustomize.toolkit.fluxcd.io/name": "flux",
		"helm.sh/chart":                    "helm",
	}
)

// managedBy names the tool that looks like it owns an object's content, or
// "" when none does.
func managedBy(o metav1.Object) string {
	for _, f := range o.GetManagedFields() {
		if tool, ok := otherManagers[f.Manager]; ok {
			return tool
		}
		if strings.HasPrefix(f.Manager, "flux") {
			return "flux"
		}
	}
	for _, m := range []map[string]string{o.GetLabels(), o.GetAnnotations()} {
		for key, tool := range otherMetadata {
			if _, ok := m[key]; ok {
				return tool
			}
		}
		if v := m["app.kubernetes.io/managed-by"]; v != "" {
			return v
		}
	}
	return ""
}

// undoBackoff tries a write-back that lost a race (a conflict) three more times.
var undoBackoff = wait.Backoff{Steps: 4, Duration: 50 * time.Millisecond, Factor: 2, Jitter: 0.1}

// errHoldsTarget means the source already holds the revision undo would write.
var errHoldsTarget = errors.New("already holds")

// readSource reads source s and returns it with its revision.
func readSource(ctx context.Context, cl client.Reader, ns string, s source) (client.Object, string, error) {
	key := client.ObjectKey{Namespace: ns, Name: s.Name}
	if s.Kind == v1alpha1.SourceSecret {
		sec := &corev1.Secret{}
		if err := cl.Get(ctx, key, sec); err != nil {
			return nil, "", fmt.Errorf("reading %s: %w", s, err)
		}
		return sec, revision.Files(revision.SecretKeys(sec)).Revision(), nil
	}
	cm := &corev1.ConfigMap{}
	if err := cl.Get(ctx, key, cm); err != nil {
		return nil, "", fmt.Errorf("reading %s: %w", s, err)
	}
	return cm, revision.Files(revision.ConfigMapKeys(cm)).Revision(), nil
}

// holdsError says that the source holds revision rev already.
func holdsError(s source, rev string) error {
	return fmt.Errorf("%s %w revision %s: nothing to undo", s, errHoldsTarget, rev)
}

// writeBack writes kept content c of revision rev into source s with an
// Update that keeps everything but the data, reading the source again and
// retrying when someone else wrote it in between.
func writeBack(ctx context.Context, cl client.Client, ns string, s source, rev string, c content) error {
	return retry.RetryOnConflict(undoBackoff, func() error {
		obj, current, err := readSource(ctx, cl, ns, s)
		if err != nil {
			return err
		}
		if current == rev {
			return holdsError(s, rev)
		}
		switch o := obj.(type) {
		case *corev1.Secret:
			o.Data = c.Binary
		case *corev1.ConfigMap:
			o.Data, o.BinaryData = c.Data, c.Binary
		}
		if err := cl.Update(ctx, obj, fieldOwner); err != nil {
			return fmt.Errorf("writing revision %s back into %s: %w", rev, s, err)
		}
		return nil
	})
}
