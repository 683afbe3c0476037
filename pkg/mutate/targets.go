package mutate

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/hotreload/hotreload/pkg/annotations"
)

// The containers hotreload may reload are the pod's app containers and its
// native sidecars: init containers with restartPolicy Always, which run
// beside the app (a user's own sidecar, such as a log shipper or a proxy,
// may read config as the app does). A plain init container runs before the
// app and is over: it is left alone.

// nativeSidecar reports whether init container c runs beside the app.
func nativeSidecar(c corev1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

// candidates returns the names of the containers hotreload may reload, in the
// order it reads hotreload/container against: the containers, then the
// native sidecars. The first container stays the default.
func candidates(pod *corev1.Pod) []string {
	var names []string
	for _, c := range pod.Spec.Containers {
		names = append(names, c.Name)
	}
	for _, c := range pod.Spec.InitContainers {
		if nativeSidecar(c) {
			names = append(names, c.Name)
		}
	}
	return names
}

// allNames returns the names of every container and init container of pod:
// an entry of a per-container annotation starts with one of them.
func allNames(pod *corev1.Pod) []string {
	var names []string
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range cs {
			names = append(names, c.Name)
		}
	}
	return names
}

// containerNamed returns the container or init container of pod called
// name, or nil. Names are unique across both lists.
func containerNamed(pod *corev1.Pod, name string) *corev1.Container {
	for _, cs := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for i := range cs {
			if cs[i].Name == name {
				return &cs[i]
			}
		}
	}
	return nil
}

// reloaded returns the reloaded containers of pod, in the order of names.
func reloaded(pod *corev1.Pod, names []string) []corev1.Container {
	var out []corev1.Container
	for _, n := range names {
		if c := containerNamed(pod, n); c != nil {
			out = append(out, *c)
		}
	}
	return out
}

// windows says why a pod for Windows nodes is left alone, or "": the
// reloader, its signals and its /proc view are Linux's.
func windows(pod *corev1.Pod) string {
	if os := pod.Spec.OS; os != nil && os.Name == corev1.Windows {
		return fmt.Sprintf("spec.os.name is windows: hotreload runs on Linux nodes only (its sidecar signals processes through /proc); pod left unchanged, its config is not reloaded; remove the %s label to silence this", annotations.EnableLabel)
	}
	return ""
}
