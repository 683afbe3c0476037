package rollout

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
	crcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/contract"
	"github.com/hotreload/hotreload/pkg/revision"
)

// keysAnnotation holds, on the cached copy of a ConfigMap or Secret only, the
// digests of its keys: {"key": "hex sha-256", ...}. The cache keeps this
// instead of the data.
const keysAnnotation = "rollout.hotreload.internal/keys"

// overLimitAnnotation holds instead, on the cached copy of a ConfigMap or
// Secret of more than MaxSourceKeys keys, how many it has: such an object
// costs the cache its identity only, whoever made it and wherever.
const overLimitAnnotation = "rollout.hotreload.internal/keys-over-limit"

// MaxSourceKeys is the most keys a ConfigMap or Secret may have for
// hotreload to release it. Kubernetes bounds only the size (1 MiB); a
// ConfigMap of 100,000 empty keys fits, and its digests would take some 7 MB
// of the controller's memory.
const MaxSourceKeys = 2000

// errTooManyKeys means a source has more than MaxSourceKeys keys.
var errTooManyKeys = errors.New("keys: over hotreload's limit")

// cacheOptions are the controller's cluster-wide informers: namespaces and
// releases. Everything else is cached per enabled namespace
// (namespaceCacheOptions, namespaceCaches).
func cacheOptions() crcache.Options {
	return crcache.Options{
		ByObject: map[client.Object]crcache.ByObject{
			&corev1.Namespace{}:       {Transform: transformNamespace},
			&v1alpha1.ConfigRelease{}: {},
		},
		DefaultTransform: crcache.TransformStripManagedFields(),
	}
}

// namespaceCacheOptions are the informers of one enabled namespace, ns: its
// injected pods, its ConfigMaps and Secrets reduced to what rollouts need,
// and its ReplicaSets' owners.
func namespaceCacheOptions(ns string) crcache.Options {
	return crcache.Options{
		DefaultNamespaces: map[string]crcache.Config{ns: {}},
		ByObject: map[client.Object]crcache.ByObject{
			&corev1.Pod{}: {
				Label:     labels.SelectorFromSet(labels.Set{annotations.EnableLabel: annotations.EnableValue}),
				Transform: transformPod,
			},
			&corev1.ConfigMap{}: {Transform: transformConfigMap},
			&corev1.Secret{}:    {Transform: transformSecret},
			replicaSetMeta():    {Transform: transformOwners},
		},
		DefaultTransform: crcache.TransformStripManagedFields(),
	}
}

// replicaSetMeta is the metadata-only object the cache keeps of ReplicaSets:
// their owners, which lead from a pod to its Deployment or Rollout.
func replicaSetMeta() *metav1.PartialObjectMetadata {
	rs := &metav1.PartialObjectMetadata{}
	rs.SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))
	return rs
}

// transformOwners keeps an object's identity and owners.
func transformOwners(obj any) (any, error) {
	o, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok {
		return obj, nil
	}
	return &metav1.PartialObjectMetadata{TypeMeta: o.TypeMeta, ObjectMeta: meta(o.ObjectMeta, nil)}, nil
}

var (
	_ cache.TransformFunc = transformPod
	_ cache.TransformFunc = transformConfigMap
)

// meta keeps the identity of an object and the given annotations.
func meta(m metav1.ObjectMeta, ann map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion,
		Generation: m.Generation, CreationTimestamp: m.CreationTimestamp, DeletionTimestamp: m.DeletionTimestamp,
		OwnerReferences: m.OwnerReferences, Annotations: ann}
}

// hotreloadOnly returns the entries of m whose key starts with hotreload/.
func hotreloadOnly(m map[string]string) map[string]string {
	var out map[string]string
	for k, v := range m {
		if strings.HasPrefix(k, annotations.Prefix) {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = v
		}
	}
	return out
}

// podAnnotationsRead are the pod annotations rollouts read. (Not the token
// exchange's record, rewritten at every exchange: without it an exchange
// leaves the cached pod as it was, podChanged.)
var podAnnotationsRead = []string{annotations.Injected, annotations.Released, annotations.Candidates, annotations.Failed,
	annotations.AppliedAt, annotations.Rollout, annotations.RolloutInterval, annotations.Pinned, annotations.Restart}

// maxPodAnnotation bounds each annotation the cache keeps of a pod: hotreload
// writes none over 1 KiB, and a rollout setting is a few bytes.
const maxPodAnnotation = 4 << 10

