package contract

import (
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// ErrNoReloader means a pod has no reloader container: it was not injected.
var ErrNoReloader = errors.New("no " + ReloaderName + " container")

// ReloaderContainer returns the pod's reloader (a native sidecar among the
// init containers, or a plain container), or nil.
func ReloaderContainer(pod *corev1.Pod) *corev1.Container {
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			if cs[i].Name == ReloaderName {
				return &cs[i]
			}
		}
	}
	return nil
}

// FromPod parses the command line of the pod's reloader, as the sidecar
// itself does (without its environment). It fails with ErrNoReloader for a
// pod without one, and with ErrNewerContract for one a newer hotreload wrote.
func FromPod(pod *corev1.Pod) (Run, []string, error) {
	c := ReloaderContainer(pod)
	if c == nil {
		return Run{}, nil, ErrNoReloader
	}
	if len(c.Command) > 0 || len(c.Args) == 0 || c.Args[0] != "run" {
		return Run{}, nil, fmt.Errorf("container %s: command %q and arguments %q are not the image's entrypoint with run", ReloaderName, c.Command, c.Args)
	}
	return ParseRun(c.Args[1:])
}

// SidecarEnv is the reloader's environment: its pod's name and namespace from
// the downward API, and the CA bundle of the token exchange when there is one.
func SidecarEnv(exchangeCA []byte) []corev1.EnvVar {
	field := func(path string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: path}}
	}
	env := []corev1.EnvVar{
		{Name: PodNameEnv, ValueFrom: field("metadata.name")},
		{Name: PodNamespaceEnv, ValueFrom: field("metadata.namespace")},
	}
	if len(exchangeCA) > 0 {
		env = append(env, corev1.EnvVar{Name: ExchangeCAEnv, Value: string(exchangeCA)})
	}
	return env
}
