package rollout

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/contract"
	"github.com/hotreload/hotreload/pkg/release"
	"github.com/hotreload/hotreload/pkg/revision"
)

// SourceRef names a ConfigMap or Secret in a namespace: what a release is about.
type SourceRef struct {
	Namespace string
	Kind      revision.Kind
	Name      string
}

// Key is the source as the hotreload/candidates annotation names it:
// "ConfigMap/app".
func (s SourceRef) Key() string { return release.SourceKey(string(s.Kind), s.Name) }

// String returns namespace/Kind/name.
func (s SourceRef) String() string { return s.Namespace + "/" + s.Key() }

// sourcesOf returns the ConfigMaps and Secrets the pod's reloaded volumes
// project, each once, in spec order (release.SourcesOf).
func sourcesOf(pod *corev1.Pod, reloaded []string) []SourceRef {
	var out []SourceRef
	for _, s := range release.SourcesOf(pod, reloaded) {
		out = append(out, SourceRef{Namespace: pod.Namespace, Kind: revision.Kind(s.Kind), Name: s.Name})
	}
	return out
}

// StateOf returns what planning needs to know of pod.
func StateOf(pod *corev1.Pod) Pod {
	p := Pod{
		Name:     pod.Name,
		UID:      pod.UID,
		Released: annotations.ReleasedOf(pod.Annotations),
		Applied:  annotations.AppliedOf(pod.Labels),
		Created:  pod.CreationTimestamp.Time,
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
	for _, s := range slices.Concat(pod.Status.ContainerStatuses, sidecarStatuses(pod)) {
		if strings.HasPrefix(s.Name, contract.ReservedPrefix) {
			continue // hotreload's own
		}
		if t := s.LastTerminationState.Terminated; t != nil && t.FinishedAt.After(p.LastRestart) {
			p.LastRestart = t.FinishedAt.Time
		}
	}
	return p
}

// sidecarStatuses are the statuses of the pod's own native sidecars (init
// containers with restartPolicy Always), which may be reloaded as its app
// containers are: a restart of one is a restart of the app.
func sidecarStatuses(pod *corev1.Pod) []corev1.ContainerStatus {
	always := map[string]bool{}
	for _, c := range pod.Spec.InitContainers {
		always[c.Name] = c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
	}
	var out []corev1.ContainerStatus
	for _, s := range pod.Status.InitContainerStatuses {
		if always[s.Name] || len(pod.Spec.InitContainers) == 0 { // a cached pod keeps only those
			out = append(out, s)
		}
	}
	return out
}

// reloaderAnnotation holds, on the cached copy of a pod only, what the
// controller reads of its reloader's command line (reloaderInfo as JSON),
// parsed once by the cache transform.
const reloaderAnnotation = "rollout.hotreload.internal/reloader"

// reloaderInfo is what the controller needs of a pod's reloader: the volumes
// it hashes, or why its command line could not be read.
type reloaderInfo struct {
	// Version is the contract version of its command line.
	Version int      `json:"version,omitempty"`
	Volumes []string `json:"volumes"`
	Error   string   `json:"error,omitempty"`
	// Oversized says which of the pod's annotations are over
	// maxPodAnnotation: it takes no part in rollouts.
	Oversized string `json:"oversized,omitempty"`
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
	return reloaderInfo{Version: run.Version, Volumes: run.Volumes}, true
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

// restartsAnnotation holds, on the cached copy of a pod only, what the pod
// reads in ways that cannot change in place (release.RestartUses), as JSON,
// computed once by the cache transform, which drops the containers.
const restartsAnnotation = "rollout.hotreload.internal/restarts"

// readRestarts returns what the pod reads of each source in ways that cannot
// change in place: env, envFrom, mounts its reloader leaves alone
// (docs/design/2026-12-07-every-consumer.md).
func readRestarts(pod *corev1.Pod) []release.Restart {
	var reloaded []string
	if info, ok := readReloader(pod); ok {
		reloaded = info.Volumes
	}
	return release.RestartUses(release.UsesOf(pod, reloaded, release.PinnedObjects(pod)))
}

// restartsOf returns readRestarts of the pod: from the cache transform's
// annotation on a cached pod, else from its spec.
func restartsOf(pod *corev1.Pod) []release.Restart {
	raw, cached := pod.Annotations[restartsAnnotation]
	if !cached {
		return readRestarts(pod)
	}
	var out []release.Restart
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		return nil
	}
	return out
}

// restartOf returns what the pod reads of source s in ways that cannot
// change in place, or nil.
func restartOf(pod *corev1.Pod, s SourceRef) *release.Restart {
	for _, r := range restartsOf(pod) {
		if string(r.Source.Kind) == string(s.Kind) && r.Source.Name == s.Name {
			return &r
		}
	}
	return nil
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
