package plugin

import (
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/annotations"
)

// The pods of a release, as status shows them. Pure: the shell lists the
// namespace's pods and ReplicaSets; these functions pick and group them.

// mounts reports whether a pod mounts source s: a configMap or secret
// volume, or a projected volume with a source, naming it.
func mounts(pod *corev1.Pod, s source) bool {
	for _, v := range pod.Spec.Volumes {
		switch {
		case s.Kind == v1alpha1.SourceConfigMap && v.ConfigMap != nil && v.ConfigMap.Name == s.Name,
			s.Kind == v1alpha1.SourceSecret && v.Secret != nil && v.Secret.SecretName == s.Name:
			return true
		case v.Projected != nil:
			for _, p := range v.Projected.Sources {
				if s.Kind == v1alpha1.SourceConfigMap && p.ConfigMap != nil && p.ConfigMap.Name == s.Name ||
					s.Kind == v1alpha1.SourceSecret && p.Secret != nil && p.Secret.Name == s.Name {
					return true
				}
			}
		}
	}
	return false
}

// consumers returns the opted-in pods of pods that mount s, by name.
func consumers(pods []corev1.Pod, s source) []*corev1.Pod {
	var out []*corev1.Pod
	for i := range pods {
		if annotations.Enabled(pods[i].Labels) && mounts(&pods[i], s) {
			out = append(out, &pods[i])
		}
	}
	slices.SortFunc(out, func(a, b *corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// workloadName is how a release names a workload: Kind/name, or "Pods" for
// the bare pods of a namespace.
func workloadName(kind, name string) string {
	if name == "" {
		return kind + "s"
	}
	return kind + "/" + name
}

// workloadOf returns the name of a pod's workload: the top of its
// controller chain, through its ReplicaSet (of replicaSets) to a Deployment;
// "Pods" for a pod without a controller. It follows the controller's rule
// (pkg/rollout): a ReplicaSet it cannot find stands for itself.
func workloadOf(pod *corev1.Pod, replicaSets []metav1.PartialObjectMetadata) string {
	o := metav1.GetControllerOfNoCopy(pod)
	if o == nil {
		return workloadName("Pod", "")
	}
	if o.Kind == "ReplicaSet" && o.APIVersion == appsv1.SchemeGroupVersion.String() {
		for i := range replicaSets {
			rs := &replicaSets[i]
			if rs.Name != o.Name || rs.UID != o.UID {
				continue
			}
			if top := metav1.GetControllerOfNoCopy(rs); top != nil {
				return workloadName(top.Kind, top.Name)
			}
		}
	}
	return workloadName(o.Kind, o.Name)
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
	holds := st.Candidate != st.Stable && annotations.CandidatesOf(pod.Annotations)[s.key()] == st.Candidate
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
