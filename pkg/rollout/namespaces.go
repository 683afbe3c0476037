package rollout

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	toolscache "k8s.io/client-go/tools/cache"
	crcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/hotreload/hotreload/pkg/annotations"
)

// The controller caches only what enabled namespaces hold
// (docs/design/2026-12-07-release-integrity.md): its cluster-wide cache keeps
// namespaces and releases; each enabled namespace gets a cache of its own,
// started when the namespace is seen enabled and stopped when it is no
// longer, with its opted-in pods, its ConfigMaps and Secrets reduced to key
// digests and its ReplicaSets' owners. Nothing of another namespace is
// listed, watched or read, and the controller writes nothing there. (Secrets
// could not be read elsewhere anyway: the controller holds that right only
// in enabled namespaces, by the RoleBinding the access reconciler makes.)

var (
	// errNotWatched: the object's namespace is not enabled, and the
	// controller reads nothing there.
	errNotWatched = errors.New("its namespace is not enabled for injection: hotreload reads nothing there")
	// errNotSynced: the namespace's cache has not listed its objects yet (it
	// retries until the controller's RoleBinding there is made).
	errNotSynced = errors.New("the objects of its namespace are not listed yet")
)

// namespaceEvents are where the namespaces' informers send what they see.
type namespaceEvents struct {
	// pods are the pods whose change the release controller reads.
	pods chan event.TypedGenericEvent[*corev1.Pod]
	// uninjected are the opted-in pods without the sidecar, for the
	// not-injected check.
	uninjected chan event.TypedGenericEvent[*corev1.Pod]
	// warned are the pods with admission warnings not seen before, for
	// the reconcile that says them on the workload.
	warned     chan event.TypedGenericEvent[*corev1.Pod]
	configMaps chan event.TypedGenericEvent[*corev1.ConfigMap]
	secrets    chan event.TypedGenericEvent[*corev1.Secret]
}

// namespaceCaches keeps one cache per enabled namespace.
type namespaceCaches struct {
	// newCache makes the cache of one namespace.
	newCache func(namespace string) (crcache.Cache, error)
	// namespaces is the cache whose Namespace informer says which are enabled.
	namespaces crcache.Informers
	events     namespaceEvents
	log        logr.Logger
	metrics    *Metrics

	mu   sync.Mutex
	ctx  context.Context // the leader's, from Start
	byNS map[string]*namespaceCache
}

// namespaceCache is the cache of one namespace.
type namespaceCache struct {
	cache  crcache.Cache
	synced func() bool
	stop   context.CancelFunc
}

func newNamespaceCaches(namespaces crcache.Informers, newCache func(string) (crcache.Cache, error), m *Metrics, log logr.Logger) *namespaceCaches {
	return &namespaceCaches{
		newCache: newCache, namespaces: namespaces, metrics: m, log: log,
		events: namespaceEvents{
			pods:       make(chan event.TypedGenericEvent[*corev1.Pod]),
			uninjected: make(chan event.TypedGenericEvent[*corev1.Pod]),
			warned:     make(chan event.TypedGenericEvent[*corev1.Pod]),
			configMaps: make(chan event.TypedGenericEvent[*corev1.ConfigMap]),
			secrets:    make(chan event.TypedGenericEvent[*corev1.Secret]),
		},
		byNS: map[string]*namespaceCache{},
	}
}

// NeedLeaderElection implements manager.LeaderElectionRunnable: the
// caches run on the leader only, as the rest of the controller's.
func (*namespaceCaches) NeedLeaderElection() bool { return true }

