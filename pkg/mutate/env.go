package mutate

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// envWarnings warns that c's environment variables from ConfigMaps and
// Secrets cannot change in place.
func envWarnings(c corev1.Container) []string {
	set := map[string]bool{}
	for _, e := range c.Env {
		if f := e.ValueFrom; f != nil {
			if f.ConfigMapKeyRef != nil {
				set[fmt.Sprintf("ConfigMap %q", f.ConfigMapKeyRef.Name)] = true
			}
			if f.SecretKeyRef != nil {
				set[fmt.Sprintf("Secret %q", f.SecretKeyRef.Name)] = true
			}
		}
	}
	for _, e := range c.EnvFrom {
		if e.ConfigMapRef != nil {
			set[fmt.Sprintf("ConfigMap %q", e.ConfigMapRef.Name)] = true
		}
		if e.SecretRef != nil {
			set[fmt.Sprintf("Secret %q", e.SecretRef.Name)] = true
		}
	}
	if len(set) == 0 {
		return nil
	}
	refs := make([]string, 0, len(set))
	for r := range set {
		refs = append(refs, r)
	}
	sort.Strings(refs)
	return []string{fmt.Sprintf("container %q: environment variables from %s cannot change in place: a change needs a new pod", c.Name, strings.Join(refs, ", "))}
}
