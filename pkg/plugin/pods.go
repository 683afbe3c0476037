package plugin

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/contract"
	"github.com/hotreload/hotreload/pkg/release"
)

// The pods of a release, as status shows them. Pure: the shell lists the
// namespace's pods and ReplicaSets; these functions pick and group them.

// consumers returns the opted-in pods of pods that consume s through
// hotreload (release.Consumes: a volume their reloader reloads projects it),
// by name: the pods the controller releases s to.
func consumers(pods []corev1.Pod, s source) []*corev1.Pod {
	var out []*corev1.Pod
	for i := range pods {
		p := &pods[i]
		if !annotations.Enabled(p.Labels) {
			continue
		}
		run, _, err := contract.FromPod(p)
		if err == nil && release.Consumes(p, run.Volumes, release.Source{Kind: s.Kind, Name: s.Name}) {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b *corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// uninjected returns the pods of pods opted in but admitted without the
// sidecar that read source s (through any volume, env or envFrom), by name.
func uninjected(pods []corev1.Pod, s source) []*corev1.Pod {
	var out []*corev1.Pod
	for i := range pods {
		p := &pods[i]
		if _, injected := annotations.InjectedOf(p.Annotations); injected || !annotations.Enabled(p.Labels) || p.DeletionTimestamp != nil {
			continue
		}
		if _, _, err := contract.FromPod(p); err == nil {
			continue // it runs the sidecar
		}
		var volumes []string
		for _, v := range p.Spec.Volumes {
			volumes = append(volumes, v.Name)
		}
		if release.Consumes(p, volumes, release.Source{Kind: s.Kind, Name: s.Name}) {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b *corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// workloadOf returns the name of a pod's workload (release.WorkloadOf), its
// ReplicaSet's controller read from replicaSets.
func workloadOf(pod *corev1.Pod, replicaSets []metav1.PartialObjectMetadata) string {
	return release.WorkloadOf(pod, func(name string, uid types.UID) *metav1.OwnerReference {
		for i := range replicaSets {
			if rs := &replicaSets[i]; rs.Name == name && rs.UID == uid {
				return metav1.GetControllerOfNoCopy(rs)
			}
		}
		return nil
	}).String()
}

// The configs a pod can run, for one source.
const (
	configCandidate   = "candidate"
	configApplying    = "candidate (applying)"
	configStable      = "stable"
	configRollingBack = "stable (rolling back)"
)

// configOf says what a pod runs of the release's source: the candidate when
// the controller released it the candidate (its hotreload/candidates entry
// for the source), else stable; "(applying)" or "(rolling back)" while its
// process does not run yet what it was released. A pod released nothing yet
// starts on stable.
func configOf(pod *corev1.Pod, s source, st v1alpha1.ConfigReleaseStatus) string {
	released := annotations.ReleasedOf(pod.Annotations)
	settled := released == "" || annotations.AppliedOf(pod.Labels) == released
	holds := st.Candidate != st.Stable && annotations.CandidatesOf(pod.Annotations)[release.SourceKey(string(s.Kind), s.Name)] == st.Candidate
	switch {
	case holds && settled:
		return configCandidate
	case holds:
		return configApplying
	case settled:
		return configStable
	}
	return configRollingBack
}

// isReady reports whether a pod's Ready condition is true.
func isReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// restarts is the sum of the restarts of a pod's app containers (the
// reloader, an init container, is left out).
func restarts(pod *corev1.Pod) int32 {
	var n int32
	for _, c := range pod.Status.ContainerStatuses {
		n += c.RestartCount
	}
	return n
}

// podWarning is a warning pods were admitted with, and how many carry it.
type podWarning struct {
	text string
	pods int
}

// admissionWarnings returns the distinct warnings the pods were admitted
// with (annotations.WarningsOf), in the order they first appear, each with
// how many of the pods carry it.
func admissionWarnings(pods []*corev1.Pod) []podWarning {
	var out []podWarning
	for _, p := range pods {
		seen := map[string]bool{}
		for _, w := range annotations.WarningsOf(p.Annotations) {
			if seen[w] {
				continue
			}
			seen[w] = true
			i := slices.IndexFunc(out, func(pw podWarning) bool { return pw.text == w })
			if i < 0 {
				out = append(out, podWarning{text: w})
				i = len(out) - 1
			}
			out[i].pods++
		}
	}
	return out
}