// Start follows the namespaces until ctx ends, then stops every cache.
func (s *namespaceCaches) Start(ctx context.Context) error {
	s.mu.Lock()
	s.ctx = ctx
	s.mu.Unlock()
	inf, err := s.namespaces.GetInformer(ctx, &corev1.Namespace{})
	if err != nil {
		return fmt.Errorf("watching namespaces: %w", err)
	}
	follow := func(obj any) {
		if ns, ok := obj.(*corev1.Namespace); ok {
			s.follow(ns.Name, annotations.NamespaceServed(ns))
		}
	}
	reg, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    follow,
		UpdateFunc: func(_, obj any) { follow(obj) },
		DeleteFunc: func(obj any) {
			if ns, ok := deleted(obj).(*corev1.Namespace); ok {
				s.follow(ns.Name, false)
			}
		},
	})
	if err != nil {
		return fmt.Errorf("watching namespaces: %w", err)
	}
	<-ctx.Done()
	_ = inf.RemoveEventHandler(reg)
	s.mu.Lock()
	defer s.mu.Unlock()
	for ns, i := range s.byNS {
		i.stop()
		delete(s.byNS, ns)
		s.metrics.namespaceListed(ns, false, false)
	}
	return nil
}

// follow starts or stops the cache of namespace ns.
func (s *namespaceCaches) follow(ns string, enabled bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, running := s.byNS[ns]
	switch {
	case s.ctx == nil || s.ctx.Err() != nil || enabled == running:
		return
	case !enabled:
		i.stop()
		delete(s.byNS, ns)
		s.metrics.namespaceListed(ns, false, false)
		s.log.V(1).Info("stopped watching a namespace no longer enabled", "namespace", ns)
		return
	}
	i, err := s.start(ns)
	if err != nil {
		// Not expected (no API call is made here); the next update of the
		// namespace tries again.
		s.log.Error(err, "can not watch an enabled namespace", "namespace", ns)
		return
	}
	s.byNS[ns] = i
	s.metrics.namespaceListed(ns, true, false)
	s.log.V(1).Info("watching an enabled namespace", "namespace", ns)
}

// start runs the cache of namespace ns. s.mu is held.
func (s *namespaceCaches) start(ns string) (*namespaceCache, error) {
	c, err := s.newCache(ns)
	if err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(s.ctx)
	var synced []toolscache.InformerSynced
	watch := func(obj client.Object, h toolscache.ResourceEventHandler) error {
		inf, err := c.GetInformer(ctx, obj, crcache.BlockUntilSynced(false))
		if err != nil {
			return err
		}
		synced = append(synced, inf.HasSynced)
		if h == nil {
			return nil
		}
		_, err = inf.AddEventHandler(h)
		return err
	}
	err = errors.Join(
		watch(&corev1.Pod{}, podHandler(ctx, s.events)),
		watch(&corev1.ConfigMap{}, sending(ctx, s.events.configMaps)),
		watch(&corev1.Secret{}, sending(ctx, s.events.secrets)),
		watch(replicaSetMeta(), nil),
	)
	if err != nil {
		stop()
		return nil, err
	}
	go func() {
		if err := c.Start(ctx); err != nil {
			s.log.Error(err, "watching a namespace", "namespace", ns)
		}
	}()
	i := &namespaceCache{cache: c, stop: stop, synced: func() bool {
		for _, f := range synced {
			if !f() {
				return false
			}
		}
		return true
	}}
	go func() {
		if !toolscache.WaitForCacheSync(ctx.Done(), synced...) {
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.byNS[ns] == i {
			s.metrics.namespaceListed(ns, true, true)
		}
	}()
	return i, nil
}

// sending is an informer's handler that sends every object it is told of to
// ch, until ctx ends.
func sending[T client.Object](ctx context.Context, ch chan<- event.TypedGenericEvent[T]) toolscache.ResourceEventHandler {
	send := func(obj any) {
		if o, ok := deleted(obj).(T); ok {
			select {
			case ch <- event.TypedGenericEvent[T]{Object: o}:
			case <-ctx.Done():
			}
		}
	}
	return toolscache.ResourceEventHandlerFuncs{AddFunc: send, UpdateFunc: func(_, obj any) { send(obj) }, DeleteFunc: send}
}

// podHandler sends the release controller the pods whose change it reads
// (podChanged), the not-injected check the opted-in pods without the
// sidecar, and the admission warnings' reconcile the pods whose warnings it
// has not seen (added, or changed).
func podHandler(ctx context.Context, ev namespaceEvents) toolscache.ResourceEventHandler {
	send := func(ch chan<- event.TypedGenericEvent[*corev1.Pod], pod *corev1.Pod) {
		select {
		case ch <- event.TypedGenericEvent[*corev1.Pod]{Object: pod}:
		case <-ctx.Done():
		}
	}
	seen := func(old, pod *corev1.Pod) {
		if podChanged(old, pod) {
			send(ev.pods, pod)
		}
		if _, injected := annotations.InjectedOf(pod.Annotations); !injected && annotations.Enabled(pod.Labels) {
			send(ev.uninjected, pod)
		}
		if w := pod.Annotations[warningsAnnotation]; w != "" && (old == nil || old.Annotations[warningsAnnotation] != w) {
			send(ev.warned, pod)
		}
	}
	return toolscache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if pod, ok := obj.(*corev1.Pod); ok {
				seen(nil, pod)
			}
		},
		UpdateFunc: func(old, obj any) {
			o, _ := old.(*corev1.Pod)
			if pod, ok := obj.(*corev1.Pod); ok {
				seen(o, pod)
			}
		},
		DeleteFunc: func(obj any) {
			if pod, ok := deleted(obj).(*corev1.Pod); ok {
				send(ev.pods, pod)
			}
		},
	}
}

