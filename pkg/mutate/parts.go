package mutate

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/hotreload/hotreload/pkg/contract"
)

// A reloaded volume is made of parts: one per configMap or secret source (a
// configMap or secret volume has one, a projected volume one per source, in
// order), and one per downwardAPI source of a projected volume. The sidecar
// mounts each part's candidate (the user's source as the kubelet projects it)
// and, for a config part, its stable twin: the same projection of the
// source's stable copy, which the controller keeps
// (docs/design/2026-12-01-config-releases.md).

// part is one part of a reloaded volume.
type part struct {
	kind contract.PartKind
	// candidate is the part's own volume source; nil when the part is the
	// whole user volume (a volume of one part), which is mounted itself.
	candidate *corev1.VolumeSource
	// stable is the stable twin of a config part.
	stable *corev1.VolumeSource
}

// partsOf splits a reloadable volume into its parts.
func partsOf(v corev1.Volume) []part {
	switch {
	case v.ConfigMap != nil:
		twin := v.ConfigMap.DeepCopy()
		twin.Name, twin.Optional = contract.StableName(v.ConfigMap.Name), ptr.To(true)
		return []part{{kind: contract.PartConfig, stable: &corev1.VolumeSource{ConfigMap: twin}}}
	case v.Secret != nil:
		twin := v.Secret.DeepCopy()
		twin.SecretName, twin.Optional = contract.StableName(v.Secret.SecretName), ptr.To(true)
		return []part{{kind: contract.PartConfig, stable: &corev1.VolumeSource{Secret: twin}}}
	case v.Projected == nil:
		return nil
	}
	projected := func(s corev1.VolumeProjection) *corev1.VolumeSource {
		return &corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
			DefaultMode: v.Projected.DefaultMode, Sources: []corev1.VolumeProjection{s}}}
	}
	var parts []part
	for _, s := range v.Projected.Sources {
		switch {
		case s.ConfigMap != nil:
			twin := s.ConfigMap.DeepCopy()
			twin.Name, twin.Optional = contract.StableName(s.ConfigMap.Name), ptr.To(true)
			parts = append(parts, part{kind: contract.PartConfig, candidate: projected(*s.DeepCopy()),
				stable: projected(corev1.VolumeProjection{ConfigMap: twin})})
		case s.Secret != nil:
			twin := s.Secret.DeepCopy()
			twin.Name, twin.Optional = contract.StableName(s.Secret.Name), ptr.To(true)
			parts = append(parts, part{kind: contract.PartConfig, candidate: projected(*s.DeepCopy()),
				stable: projected(corev1.VolumeProjection{Secret: twin})})
		case s.DownwardAPI != nil:
			parts = append(parts, part{kind: contract.PartDownward, candidate: projected(*s.DeepCopy())})
		}
	}
	if len(parts) == 1 {
		parts[0].candidate = nil // the user's volume is that one part
	}
	return parts
}

// sidecarSources is what install and the sidecar mount of the reloaded
// volumes: the volumes hotreload adds for the parts, the mounts of every
// candidate and stable twin, and the parts of each volume of several.
type sidecarSources struct {
	volumes []corev1.Volume
	mounts  []corev1.VolumeMount
	parts   map[string][]contract.PartKind
}

// planSources lays out the parts of the pod's reloaded volumes, numbering the
// volumes it adds in pod order.
func planSources(pod *corev1.Pod, reloaded []string) sidecarSources {
	var s sidecarSources
	var stables, candidates int
	for _, v := range pod.Spec.Volumes {
		if !contains(reloaded, v.Name) {
			continue
		}
		parts := partsOf(v)
		if len(parts) > 1 && s.parts == nil {
			s.parts = map[string][]contract.PartKind{}
		}
		for i, p := range parts {
			name := v.Name
			if p.candidate != nil {
				name = contract.PartVolumePrefix + strconv.Itoa(candidates)
				candidates++
				s.volumes = append(s.volumes, corev1.Volume{Name: name, VolumeSource: *p.candidate})
			}
			s.mounts = append(s.mounts, corev1.VolumeMount{Name: name, MountPath: contract.CandidatePath(v.Name, i), ReadOnly: true})
			if p.stable != nil {
				twin := contract.StableVolumePrefix + strconv.Itoa(stables)
				stables++
				s.volumes = append(s.volumes, corev1.Volume{Name: twin, VolumeSource: *p.stable})
				s.mounts = append(s.mounts, corev1.VolumeMount{Name: twin, MountPath: contract.StablePath(v.Name, i), ReadOnly: true})
			}
			if len(parts) > 1 {
				s.parts[v.Name] = append(s.parts[v.Name], p.kind)
			}
		}
	}
	return s
}
