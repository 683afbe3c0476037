package release

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/contract"
	"github.com/hotreload/hotreload/pkg/revision"
)

// Way is how a pod reads a source (docs/design/2026-12-07-every-consumer.md).
type Way string

const (
	// WayReloaded is a volume the pod's reloader reloads: it changes in place.
	WayReloaded Way = "volume"
	// WayEnv is an env[].valueFrom reference of one key.
	WayEnv Way = "env"
	// WayEnvFrom is an envFrom reference: every key, under its prefix.
	WayEnvFrom Way = "envFrom"
	// WayMount is a mount hotreload leaves alone: a volume the reloader does
	// not reload, or an init container's mount.
	WayMount Way = "mount"
)

// InPlace reports whether a change read this way reaches the running
// process without a new pod.
func (w Way) InPlace() bool { return w == WayReloaded }

// Use is one way a container of a pod reads a source.
type Use struct {
	Source    Source
	Way       Way
	Container string
	// Init is true for an init container (a native sidecar included).
	Init bool
	// Keys are the keys read; nil for every key.
	Keys []string
}

// hotreloadContainer reports whether container c is one hotreload adds:
// its mounts of a source are the reloader's, never the app's.
func hotreloadContainer(c string) bool { return strings.HasPrefix(c, "hotreload-") }

// UsesOf returns every way the pod's containers read ConfigMaps and Secrets,
// in spec order (init containers first): env and envFrom references, and
// mounts of the volumes that project them. reloaded names the volumes its
// reloader reloads; a mount of any other volume, or an init container's
// mount, is left alone. pinned maps the kept objects the webhook pointed
// references at back to their sources (Pinned.Objects): a pinned pod reads
// the same sources as before.
func UsesOf(pod *corev1.Pod, reloaded []string, pinned map[string]Source) []Use {
	var out []Use
	source := func(kind v1alpha1.SourceKind, name string) Source {
		if s, ok := pinned[string(kind)+"/"+name]; ok {
			return s
		}
		return Source{Kind: kind, Name: name}
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Spec.Volumes {
		if revision.Reloadable(v) { // config, never a service account's token volume
			volumes[v.Name] = v
		}
	}
	each := func(c corev1.Container, init bool) {
		if hotreloadContainer(c.Name) {
			return
		}
		for _, e := range c.Env {
			switch f := e.ValueFrom; {
			case f == nil:
			case f.ConfigMapKeyRef != nil:
				out = append(out, Use{Source: source(v1alpha1.SourceConfigMap, f.ConfigMapKeyRef.Name), Way: WayEnv, Container: c.Name, Init: init, Keys: []string{f.ConfigMapKeyRef.Key}})
			case f.SecretKeyRef != nil:
				out = append(out, Use{Source: source(v1alpha1.SourceSecret, f.SecretKeyRef.Name), Way: WayEnv, Container: c.Name, Init: init, Keys: []string{f.SecretKeyRef.Key}})
			}
		}
		for _, e := range c.EnvFrom {
			switch {
			case e.ConfigMapRef != nil:
				out = append(out, Use{Source: source(v1alpha1.SourceConfigMap, e.ConfigMapRef.Name), Way: WayEnvFrom, Container: c.Name, Init: init})
			case e.SecretRef != nil:
				out = append(out, Use{Source: source(v1alpha1.SourceSecret, e.SecretRef.Name), Way: WayEnvFrom, Container: c.Name, Init: init})
			}
		}
		for _, m := range c.VolumeMounts {
			v, ok := volumes[m.Name]
			if !ok {
				continue
			}
			way := WayMount
			if !init && slices.Contains(reloaded, v.Name) {
				way = WayReloaded
			}
			for _, p := range volumeSources(v) {
				out = append(out, Use{Source: source(p.kind, p.name), Way: way, Container: c.Name, Init: init, Keys: p.keys})
			}
		}
	}
	for _, c := range pod.Spec.InitContainers {
		each(c, true)
	}
	for _, c := range pod.Spec.Containers {
		each(c, false)
	}
	return out
}

// projection is one source a volume projects, and the keys it projects (nil
// for every key).
type projection struct {
	kind v1alpha1.SourceKind
	name string
	keys []string
}

func volumeSources(v corev1.Volume) []projection {
	switch {
	case v.ConfigMap != nil:
		return []projection{{v1alpha1.SourceConfigMap, v.ConfigMap.Name, itemKeys(v.ConfigMap.Items)}}
	case v.Secret != nil:
		return []projection{{v1alpha1.SourceSecret, v.Secret.SecretName, itemKeys(v.Secret.Items)}}
	case v.Projected != nil:
		var out []projection
		for _, s := range v.Projected.Sources {
			switch {
			case s.ConfigMap != nil:
				out = append(out, projection{v1alpha1.SourceConfigMap, s.ConfigMap.Name, itemKeys(s.ConfigMap.Items)})
			case s.Secret != nil:
				out = append(out, projection{v1alpha1.SourceSecret, s.Secret.Name, itemKeys(s.Secret.Items)})
			}
		}
		return out
	}
	return nil
}

func itemKeys(items []corev1.KeyToPath) []string {
	if len(items) == 0 {
		return nil
	}
	keys := make([]string, 0, len(items))
	for _, it := range items {
		keys = append(keys, it.Key)
	}
	return keys
}

// Restart is what a pod reads of one source in ways that cannot change in
// place: a change to these keys reaches it only in a new pod.
type Restart struct {
	Source Source
	// Keys read, sorted; nil for every key.
	Keys []string
	// Ways it reads them, each once, in the order first seen.
	Ways []Way
}

// RestartUses returns, per source, what the pod reads in ways that cannot
// change in place (UsesOf), sources in the order first seen.
func RestartUses(uses []Use) []Restart {
	var out []Restart
	at := map[Source]int{}
	all := map[Source]bool{}
	for _, u := range uses {
		if u.Way.InPlace() {
			continue
		}
		i, ok := at[u.Source]
		if !ok {
			i = len(out)
			at[u.Source] = i
			out = append(out, Restart{Source: u.Source})
		}
		r := &out[i]
		if !slices.Contains(r.Ways, u.Way) {
			r.Ways = append(r.Ways, u.Way)
		}
		if u.Keys == nil {
			all[u.Source] = true
		}
		for _, k := range u.Keys {
			if !slices.Contains(r.Keys, k) {
				r.Keys = append(r.Keys, k)
			}
		}
	}
	for i := range out {
		if all[out[i].Source] {
			out[i].Keys = nil
			continue
		}
		slices.Sort(out[i].Keys)
	}
	return out
}

// PinnedObjects maps each kept object the webhook pointed the pod's
// references at ("ConfigMap/hotreload-rev-app-3f2a9c1b7d4e") to its source,
// from the pod's hotreload/pinned annotation. An entry names only the object
// of the revision it gives: an annotation that does not match the pod's
// (immutable) references maps nothing they read.
func PinnedObjects(pod *corev1.Pod) map[string]Source {
	pins := annotations.PinnedOf(pod.Annotations)
	if len(pins) == 0 {
		return nil
	}
	out := make(map[string]Source, len(pins))
	for key, rev := range pins {
		kind, name, ok := strings.Cut(key, "/")
		if !ok || name == "" {
			continue
		}
		out[kind+"/"+contract.RevisionName(name, rev)] = Source{Kind: v1alpha1.SourceKind(kind), Name: name}
	}
	return out
}