// deleted is the object of an informer's delete notification, which is a
// tombstone when the informer missed the deletion.
func deleted(obj any) any {
	if d, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		return d.Obj
	}
	return obj
}

// reader returns the cache of namespace ns, once it has listed everything.
func (s *namespaceCaches) reader(ns string) (client.Reader, error) {
	s.mu.Lock()
	i := s.byNS[ns]
	s.mu.Unlock()
	switch {
	case i == nil:
		return nil, errNotWatched
	case !i.synced():
		return nil, errNotSynced
	}
	return i.cache, nil
}

// watchErrors logs an informer's list and watch errors: a Forbidden one at
// debug level only, as it is expected for the moment between a namespace's
// label and the controller's RoleBinding there (the informer retries).
func watchErrors(log logr.Logger, ns string) toolscache.WatchErrorHandlerWithContext {
	return func(_ context.Context, _ *toolscache.Reflector, err error) {
		if apierrors.IsForbidden(err) {
			log.V(1).Info("not allowed to read a namespace's objects yet; retrying", "namespace", ns, "error", err.Error())
			return
		}
		log.Error(err, "watching a namespace", "namespace", ns)
	}
}

// routed is the controller's cache: namespaces and releases from the
// cluster-wide cache, pods, ConfigMaps, Secrets and ReplicaSets from the cache
// of their namespace.
type routed struct {
	crcache.Cache
	namespaces *namespaceCaches
}

// perNamespace reports whether objects of obj's type are read from the cache
// of their namespace.
func perNamespace(obj runtime.Object) bool {
	switch obj.(type) {
	case *corev1.Pod, *corev1.PodList, *corev1.ConfigMap, *corev1.ConfigMapList, *corev1.Secret, *corev1.SecretList,
		*metav1.PartialObjectMetadata, *metav1.PartialObjectMetadataList:
		return true
	}
	return false
}

// Get implements client.Reader.
func (c routed) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if !perNamespace(obj) {
		return c.Cache.Get(ctx, key, obj, opts...)
	}
	r, err := c.namespaces.reader(key.Namespace)
	if err != nil {
		return fmt.Errorf("reading %s: %w", key, err)
	}
	return r.Get(ctx, key, obj, opts...)
}

// List implements client.Reader; pods, ConfigMaps, Secrets and ReplicaSets
// are listed in one namespace only.
func (c routed) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	if !perNamespace(list) {
		return c.Cache.List(ctx, list, opts...)
	}
	ns := (&client.ListOptions{}).ApplyOptions(opts).Namespace
	if ns == "" {
		return errors.New("hotreload lists pods, ConfigMaps and Secrets in enabled namespaces only, one namespace at a time")
	}
	r, err := c.namespaces.reader(ns)
	if err != nil {
		return fmt.Errorf("listing in %s: %w", ns, err)
	}
	return r.List(ctx, list, opts...)
}
