package rollout

import (
	"encoding/json"
	"errors"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/contract"
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
		if s.Name == contract.ReloaderName {
			continue
		}
		if t := s.LastTerminationState.Terminated; t != nil && t.FinishedAt.After(p.LastRestart) {
			p.LastRestart = t.FinishedAt.Time
		}
	}
	return p
}

// reloaderAnnotation holds, on the cached copy of a pod only, what the
// controller reads of its reloader's command line (reloaderInfo as JSON),
// parsed once by the cache transform.
const reloaderAnnotation = "rollout.hotreload.internal/reloader"

// reloaderInfo is what the controller needs of a pod's reloader: the volumes
// it hashes, or why its command line could not be read.
type reloaderInfo struct {
	Volumes []string `json:"volumes"`
	Error   string   `json:"error,omitempty"`
}

// readReloader parses the pod's reloader command line with pkg/contract, as
// the sidecar itself does. ok is false for a pod without a reloader.
func readReloader(pod *corev1.Pod) (info reloaderInfo, ok bool) {
	run, _, err := contract.FromPod(pod)
	switch {
	case errors.Is(err, contract.ErrNoReloader):
		return reloaderInfo{}, false
	case err != nil:
		return reloaderInfo{Error: err.Error()}, true
	}
	return reloaderInfo{Volumes: run.Volumes}, true
}

// reloaderOf returns what the controller knows of the pod's reloader: from
// the cache transform's annotation on a cached pod, else from its spec.
func reloaderOf(pod *corev1.Pod) (reloaderInfo, bool) {
	raw, cached := pod.Annotations[reloaderAnnotation]
	if !cached {
		return readReloader(pod)
	}
	var info reloaderInfo
	if err := json.Unmarshal([]byte(raw), &info); err != nil {
		return reloaderInfo{Error: "cached reloader arguments: " + err.Error()}, true
	}
	return info, true
}

// ReloadedVolumes returns the volumes the pod's reloader hashes (its --volume
// arguments), and false when the pod has no reloader or its command line
// cannot be read (a newer contract version).
func ReloadedVolumes(pod *corev1.Pod) ([]string, bool) {
	info, ok := reloaderOf(pod)
	if !ok || info.Error != "" {
		return nil, false
	}
	return info.Volumes, true
}

// active reports whether the pod takes part in rollouts: not terminated nor
// being deleted.
func active(pod *corev1.Pod) bool {
	return pod.DeletionTimestamp == nil && pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed
}
