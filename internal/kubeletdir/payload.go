package kubeletdir

import (
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// DefaultMode is the mode the API server defaults defaultMode to.
const DefaultMode fs.FileMode = 0o644

// Objects holds the ConfigMaps and Secrets of a namespace, by name, and the
// pod whose metadata downwardAPI items project.
type Objects struct {
	ConfigMaps map[string]*corev1.ConfigMap
	Secrets    map[string]*corev1.Secret
	Pod        *corev1.Pod
}

// Payload returns what the kubelet projects into a configMap, secret or
// projected volume (configMap, secret and downwardAPI fieldRef sources),
// following its MakePayload functions: items select and place keys; a missing
// optional object or key is skipped, a missing required one is an error.
func Payload(v corev1.Volume, objs Objects) (map[string]File, error) {
	out := map[string]File{}
	switch {
	case v.ConfigMap != nil:
		return out, objs.configMap(out, v.ConfigMap.Name, v.ConfigMap.Items, v.ConfigMap.Optional, v.ConfigMap.DefaultMode)
	case v.Secret != nil:
		return out, objs.secret(out, v.Secret.SecretName, v.Secret.Items, v.Secret.Optional, v.Secret.DefaultMode)
	case v.Projected != nil:
		for _, s := range v.Projected.Sources {
			var err error
			switch {
			case s.ConfigMap != nil:
				err = objs.configMap(out, s.ConfigMap.Name, s.ConfigMap.Items, s.ConfigMap.Optional, v.Projected.DefaultMode)
			case s.Secret != nil:
				err = objs.secret(out, s.Secret.Name, s.Secret.Items, s.Secret.Optional, v.Projected.DefaultMode)
			case s.DownwardAPI != nil:
				err = objs.downwardAPI(out, s.DownwardAPI.Items, v.Projected.DefaultMode)
			}
			if err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("volume %q has no configMap, secret or projected source", v.Name)
}

func (o Objects) configMap(out map[string]File, name string, items []corev1.KeyToPath, optional *bool, defMode *int32) error {
	cm, ok := o.ConfigMaps[name]
	if !ok {
		if optional != nil && *optional {
			return nil
		}
		return fmt.Errorf("configmap %q not found", name)
	}
	data := map[string][]byte{}
	for k, s := range cm.Data {
		data[k] = []byte(s)
	}
	for k, b := range cm.BinaryData {
		data[k] = b
	}
	return place(out, data, items, optional, defMode)
}

func (o Objects) secret(out map[string]File, name string, items []corev1.KeyToPath, optional *bool, defMode *int32) error {
	s, ok := o.Secrets[name]
	if !ok {
		if optional != nil && *optional {
			return nil
		}
		return fmt.Errorf("secret %q not found", name)
	}
	return place(out, s.Data, items, optional, defMode)
}

func place(out map[string]File, data map[string][]byte, items []corev1.KeyToPath, optional *bool, defMode *int32) error {
	mode := DefaultMode
	if defMode != nil {
		mode = fs.FileMode(*defMode)
	}
	if len(items) == 0 {
		for k, b := range data {
			out[k] = File{Data: b, Mode: mode}
		}
		return nil
	}
	for _, it := range items {
		b, ok := data[it.Key]
		if !ok {
			if optional != nil && *optional {
				continue
			}
			return fmt.Errorf("references non-existent key %q", it.Key)
		}
		m := mode
		if it.Mode != nil {
			m = fs.FileMode(*it.Mode)
		}
		out[path.Clean(it.Path)] = File{Data: b, Mode: m}
	}
	return nil
}

// downwardAPI places the pod fields that items name, formatted as the
// kubelet's fieldpath package does (maps as sorted key="value" lines).
func (o Objects) downwardAPI(out map[string]File, items []corev1.DownwardAPIVolumeFile, defMode *int32) error {
	pod := o.Pod
	if pod == nil {
		pod = &corev1.Pod{}
	}
	for _, it := range items {
		if it.FieldRef == nil {
			return fmt.Errorf("downwardAPI item %q: only fieldRef items are supported", it.Path)
		}
		var v string
		switch fp := it.FieldRef.FieldPath; fp {
		case "metadata.name":
			v = pod.Name
		case "metadata.namespace":
			v = pod.Namespace
		case "metadata.uid":
			v = string(pod.UID)
		case "metadata.labels":
			v = formatMap(pod.Labels)
		case "metadata.annotations":
			v = formatMap(pod.Annotations)
		default:
			return fmt.Errorf("downwardAPI item %q: unsupported field %q", it.Path, fp)
		}
		mode := DefaultMode
		if defMode != nil {
			mode = fs.FileMode(*defMode)
		}
		if it.Mode != nil {
			mode = fs.FileMode(*it.Mode)
		}
		out[path.Clean(it.Path)] = File{Data: []byte(v), Mode: mode}
	}
	return nil
}

func formatMap(m map[string]string) string {
	var lines []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		lines = append(lines, fmt.Sprintf("%v=%q", k, m[k]))
	}
	return strings.Join(lines, "\n")
}
