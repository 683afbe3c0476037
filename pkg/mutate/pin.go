package mutate

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/contract"
	"github.com/hotreload/hotreload/pkg/release"
	"github.com/hotreload/hotreload/pkg/revision"
)

// Pinning (docs/design/2026-12-07-every-consumer.md): the kubelet reads env
// references, and a volume hotreload leaves alone, when it starts a
// container. Each such reference to a source with a release is pointed at
// the source's kept object of the revision the pod is to start on
// (release.AdmitRevision), which never changes: a new pod never reads a
// revision its release has not granted it, and a container restart reads
// what the pod started with.

// ReferencedSources returns every ConfigMap and Secret the pod's containers
// read, through env, envFrom or volumes, each once, in the order first
// seen: the sources whose annotations (Options.SourceAnnotations) and
// releases (Options.Releases) Mutate reads. None for a pod Mutate leaves
// alone.
func ReferencedSources(pod *corev1.Pod) []release.Source {
	if pod == nil {
		return nil
	}
	if act, _ := shouldAct(pod); !act {
		return nil
	}
	var out []release.Source
	for _, u := range release.UsesOf(pod, nil, nil) {
		if !slices.Contains(out, u.Source) {
			out = append(out, u.Source)
		}
	}
	for _, s := range release.SourcesOf(pod, revision.ReloadableVolumes(pod)) {
		if !slices.Contains(out, s) {
			out = append(out, s) // a volume no container mounts
		}
	}
	return out
}

// pinner decides the revision each referenced source is pinned to.
type pinner struct {
	owner    *metav1.OwnerReference
	opts     Options
	reloaded map[string]bool
	// pins are the revisions chosen, by source; notPinned the sources read
	// as written, with why.
	pins      map[release.Source]string
	notPinned map[release.Source]string
}

// revision returns the name of the object pod should read for the source
// of kind and name, and records the choice.
func (p *pinner) object(kind v1alpha1.SourceKind, name string) string {
	s := release.Source{Kind: kind, Name: name}
	if rev, ok := p.pins[s]; ok {
		return contract.RevisionName(name, rev)
	}
	if _, ok := p.notPinned[s]; ok {
		return name
	}
	if ign, _ := annotations.IgnoredOf(p.opts.SourceAnnotations[s]); ign {
		p.notPinned[s] = fmt.Sprintf("annotated %s: \"true\"", annotations.Ignore)
		return name
	}
	st, ok := p.opts.Releases[s]
	if !ok {
		p.notPinned[s] = "it has no release yet"
		return name
	}
	rev, ok := release.AdmitRevision(st, p.owner)
	if !ok {
		p.notPinned[s] = "its release has no stable revision yet"
		return name
	}
	p.pins[s] = rev
	return contract.RevisionName(name, rev)
}

// pin points pod's env references, and the sources of the volumes not in
// reloaded, at the kept objects of their revisions, records the pins in
// hotreload/pinned, and returns a note per source read in a way that cannot
// change in place. It reports whether it changed the pod.
func pin(pod *corev1.Pod, reloaded []string, opts Options) (bool, []string) {
	p := &pinner{owner: metav1.GetControllerOfNoCopy(pod), opts: opts, reloaded: map[string]bool{},
		pins: map[release.Source]string{}, notPinned: map[release.Source]string{}}
	for _, v := range reloaded {
		p.reloaded[v] = true
	}
	restarts := release.RestartUses(release.UsesOf(pod, reloaded, nil))
	mounted := map[string]bool{}
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			p.container(&cs[i])
			for _, m := range cs[i].VolumeMounts {
				mounted[m.Name] = true
			}
		}
	}
	for i := range pod.Spec.Volumes {
		if v := &pod.Spec.Volumes[i]; mounted[v.Name] && !p.reloaded[v.Name] && revision.Reloadable(*v) {
			p.volume(v)
		}
	}
	var notes []string
	for _, r := range restarts {
		ways := make([]string, len(r.Ways))
		for i, w := range r.Ways {
			ways[i] = string(w)
		}
		read := fmt.Sprintf("%s %q (%s) cannot change in place", r.Source.Kind, r.Source.Name, strings.Join(ways, ", "))
		if rev, ok := p.pins[r.Source]; ok {
			notes = append(notes, fmt.Sprintf("%s: pinned to its revision %s; a change reaches this pod in a new pod, in the release's steps", read, rev))
			continue
		}
		if why, ok := p.notPinned[r.Source]; ok && (slices.Contains(r.Ways, release.WayEnv) || slices.Contains(r.Ways, release.WayEnvFrom)) {
			notes = append(notes, fmt.Sprintf("%s: read as written (%s); a change needs a new pod", read, why))
		}
	}
	if len(p.pins) == 0 {
		return false, notes
	}
	keys := map[string]string{}
	for s, rev := range p.pins {
		keys[s.Key()] = rev
	}
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[annotations.Pinned] = annotations.FormatCandidates(keys)
	return true, notes
}

func (p *pinner) container(c *corev1.Container) {
	for i := range c.Env {
		switch f := c.Env[i].ValueFrom; {
		case f == nil:
		case f.ConfigMapKeyRef != nil:
			f.ConfigMapKeyRef.Name = p.object(v1alpha1.SourceConfigMap, f.ConfigMapKeyRef.Name)
		case f.SecretKeyRef != nil:
			f.SecretKeyRef.Name = p.object(v1alpha1.SourceSecret, f.SecretKeyRef.Name)
		}
	}
	for i := range c.EnvFrom {
		switch e := &c.EnvFrom[i]; {
		case e.ConfigMapRef != nil:
			e.ConfigMapRef.Name = p.object(v1alpha1.SourceConfigMap, e.ConfigMapRef.Name)
		case e.SecretRef != nil:
			e.SecretRef.Name = p.object(v1alpha1.SourceSecret, e.SecretRef.Name)
		}
	}
}

func (p *pinner) volume(v *corev1.Volume) {
	switch {
	case v.ConfigMap != nil:
		v.ConfigMap.Name = p.object(v1alpha1.SourceConfigMap, v.ConfigMap.Name)
	case v.Secret != nil:
		v.Secret.SecretName = p.object(v1alpha1.SourceSecret, v.Secret.SecretName)
	case v.Projected != nil:
		for i := range v.Projected.Sources {
			switch s := &v.Projected.Sources[i]; {
			case s.ConfigMap != nil:
				s.ConfigMap.Name = p.object(v1alpha1.SourceConfigMap, s.ConfigMap.Name)
			case s.Secret != nil:
				s.Secret.Name = p.object(v1alpha1.SourceSecret, s.Secret.Name)
			}
		}
	}
}
