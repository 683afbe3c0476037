package revision

import (
	"errors"
	"fmt"
	"path"
	"slices"

	corev1 "k8s.io/api/core/v1"
)

var (
	// ErrObjectNotFound means a volume references a ConfigMap or Secret that does
	// not exist and is not optional: the kubelet cannot mount it.
	ErrObjectNotFound = errors.New("object not found")
	// ErrKeyNotFound means a volume's items list a key its non-optional object
	// does not have: the kubelet cannot mount it.
	ErrKeyNotFound = errors.New("key not found")
	// ErrUnknownVolume means a volume name is not a reloadable volume of the pod.
	ErrUnknownVolume = errors.New("not a reloadable volume of the pod")
)

// Kind is the kind of object a volume source projects.
type Kind string

// The kinds of objects whose keys a reloadable volume projects.
const (
	KindConfigMap Kind = "ConfigMap"
	KindSecret    Kind = "Secret"
)

// Keys maps the keys of a ConfigMap or Secret to the digests of their values.
type Keys map[string]Digest

// KeysOf returns the digests of data's values.
func KeysOf(data map[string][]byte) Keys {
	k := make(Keys, len(data))
	for name, b := range data {
		k[name] = DigestOf(b)
	}
	return k
}

// ConfigMapKeys returns the digests of a ConfigMap's data and binaryData, the
// two maps the kubelet projects (their keys are disjoint).
func ConfigMapKeys(cm *corev1.ConfigMap) Keys {
	k := make(Keys, len(cm.Data)+len(cm.BinaryData))
	for name, s := range cm.Data {
		k[name] = DigestOf([]byte(s))
	}
	for name, b := range cm.BinaryData {
		k[name] = DigestOf(b)
	}
	return k
}

// SecretKeys returns the digests of a Secret's data (the API server has
// already merged stringData into it).
func SecretKeys(s *corev1.Secret) Keys { return KeysOf(s.Data) }

// Lookup returns the keys of the object of the given kind and name in the
// pod's namespace, and whether it exists.
type Lookup func(kind Kind, name string) (keys Keys, found bool)

// VolumeFiles returns the canonical content the kubelet projects into volume v,
// from the objects lookup returns. A volume that is not reloadable yields
// ErrUnknownVolume.
func VolumeFiles(v corev1.Volume, lookup Lookup) (Files, error) {
	if !Reloadable(v) {
		return nil, fmt.Errorf("volume %q: %w", v.Name, ErrUnknownVolume)
	}
	files := Files{}
	var err error
	switch {
	case v.ConfigMap != nil:
		err = project(files, lookup, KindConfigMap, v.ConfigMap.Name, v.ConfigMap.Items, v.ConfigMap.Optional)
	case v.Secret != nil:
		err = project(files, lookup, KindSecret, v.Secret.SecretName, v.Secret.Items, v.Secret.Optional)
	default:
		for _, s := range v.Projected.Sources {
			switch {
			case s.ConfigMap != nil:
				err = project(files, lookup, KindConfigMap, s.ConfigMap.Name, s.ConfigMap.Items, s.ConfigMap.Optional)
			case s.Secret != nil:
				err = project(files, lookup, KindSecret, s.Secret.Name, s.Secret.Items, s.Secret.Optional)
			}
			if err != nil {
				return nil, fmt.Errorf("volume %q: %w", v.Name, err)
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("volume %q: %w", v.Name, err)
	}
	return files, nil
}

// project adds the files one configMap or secret source projects to files.
func project(files Files, lookup Lookup, kind Kind, name string, items []corev1.KeyToPath, optional *bool) error {
	opt := optional != nil && *optional
	keys, found := lookup(kind, name)
	if !found {
		if opt {
			return nil
		}
		return fmt.Errorf("%s %q: %w", kind, name, ErrObjectNotFound)
	}
	if len(items) == 0 {
		for k, d := range keys {
			files[k] = d
		}
		return nil
	}
	for _, it := range items {
		d, ok := keys[it.Key]
		if !ok {
			if opt {
				continue
			}
			return fmt.Errorf("%s %q key %q: %w", kind, name, it.Key, ErrKeyNotFound)
		}
		files[path.Clean(it.Path)] = d
	}
	return nil
}

// ExcludedPaths returns the paths of volume v that are not config and are left
// out of its revision: the downwardAPI items of a projected volume. A caller
// that hashes the mounted directory removes them with Files.Without.
func ExcludedPaths(v corev1.Volume) []string {
	if v.Projected == nil {
		return nil
	}
	var out []string
	for _, s := range v.Projected.Sources {
		if s.DownwardAPI == nil {
			continue
		}
		for _, it := range s.DownwardAPI.Items {
			out = append(out, path.Clean(it.Path))
		}
	}
	return out
}

// ReloadableVolumes returns the names of the pod's reloadable volumes, in spec
// order.
func ReloadableVolumes(pod *corev1.Pod) []string {
	var out []string
	for _, v := range pod.Spec.Volumes {
		if Reloadable(v) {
			out = append(out, v.Name)
		}
	}
	return out
}

// PodFiles returns the canonical content of the named volumes of pod (all its
// reloadable volumes when volumes is nil), keyed by volume name.
func PodFiles(pod *corev1.Pod, volumes []string, lookup Lookup) (map[string]Files, error) {
	if volumes == nil {
		volumes = ReloadableVolumes(pod)
	}
	out := make(map[string]Files, len(volumes))
	for _, name := range volumes {
		i := slices.IndexFunc(pod.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == name })
		if i < 0 {
			return nil, fmt.Errorf("volume %q: %w", name, ErrUnknownVolume)
		}
		f, err := VolumeFiles(pod.Spec.Volumes[i], lookup)
		if err != nil {
			return nil, err
		}
		out[name] = f
	}
	return out, nil
}

// ForPod returns the revision of the named volumes of pod (all its reloadable
// volumes when volumes is nil), computed from the objects lookup returns. It
// matches ForDirs over the directories the kubelet mounts for them. Errors wrap
// ErrObjectNotFound, ErrKeyNotFound or ErrUnknownVolume.
func ForPod(pod *corev1.Pod, volumes []string, lookup Lookup) (string, error) {
	files, err := PodFiles(pod, volumes, lookup)
	if err != nil {
		return "", err
	}
	return Revision(files), nil
}
