package mutate

import (
	"fmt"
	"path"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// invalid returns what breaks the Pod validation rules that can be checked
// without an API server: unique DNS-label names of containers and volumes,
// mounts of existing volumes at unique absolute paths, sane probe ports.
func invalid(pod *corev1.Pod) []string {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	volumes := map[string]bool{}
	for _, v := range pod.Spec.Volumes {
		if volumes[v.Name] {
			bad("volume %q is not unique", v.Name)
		}
		volumes[v.Name] = true
		for _, e := range validation.IsDNS1123Label(v.Name) {
			bad("volume %q: %s", v.Name, e)
		}
	}
	containers := map[string]bool{}
	check := func(c corev1.Container) {
		if containers[c.Name] {
			bad("container %q is not unique", c.Name)
		}
		containers[c.Name] = true
		for _, e := range validation.IsDNS1123Label(c.Name) {
			bad("container %q: %s", c.Name, e)
		}
		paths := map[string]bool{}
		for _, m := range c.VolumeMounts {
			if !volumes[m.Name] {
				bad("container %q mounts missing volume %q", c.Name, m.Name)
			}
			p := path.Clean(m.MountPath)
			if paths[p] {
				bad("container %q mounts %s twice", c.Name, p)
			}
			paths[p] = true
			if !path.IsAbs(m.MountPath) {
				bad("container %q mounts relative path %q", c.Name, m.MountPath)
			}
		}
		if pr := c.StartupProbe; pr != nil && pr.HTTPGet != nil {
			if port := pr.HTTPGet.Port.IntValue(); port < 1 || port > 65535 {
				bad("container %q probes port %d", c.Name, port)
			}
		}
	}
	for _, c := range pod.Spec.InitContainers {
		check(c)
	}
	for _, c := range pod.Spec.Containers {
		check(c)
		if c.RestartPolicy != nil {
			bad("container %q has a restartPolicy", c.Name)
		}
	}
	return errs
}