// podAnnotationsOf returns the annotations of a pod that rollouts read, and,
// when one is over maxPodAnnotation (left out), why the pod cannot take
// part in rollouts.
func podAnnotationsOf(m map[string]string) (map[string]string, string) {
	out := map[string]string{}
	var over []string
	for _, k := range podAnnotationsRead {
		v, ok := m[k]
		switch {
		case !ok:
		case len(v) > maxPodAnnotation:
			over = append(over, fmt.Sprintf("%s (%d bytes)", k, len(v)))
		default:
			out[k] = v
		}
	}
	if len(over) > 0 {
		return out, fmt.Sprintf("annotation %s over hotreload's limit of %d bytes", strings.Join(over, ", "), maxPodAnnotation)
	}
	return out, ""
}

// transformPod keeps what rollouts read: identity, owners, hotreload/ labels,
// the annotations rollouts read (each bounded), reloadable volumes, what it reads of the reloader's command
// line (parsed once, here, into reloaderAnnotation), the Ready condition and
// the app containers' last terminations; and, for the admission warnings'
// Events, the labels that say the pod's template and the digest of its
// warnings (warningsAnnotation).
func transformPod(obj any) (any, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	ann, oversized := podAnnotationsOf(pod.Annotations)
	if v, ok := pod.Annotations[annotations.Warnings]; ok {
		ann[warningsAnnotation] = warningsDigest(v)
	} else if d, ok := pod.Annotations[warningsAnnotation]; ok {
		ann[warningsAnnotation] = d // transformed already
	}
	out := &corev1.Pod{ObjectMeta: meta(pod.ObjectMeta, ann)}
	out.Labels = podLabelsOf(pod.Labels)
	for _, v := range pod.Spec.Volumes {
		if revision.Reloadable(v) {
			out.Spec.Volumes = append(out.Spec.Volumes, v)
		}
	}
	if raw, ok := pod.Annotations[reloaderAnnotation]; ok {
		out.Annotations[reloaderAnnotation] = raw // transformed already
	} else if info, ok := readReloader(pod); ok {
		info.Oversized = oversized
		raw, err := json.Marshal(info)
		if err != nil {
			return nil, fmt.Errorf("encoding the reloader of pod %s/%s: %w", pod.Namespace, pod.Name, err)
		}
		out.Annotations[reloaderAnnotation] = string(raw)
	}
	if raw, ok := pod.Annotations[restartsAnnotation]; ok {
		out.Annotations[restartsAnnotation] = raw // transformed already
	} else if restarts := readRestarts(pod); len(restarts) > 0 {
		raw, err := json.Marshal(restarts)
		if err != nil {
			return nil, fmt.Errorf("encoding what pod %s/%s reads: %w", pod.Namespace, pod.Name, err)
		}
		out.Annotations[restartsAnnotation] = string(raw)
	}
	out.Status.Phase = pod.Status.Phase
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			out.Status.Conditions = []corev1.PodCondition{{Type: c.Type, Status: c.Status, LastTransitionTime: c.LastTransitionTime}}
		}
	}
	for _, s := range pod.Status.ContainerStatuses {
		out.Status.ContainerStatuses = append(out.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: s.Name, RestartCount: s.RestartCount, LastTerminationState: s.LastTerminationState})
	}
	for _, s := range sidecarStatuses(pod) { // the app's own native sidecars
		if !strings.HasPrefix(s.Name, contract.ReservedPrefix) {
			out.Status.InitContainerStatuses = append(out.Status.InitContainerStatuses, corev1.ContainerStatus{
				Name: s.Name, RestartCount: s.RestartCount, LastTerminationState: s.LastTerminationState})
		}
	}
	return out, nil
}

// podLabelsOf returns the labels of a pod the cache keeps: the hotreload/
// ones and templateLabels.
func podLabelsOf(l map[string]string) map[string]string {
	out := hotreloadOnly(l)
	for _, k := range templateLabels {
		if v, ok := l[k]; ok {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = v
		}
	}
	return out
}

// podChanged reports whether a pod update changed what rollouts read of the
// pod (transformPod's copy): an update that changed only what transformPod
// drops (the app's own labels, the token exchange's record, most of its
// status) gives the two copies but for their resourceVersion, and enqueues
// nothing.
func podChanged(old, updated *corev1.Pod) bool {
	if old == nil || updated == nil {
		return true
	}
	o, u := *old, *updated
	o.ResourceVersion, u.ResourceVersion = "", ""
	return !equality.Semantic.DeepEqual(&o, &u)
}

// transformConfigMap replaces a ConfigMap's data by the digests of its keys.
func transformConfigMap(obj any) (any, error) {
	cm, ok := obj.(*corev1.ConfigMap)
	if !ok || (cm.Data == nil && cm.BinaryData == nil && transformed(cm.Annotations)) {
		return obj, nil
	}
	m, err := keyedMeta(cm.ObjectMeta, revision.ConfigMapKeys(cm))
	if err != nil {
		return nil, err
	}
	return &corev1.ConfigMap{ObjectMeta: m}, nil
}

