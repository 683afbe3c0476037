package rollout

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/mutate"
)

// Group names a group of pods that roll out together: the pods of one
// controlling owner (ReplicaSet, StatefulSet, DaemonSet, an Argo Rollouts
// ReplicaSet, ...) in one namespace, or one bare pod.
type Group struct {
	Namespace string
	// Name is "Kind/name/uid" of the controlling owner, or "Pod/name" for a
	// pod without one.
	Name string
}

// String returns namespace/name.
func (g Group) String() string { return g.Namespace + "/" + g.Name }

// GroupOf returns the group of pod.
func GroupOf(pod *corev1.Pod) Group {
	return Group{Namespace: pod.Namespace, Name: groupName(pod)}
}

func groupName(pod *corev1.Pod) string {
	if o := metav1.GetControllerOfNoCopy(pod); o != nil {
		return o.Kind + "/" + o.Name + "/" + string(o.UID)
	}
	return "Pod/" + pod.Name
}

// StateOf returns what planning needs to know of pod.
func StateOf(pod *corev1.Pod) Pod {
	p := Pod{
		Name:     pod.Name,
		UID:      pod.UID,
		Released: annotations.ReleasedOf(pod.Annotations),
		Applied:  annotations.AppliedOf(pod.Labels),
	}
	if t, ok := annotations.AppliedAtOf(pod.Annotations); ok {
		p.AppliedAt = t
	}
	if rev, reason, ok := annotations.FailedOf(pod.Annotations); ok {
		p.Failed, p.FailedReason = rev, reason
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			p.Ready = c.Status == corev1.ConditionTrue
			p.ReadySince = c.LastTransitionTime.Time
		}
	}
	for _, s := range pod.Status.ContainerStatuses {
		if s.Name == mutate.ReloaderName {
			continue
		}
		if t := s.LastTerminationState.Terminated; t != nil && t.FinishedAt.After(p.LastRestart) {
			p.LastRestart = t.FinishedAt.Time
		}
	}
	return p
}

// ReloadedVolumes returns the volumes the pod's reloader hashes (its --volume
// arguments), and false when the pod has no reloader.
func ReloadedVolumes(pod *corev1.Pod) ([]string, bool) {
	c := reloader(pod)
	if c == nil {
		return nil, false
	}
	vols := []string{}
	for i := 0; i < len(c.Args); i++ {
		a := c.Args[i]
		switch {
		case (a == "--volume" || a == "-volume") && i+1 < len(c.Args):
			vols = append(vols, c.Args[i+1])
			i++
		case strings.HasPrefix(a, "--volume="):
			vols = append(vols, strings.TrimPrefix(a, "--volume="))
		}
	}
	return vols, true
}

func reloader(pod *corev1.Pod) *corev1.Container {
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			if cs[i].Name == mutate.ReloaderName {
				return &cs[i]
			}
		}
	}
	return nil
}

// active reports whether the pod takes part in rollouts: not terminated nor
// being deleted.
func active(pod *corev1.Pod) bool {
	return pod.DeletionTimestamp == nil && pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed
}
