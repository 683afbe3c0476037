package mutate

import (
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/revision"
)

// settings is what the pod's annotations (and its namespace's) ask for, every
// malformed value already replaced by its default.
type settings struct {
	containers []string        // reloaded containers: containers, then native sidecars
	selected   map[string]bool // volumes to reload
	// deliveries say how each reloaded container is told.
	deliveries map[string]annotations.Delivery
	// validate is the app's check of each reloaded container; nil for none.
	validate map[string][]string
	subPath  annotations.SubPathMode
}

// readSettings reads every hotreload annotation of pod through pkg/annotations
// and returns the settings and the warnings about malformed values.
func readSettings(pod *corev1.Pod, opts Options) (settings, []string) {
	a := pod.Annotations
	var ws []annotations.Warning
	collect := func(w []annotations.Warning) { ws = append(ws, w...) }

	var s settings
	var w []annotations.Warning
	s.containers, w = annotations.ContainersOf(a, candidates(pod))
	collect(w)
	targets := annotations.Targets{Reloaded: s.containers, All: allNames(pod)}

	var all, reloadable []string
	for _, v := range pod.Spec.Volumes {
		all = append(all, v.Name)
		if revision.Reloadable(v) {
			reloadable = append(reloadable, v.Name)
		}
	}
	vols, w := annotations.VolumesOf(a, all, reloadable)
	collect(w)
	s.selected = make(map[string]bool, len(vols))
	for _, v := range vols {
		s.selected[v] = true
	}
	notes := leaveIgnored(pod, s.selected, opts.SourceAnnotations)

	s.deliveries, w = annotations.DeliveriesOf(a, targets)
	collect(w)
	s.validate, w = annotations.ValidatesOf(a, targets)
	collect(w)
	s.subPath, w = annotations.SubPathOf(a)
	collect(w)
	// The rollout settings are the controller's; they are read here so that a
	// malformed value is reported at admission.
	_, w = annotations.RolloutOf(a, opts.NamespaceAnnotations)
	collect(w)
	_, w = annotations.RolloutIntervalOf(a, opts.NamespaceAnnotations)
	collect(w)
	return s, append(annotations.Strings(ws), notes...)
}

// signals reports whether the reloader delivers a signal to a container,
// which needs a shared process namespace.
func (s settings) signals() bool {
	return len(s.signalNames()) > 0
}

// signalNames returns the signals the reloader sends, each once, in the
// order of the containers.
func (s settings) signalNames() []string {
	var out []string
	for _, c := range s.containers {
		d := s.deliveries[c]
		if d.URL == "" && d.Signal != annotations.SignalNone && !slices.Contains(out, string(d.Signal)) {
			out = append(out, string(d.Signal))
		}
	}
	return out
}