// transformSecret replaces a Secret's data by the digests of its keys.
func transformSecret(obj any) (any, error) {
	s, ok := obj.(*corev1.Secret)
	if !ok || (s.Data == nil && transformed(s.Annotations)) {
		return obj, nil
	}
	m, err := keyedMeta(s.ObjectMeta, revision.SecretKeys(s))
	if err != nil {
		return nil, err
	}
	return &corev1.Secret{ObjectMeta: m}, nil
}

// sourceAnnotationsRead are the annotations of a ConfigMap or Secret that
// rollouts read: whether hotreload leaves it alone, and its halt policy.
var sourceAnnotationsRead = []string{annotations.Ignore, annotations.OnHalt}

// maxSourceAnnotation bounds each of them in the cache: their values are a
// word; a longer one is taken as absent.
const maxSourceAnnotation = 256

// keyedMeta returns the identity of an object with its key digests in
// keysAnnotation, and the annotations rollouts read of it.
func keyedMeta(m metav1.ObjectMeta, keys revision.Keys) (metav1.ObjectMeta, error) {
	ann := map[string]string{overLimitAnnotation: strconv.Itoa(len(keys))}
	if len(keys) <= MaxSourceKeys {
		enc := make(map[string]string, len(keys))
		for k, d := range keys {
			enc[k] = hex.EncodeToString(d[:])
		}
		b, err := json.Marshal(enc)
		if err != nil {
			return metav1.ObjectMeta{}, fmt.Errorf("encoding the key digests of %s/%s: %w", m.Namespace, m.Name, err)
		}
		ann = map[string]string{keysAnnotation: string(b)}
	}
	if out := keptLabelsOf(m.Labels); out != nil && m.Annotations[keptForAnnotation] != "" {
		ann[keptForAnnotation] = m.Annotations[keptForAnnotation]
	}
	for _, k := range sourceAnnotationsRead {
		if v, ok := m.Annotations[k]; ok && len(v) <= maxSourceAnnotation {
			ann[k] = v
		}
	}
	out := meta(m, ann)
	out.OwnerReferences = nil
	out.Labels = keptLabelsOf(m.Labels)
	return out, nil
}

// keptLabelsOf returns the labels hotreload reads on a ConfigMap or Secret:
// those of the objects it keeps (contract.ManagedByLabel and hotreload.dev/).
func keptLabelsOf(l map[string]string) map[string]string {
	if l[contract.ManagedByLabel] != contract.ManagedBy {
		return nil
	}
	out := map[string]string{contract.ManagedByLabel: contract.ManagedBy}
	for k, v := range l {
		if strings.HasPrefix(k, "hotreload.dev/") {
			out[k] = v
		}
	}
	return out
}

// transformed reports whether an object's annotations are those the
// transform leaves.
func transformed(ann map[string]string) bool {
	return ann[keysAnnotation] != "" || ann[overLimitAnnotation] != ""
}

// overLimit returns errTooManyKeys, with the count, for a cached object over
// MaxSourceKeys, without decoding anything.
func overLimit(obj client.Object) error {
	if n := obj.GetAnnotations()[overLimitAnnotation]; n != "" {
		return fmt.Errorf("%s/%s has %s %w of %d", obj.GetNamespace(), obj.GetName(), n, errTooManyKeys, MaxSourceKeys)
	}
	return nil
}

// keysOf decodes the key digests the transform stored on a cached object;
// errTooManyKeys for an object over MaxSourceKeys.
func keysOf(obj client.Object) (revision.Keys, error) {
	if err := overLimit(obj); err != nil {
		return nil, err
	}
	var enc map[string]string
	if err := json.Unmarshal([]byte(obj.GetAnnotations()[keysAnnotation]), &enc); err != nil {
		return nil, fmt.Errorf("key digests of %s/%s: %w", obj.GetNamespace(), obj.GetName(), err)
	}
	keys := make(revision.Keys, len(enc))
	for k, h := range enc {
		var d revision.Digest
		if n, err := hex.Decode(d[:], []byte(h)); err != nil || n != len(d) {
			return nil, fmt.Errorf("key digests of %s/%s: key %q: bad digest", obj.GetNamespace(), obj.GetName(), k)
		}
		keys[k] = d
	}
	return keys, nil
}

// transformNamespace keeps a namespace's identity and hotreload/ labels and
// annotations.
func transformNamespace(obj any) (any, error) {
	ns, ok := obj.(*corev1.Namespace)
	if !ok {
		return obj, nil
	}
	out := &corev1.Namespace{ObjectMeta: meta(ns.ObjectMeta, hotreloadOnly(ns.Annotations))}
	out.Labels = hotreloadOnly(ns.Labels)
	return out, nil
}
