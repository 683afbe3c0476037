package rollout

import (
	"context"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/contract"
)

// unservedAnnotation marks, on the cached copy of a ConfigMap only,
// an object of a namespace that was not enabled for injection when the cache
// last saw it: the cache keeps its identity, not its key digests, so that
// objects no hotreload pod can mount cost the controller nothing. A reconcile
// that needs the digests of one (a pod of a namespace that lost its label, or
// an object listed before its namespace) reads it from the API server
// (Reconciler.served).
const unservedAnnotation = "rollout.hotreload.internal/unserved"

// enabledNamespaces is the set of namespaces labelled for injection, as the
// cache's namespace informer last saw them.
type enabledNamespaces struct {
	mu sync.RWMutex
	m  map[string]bool
}

func (e *enabledNamespaces) set(ns string, enabled bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.m == nil {
		e.m = map[string]bool{}
	}
	if enabled {
		e.m[ns] = true
	} else {
		delete(e.m, ns)
	}
}

func (e *enabledNamespaces) has(ns string) bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.m[ns]
}

// watching returns the namespace transform that also keeps e up to date.
func (e *enabledNamespaces) watching(transform cache.TransformFunc) cache.TransformFunc {
	return func(obj any) (any, error) {
		if ns, ok := obj.(*corev1.Namespace); ok {
			e.set(ns.Name, annotations.InjectionEnabledFor(ns.Labels))
		}
		return transform(obj)
	}
}

// servedOnly returns the transform of ConfigMaps that reduces one of a
// namespace not in e to its identity (unservedAnnotation), and hands the
// others, and hotreload's own copies, to full. (Secrets of such a namespace
// are not watched at all: namespaceSecrets.)
func (e *enabledNamespaces) servedOnly(full cache.TransformFunc) cache.TransformFunc {
	return func(obj any) (any, error) {
		cm, ok := obj.(*corev1.ConfigMap)
		if !ok || e.has(cm.Namespace) || cm.Labels[contract.ManagedByLabel] == contract.ManagedBy {
			return full(obj)
		}
		id := meta(cm.ObjectMeta, map[string]string{unservedAnnotation: "true"})
		id.OwnerReferences = nil
		return &corev1.ConfigMap{ObjectMeta: id}, nil
	}
}

// unserved reports whether o is a cached copy without its key digests.
func unserved(o client.Object) bool { return o.GetAnnotations()[unservedAnnotation] != "" }

// servedReads remembers the objects a reconcile read from the API server for
// being unserved in the cache, by UID and resourceVersion, so that it reads
// each version once. It holds at most maxServedKeys key digests in all,
// forgetting the oldest first. Written here rather than with k8s.io/utils/lru:
// its bound is the digests held, which vary per object from 1 to the key
// limit, and the LRU caches at hand bound the number of entries only.
type servedReads struct {
	mu    sync.Mutex
	m     map[types.UID]servedRead
	order []types.UID
	keys  int
}

type servedRead struct {
	obj  client.Object
	keys int
}

// maxServedKeys bounds the key digests servedReads holds: a few MB.
const maxServedKeys = 20000

// served returns o, a cached ConfigMap or Secret, with its key digests: o
// itself, or for an unserved copy, the object as the API server has it now,
// reduced as the cache reduces an enabled namespace's objects.
func (r *Reconciler) served(ctx context.Context, o client.Object) (client.Object, error) {
	if !unserved(o) {
		return o, nil
	}
	s := &r.reads
	s.mu.Lock()
	if got, ok := s.m[o.GetUID()]; ok && got.obj.GetResourceVersion() == o.GetResourceVersion() {
		s.mu.Unlock()
		return got.obj, nil
	}
	s.mu.Unlock()

	if _, ok := o.(*corev1.ConfigMap); !ok {
		return o, nil // Secrets are cached only for enabled namespaces, with their digests
	}
	fresh := &corev1.ConfigMap{}
	if err := r.API.Get(ctx, client.ObjectKeyFromObject(o), fresh); err != nil {
		return nil, fmt.Errorf("reading %s/%s, of which the cache keeps no digests: %w", o.GetNamespace(), o.GetName(), err)
	}
	out, err := transformConfigMap(fresh)
	if err != nil {
		return nil, err
	}
	got := out.(client.Object)
	n := 0
	if keys, err := keysOf(got); err == nil {
		n = len(keys)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[types.UID]servedRead{}
	}
	if prev, ok := s.m[got.GetUID()]; ok {
		s.keys -= prev.keys
	} else {
		s.order = append(s.order, got.GetUID())
	}
	s.m[got.GetUID()], s.keys = servedRead{got, n}, s.keys+n
	for s.keys > maxServedKeys && len(s.order) > 1 {
		oldest := s.order[0]
		s.order = s.order[1:]
		s.keys -= s.m[oldest].keys
		delete(s.m, oldest)
	}
	return got, nil
}
