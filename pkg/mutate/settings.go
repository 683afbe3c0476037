package mutate

import (
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/revision"
)

// settings is what the pod's annotations (and its namespace's) ask for, every
// malformed value already replaced by its default.
type settings struct {
	containers []string               // reloaded containers, in pod order
	selected   map[string]bool        // volumes to reload
	signal     annotations.SignalName // "" when url is set
	url        string
	process    string
	confirm    annotations.Confirmation
	validate   []string // the app's check; nil for none
	subPath    annotations.SubPathMode
}

// readSettings reads every hotreload annotation of pod through pkg/annotations
// and returns the settings and the warnings about malformed values.
func readSettings(pod *corev1.Pod, opts Options) (settings, []string) {
	a := pod.Annotations
	var ws []annotations.Warning
	collect := func(w []annotations.Warning) { ws = append(ws, w...) }

	var s settings
	names := make([]string, len(pod.Spec.Containers))
	for i, c := range pod.Spec.Containers {
		names[i] = c.Name
	}
	var w []annotations.Warning
	s.containers, w = annotations.ContainersOf(a, names)
	collect(w)

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

	s.signal, w = annotations.SignalOf(a)
	collect(w)
	s.url, w = annotations.URLOf(a)
	collect(w)
	if s.url != "" {
		if v := strings.TrimSpace(a[annotations.Signal]); v != "" {
			ws = append(ws, annotations.Warning{Key: annotations.Signal, Value: v, Problem: "ignored signal", Detail: annotations.URL + " is set", Used: "the URL"})
		}
		s.signal = ""
	}
	s.process, w = annotations.ProcessOf(a)
	collect(w)
	s.confirm, w = annotations.ConfirmOf(a, s.signal, s.url)
	collect(w)
	s.validate, w = annotations.ValidateOf(a)
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

// signals reports whether the reloader delivers a signal, which needs a shared
// process namespace.
func (s settings) signals() bool {
	return s.url == "" && s.signal != annotations.SignalNone
}
