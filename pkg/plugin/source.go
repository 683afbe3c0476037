package plugin

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/contract"
)

// source is a ConfigMap or Secret named on the command line.
type source struct {
	Kind v1alpha1.SourceKind
	Name string
}

// String is the source as the user names it: configmap/NAME or secret/NAME.
func (s source) String() string { return strings.ToLower(string(s.Kind)) + "/" + s.Name }

// releaseName is the name of the source's ConfigRelease.
func (s source) releaseName() string { return contract.ReleaseName(string(s.Kind), s.Name) }

// sourceOf returns the source a release is about.
func sourceOf(rel *v1alpha1.ConfigRelease) source {
	return source{Kind: rel.Spec.Source.Kind, Name: rel.Spec.Source.Name}
}

// workloadRef is a workload named on the command line: Deployment/NAME.
type workloadRef struct{ Kind, Name string }

func (w workloadRef) String() string { return w.Kind + "/" + w.Name }

// The kinds the command line takes, by the names kubectl takes for them.
var (
	sourceKinds = map[string]v1alpha1.SourceKind{
		"configmap": v1alpha1.SourceConfigMap, "configmaps": v1alpha1.SourceConfigMap, "cm": v1alpha1.SourceConfigMap,
		"secret": v1alpha1.SourceSecret, "secrets": v1alpha1.SourceSecret,
	}
	workloadKinds = map[string]string{
		"deployment": "Deployment", "deployments": "Deployment", "deploy": "Deployment",
		"statefulset": "StatefulSet", "statefulsets": "StatefulSet", "sts": "StatefulSet",
		"daemonset": "DaemonSet", "daemonsets": "DaemonSet", "ds": "DaemonSet",
	}
)

// parseSource parses configmap/NAME, cm/NAME or secret/NAME.
func parseSource(arg string) (source, error) {
	kind, name, ok := strings.Cut(arg, "/")
	k, known := sourceKinds[strings.ToLower(kind)]
	if !ok || !known || name == "" || strings.Contains(name, "/") {
		return source{}, usageErrorf("%q is not a source: name it configmap/NAME (or cm/NAME) or secret/NAME", arg)
	}
	return source{Kind: k, Name: name}, nil
}

// parseTarget parses what status takes: a source, or a workload as
// deployment/NAME, statefulset/NAME or daemonset/NAME.
func parseTarget(arg string) (source, *workloadRef, error) {
	kind, name, ok := strings.Cut(arg, "/")
	if _, isSource := sourceKinds[strings.ToLower(kind)]; isSource || !ok {
		s, err := parseSource(arg)
		if err != nil {
			return source{}, nil, usageErrorf("%q is neither a source (configmap/NAME, secret/NAME) nor a workload (KIND/NAME: deployment/NAME, statefulset/NAME, daemonset/NAME, or any kind that owns pods, as rollout/NAME)", arg)
		}
		return s, nil, nil
	}
	if name == "" || strings.Contains(name, "/") || !anyKind.MatchString(kind) {
		return source{}, nil, usageErrorf("%q is neither a source (configmap/NAME, secret/NAME) nor a workload (KIND/NAME: deployment/NAME, statefulset/NAME, daemonset/NAME, or any kind that owns pods, as rollout/NAME)", arg)
	}
	if k, known := workloadKinds[strings.ToLower(kind)]; known {
		kind = k
	}
	return source{}, &workloadRef{Kind: kind, Name: name}, nil
}

// anyKind is how a workload kind is written on the command line: a word.
var anyKind = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*$`)

// sameKind reports whether a release's workload kind (Rollout) is the one
// named on the command line (Rollout, rollout or rollouts).
func sameKind(kind, named string) bool {
	return strings.EqualFold(kind, named) || strings.EqualFold(kind+"s", named)
}

// errNoRelease means a source has no release.
var errNoRelease = errors.New("no release")

// openRelease connects and reads the release of s in the namespace of the
// command line.
func (a *app) openRelease(ctx context.Context, inv *invocation, s source) (*session, *v1alpha1.ConfigRelease, error) {
	sess, err := a.connect(inv.kube)
	if err != nil {
		return nil, nil, err
	}
	rel, err := getRelease(ctx, sess.client, sess.namespace, s)
	if err != nil {
		return nil, nil, err
	}
	return sess, rel, nil
}

// getRelease reads the release of source s in namespace ns.
func getRelease(ctx context.Context, c client.Reader, ns string, s source) (*v1alpha1.ConfigRelease, error) {
	rel := &v1alpha1.ConfigRelease{}
	err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: s.releaseName()}, rel)
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("%w for %s in namespace %s: no injected pod reloads it yet (is the pod labelled %s=%s in a namespace labelled %s=%s?)",
			errNoRelease, s, ns, annotations.EnableLabel, annotations.EnableValue, annotations.InjectionLabel, annotations.InjectionEnabled)
	}
	if err != nil {
		return nil, apiError(err, "reading the release of "+s.String())
	}
	return rel, nil
}

// apiError says what failed, and what to do when the ConfigRelease API is
// not served at all.
func apiError(err error, what string) error {
	if meta.IsNoMatchError(err) {
		return fmt.Errorf("%s: the ConfigRelease API (%s) is not served by this cluster; is hotreload installed? (kubectl get crd configreleases.%s): %w",
			what, v1alpha1.GroupVersion, v1alpha1.GroupVersion.Group, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}
