package release

import (
	"slices"

	corev1 "k8s.io/api/core/v1"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
)

// Source is a ConfigMap or Secret of a pod's namespace: what a release is
// about.
type Source struct {
	Kind v1alpha1.SourceKind
	Name string
}

// Key is the source as the hotreload/candidates annotation names it:
// "ConfigMap/app".
func (s Source) Key() string { return SourceKey(string(s.Kind), s.Name) }

// SourceKey is the hotreload/candidates key of the source of kind and name.
func SourceKey(kind, name string) string { return kind + "/" + name }

// SourcesOf returns the sources a pod consumes through hotreload: those the
// volumes its reloader reloads (reloaded, its --volume arguments) project,
// each once, in spec order. A source the pod mounts in a volume its reloader
// leaves alone is not released to it, and a pod without a reloader consumes
// none.
func SourcesOf(pod *corev1.Pod, reloaded []string) []Source {
	var out []Source
	add := func(kind v1alpha1.SourceKind, name string) {
		s := Source{Kind: kind, Name: name}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	for _, v := range pod.Spec.Volumes {
		if !slices.Contains(reloaded, v.Name) {
			continue
		}
		switch {
		case v.ConfigMap != nil:
			add(v1alpha1.SourceConfigMap, v.ConfigMap.Name)
		case v.Secret != nil:
			add(v1alpha1.SourceSecret, v.Secret.SecretName)
		case v.Projected != nil:
			for _, src := range v.Projected.Sources {
				switch {
				case src.ConfigMap != nil:
					add(v1alpha1.SourceConfigMap, src.ConfigMap.Name)
				case src.Secret != nil:
					add(v1alpha1.SourceSecret, src.Secret.Name)
				}
			}
		}
	}
	return out
}

// Consumes reports whether the pod consumes source s through hotreload (see
// SourcesOf).
func Consumes(pod *corev1.Pod, reloaded []string, s Source) bool {
	return slices.Contains(SourcesOf(pod, reloaded), s)
}
