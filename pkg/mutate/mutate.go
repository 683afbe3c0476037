package mutate

import (
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/hotreload/hotreload/pkg/annotations"

	"github.com/hotreload/hotreload/pkg/contract"
)

// ErrNoReloaderImage is returned when Options.ReloaderImage is empty.
var ErrNoReloaderImage = errors.New("no reloader image: set Options.ReloaderImage (webhook flag --reloader-image)")

// Mutate returns pod as the webhook admits it, and the warnings to show the
// user; a pod it injects records them too (hotreload/warnings), for those
// who did not send the request. It never modifies pod. When it leaves the pod unchanged (not opted in,
// already injected, nothing to reload, a name it would add is taken) it returns
// pod itself, with warnings saying why. The steps are fixed: should we act, read
// the annotations, plan, pin, apply, stamp.
func Mutate(pod *corev1.Pod, opts Options) (*corev1.Pod, []string, error) {
	if pod == nil {
		return nil, nil, errors.New("no pod to mutate")
	}
	if opts.ReloaderImage == "" {
		return nil, nil, ErrNoReloaderImage
	}
	if act, why := shouldAct(pod); !act {
		return pod, why, nil
	}
	opts = opts.withDefaults()
	s, warnings := readSettings(pod, opts)
	p, planWarnings := makePlan(pod, s, opts)
	warnings = append(warnings, planWarnings...)
	out := pod.DeepCopy()
	pinned, notes := pin(out, p.volumes, opts)
	warnings = append(warnings, notes...)
	if len(p.volumes) == 0 {
		if !pinned {
			return pod, append(warnings, "no config volume of the reloaded containers can be reloaded: pod left unchanged"), nil
		}
		warnings = append(warnings, "no config volume of the reloaded containers can be reloaded: no sidecar added")
		stamp(out, opts.Version, warnings)
		return out, warnings, nil
	}
	warnings = append(warnings, p.planReloader(pod, opts)...)
	apply(out, p, opts)
	stamp(out, opts.Version, warnings)
	return out, warnings, nil
}

// shouldAct reports whether Mutate acts on pod, and if not, the warnings that
// say why. An injected pod is left alone silently: that is idempotency, not an
// error.
func shouldAct(pod *corev1.Pod) (bool, []string) {
	if _, ok := annotations.InjectedOf(pod.Annotations); ok {
		return false, nil
	}
	if !annotations.Enabled(pod.Labels) {
		return false, []string{fmt.Sprintf("label %s is not %q: pod left unchanged", annotations.EnableLabel, annotations.EnableValue)}
	}
	if why := windows(pod); why != "" {
		return false, []string{why}
	}
	if taken := takenNames(pod); len(taken) > 0 {
		return false, []string{fmt.Sprintf("%s: hotreload owns names starting with %q and paths under %s; pod left unchanged", strings.Join(taken, ", "), contract.ReservedPrefix, contract.Root)}
	}
	return true, nil
}

// takenNames lists the pod's containers and volumes whose names hotreload
// reserves, and its mounts under Root: hotreload never overwrites them.
func takenNames(pod *corev1.Pod) []string {
	var taken []string
	check := func(kind string, cs []corev1.Container) {
		for _, c := range cs {
			if strings.HasPrefix(c.Name, contract.ReservedPrefix) {
				taken = append(taken, fmt.Sprintf("%s %q already exists", kind, c.Name))
			}
			for _, m := range c.VolumeMounts {
				if underRoot(m.MountPath) {
					taken = append(taken, fmt.Sprintf("container %q already mounts %s", c.Name, m.MountPath))
				}
			}
		}
	}
	check("init container", pod.Spec.InitContainers)
	check("container", pod.Spec.Containers)
	for _, e := range pod.Spec.EphemeralContainers {
		if strings.HasPrefix(e.Name, contract.ReservedPrefix) {
			taken = append(taken, fmt.Sprintf("ephemeral container %q already exists", e.Name))
		}
	}
	for _, v := range pod.Spec.Volumes {
		if strings.HasPrefix(v.Name, contract.ReservedPrefix) {
			taken = append(taken, fmt.Sprintf("volume %q already exists", v.Name))
		}
	}
	return taken
}

func underRoot(p string) bool {
	p = cleanPath(p)
	return p == contract.Root || strings.HasPrefix(p, contract.Root+"/")
}

// stamp marks the pod as injected by version, and records the warnings of
// its admission; a record the pod came with (copied from a template) is not
// hotreload's, and goes.
func stamp(pod *corev1.Pod, version string, warnings []string) {
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[annotations.Injected] = version
	delete(pod.Annotations, annotations.Warnings)
	if len(warnings) > 0 {
		pod.Annotations[annotations.Warnings] = annotations.FormatWarnings(warnings)
	}
}

// LeftWithoutSidecar says why the webhook admits pod, opted in, without the
// sidecar whatever it is asked (names hotreload reserves, a Windows pod,
// nothing to reload): its last warning; "" when it injects it. A pod that
// was admitted without the sidecar for another reason (the webhook did not
// answer) gets it when admitted again.
func LeftWithoutSidecar(pod *corev1.Pod) string {
	out, warnings, err := Mutate(pod, Options{ReloaderImage: "reloader"})
	if err == nil {
		if _, injected := annotations.InjectedOf(out.Annotations); injected {
			return ""
		}
	}
	why := "the webhook leaves such a pod without the sidecar"
	if len(warnings) > 0 {
		why += ": " + warnings[len(warnings)-1]
	}
	return why
}
