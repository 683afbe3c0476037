package rollout

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	toolscache "k8s.io/client-go/tools/cache"
	crcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/hotreload/hotreload/pkg/annotations"
)

// The controller reads no Secret outside the namespaces enabled for injection:
// it holds the right to only there (the RoleBinding hotreload-controller the
// access reconciler makes with the label, and removes with it). So Secrets are
// not in its cluster-wide cache: namespaceSecrets runs one Secret informer per
// enabled namespace, started when the namespace is seen enabled and stopped
// when it is no longer, and the reconciler reads Secrets through it.

var (
	// errSecretsNotWatched: the Secret's namespace is not enabled, and the
	// controller does not read its Secrets.
	errSecretsNotWatched = errors.New("its namespace is not enabled for injection: hotreload reads no Secret there")
	// errSecretsNotSynced: the namespace's Secret informer has not listed
	// them yet (it retries until the controller's RoleBinding there is made).
	errSecretsNotSynced = errors.New("the Secrets of its namespace are not listed yet")
)

// namespaceSecrets keeps one Secret informer per enabled namespace. Its
// informers send each Secret they see to events.
type namespaceSecrets struct {
	// newCache makes the cache of one namespace's Secrets.
	newCache func(namespace string) (crcache.Cache, error)
	// namespaces is the cache whose Namespace informer says which are enabled.
	namespaces crcache.Informers
	events     chan event.TypedGenericEvent[*corev1.Secret]
	log        logr.Logger
	metrics    *Metrics

	mu   sync.Mutex
	ctx  context.Context // the leader's, from Start
	byNS map[string]*secretInformer
}

// secretInformer is the Secret cache of one namespace.
type secretInformer struct {
	cache  crcache.Cache
	synced func() bool
	stop   context.CancelFunc
}

func newNamespaceSecrets(namespaces crcache.Informers, newCache func(string) (crcache.Cache, error), m *Metrics, log logr.Logger) *namespaceSecrets {
	return &namespaceSecrets{
		newCache: newCache, namespaces: namespaces, metrics: m, log: log,
		events: make(chan event.TypedGenericEvent[*corev1.Secret]),
		byNS:   map[string]*secretInformer{},
	}
}

// NeedLeaderElection implements manager.LeaderElectionRunnable: the
// informers run on the leader only, as the rest of the controller's cache.
func (*namespaceSecrets) NeedLeaderElection() bool { return true }

// Start follows the namespaces until ctx ends, then stops every informer.
func (s *namespaceSecrets) Start(ctx context.Context) error {
	s.mu.Lock()
	s.ctx = ctx
	s.mu.Unlock()
	inf, err := s.namespaces.GetInformer(ctx, &corev1.Namespace{})
	if err != nil {
		return fmt.Errorf("watching namespaces for their Secrets: %w", err)
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
		return fmt.Errorf("watching namespaces for their Secrets: %w", err)
	}
	<-ctx.Done()
	_ = inf.RemoveEventHandler(reg)
	s.mu.Lock()
	defer s.mu.Unlock()
	for ns, i := range s.byNS {
		i.stop()
		delete(s.byNS, ns)
		s.metrics.secretsListed(ns, false, false)
	}
	return nil
}

// follow starts or stops the Secret informer of namespace ns.
func (s *namespaceSecrets) follow(ns string, enabled bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, running := s.byNS[ns]
	switch {
	case s.ctx == nil || s.ctx.Err() != nil || enabled == running:
		return
	case !enabled:
		i.stop()
		delete(s.byNS, ns)
		s.metrics.secretsListed(ns, false, false)
		s.log.V(1).Info("stopped watching the Secrets of a namespace no longer enabled", "namespace", ns)
		return
	}
	i, err := s.start(ns)
	if err != nil {
		// Not expected (no API call is made here); the next update of the
		// namespace tries again.
		s.log.Error(err, "can not watch the Secrets of an enabled namespace", "namespace", ns)
		return
	}
	s.byNS[ns] = i
	s.metrics.secretsListed(ns, true, false)
	s.log.V(1).Info("watching the Secrets of an enabled namespace", "namespace", ns)
}

// start runs the Secret informer of namespace ns. s.mu is held.
func (s *namespaceSecrets) start(ns string) (*secretInformer, error) {
	c, err := s.newCache(ns)
	if err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(s.ctx)
	inf, err := c.GetInformer(ctx, &corev1.Secret{}, crcache.BlockUntilSynced(false))
	if err != nil {
		stop()
		return nil, err
	}
	send := func(obj any) {
		if o, ok := deleted(obj).(*corev1.Secret); ok {
			select {
			case s.events <- event.TypedGenericEvent[*corev1.Secret]{Object: o}:
			case <-ctx.Done():
			}
		}
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc: send, UpdateFunc: func(_, obj any) { send(obj) }, DeleteFunc: send,
	}); err != nil {
		stop()
		return nil, err
	}
	go func() {
		if err := c.Start(ctx); err != nil {
			s.log.Error(err, "watching the Secrets of a namespace", "namespace", ns)
		}
	}()
	i := &secretInformer{cache: c, synced: inf.HasSynced, stop: stop}
	go func() {
		if !toolscache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.byNS[ns] == i {
			s.metrics.secretsListed(ns, true, true)
		}
	}()
	return i, nil
}

// deleted is the object of an informer's delete notification, which is a
// tombstone when the informer missed the deletion.
func deleted(obj any) any {
	if d, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		return d.Obj
	}
	return obj
}

// reader returns the cache of namespace ns's Secrets, once it has listed them.
func (s *namespaceSecrets) reader(ns string) (client.Reader, error) {
	s.mu.Lock()
	i := s.byNS[ns]
	s.mu.Unlock()
	switch {
	case i == nil:
		return nil, errSecretsNotWatched
	case !i.synced():
		return nil, errSecretsNotSynced
	}
	return i.cache, nil
}

// watchErrors logs an informer's list and watch errors: a Forbidden one at
// debug level only, as it is expected for the moment between a namespace's
// label and the controller's RoleBinding there (the informer retries).
func watchErrors(log logr.Logger, ns string) toolscache.WatchErrorHandlerWithContext {
	return func(_ context.Context, _ *toolscache.Reflector, err error) {
		if apierrors.IsForbidden(err) {
			log.V(1).Info("not allowed to read the Secrets of a namespace yet; retrying", "namespace", ns, "error", err.Error())
			return
		}
		log.Error(err, "watching the Secrets of a namespace", "namespace", ns)
	}
}

// secretsRouted is the controller's cache with its Secrets read from the
// informer of their namespace.
type secretsRouted struct {
	crcache.Cache
	secrets *namespaceSecrets
}

// Get implements client.Reader.
func (c secretsRouted) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if _, ok := obj.(*corev1.Secret); !ok {
		return c.Cache.Get(ctx, key, obj, opts...)
	}
	r, err := c.secrets.reader(key.Namespace)
	if err != nil {
		return fmt.Errorf("reading Secret %s: %w", key, err)
	}
	return r.Get(ctx, key, obj, opts...)
}

// List implements client.Reader; Secrets are listed in one namespace only.
func (c secretsRouted) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	if _, ok := list.(*corev1.SecretList); !ok {
		return c.Cache.List(ctx, list, opts...)
	}
	ns := (&client.ListOptions{}).ApplyOptions(opts).Namespace
	if ns == "" {
		return errors.New("listing Secrets: hotreload reads them in enabled namespaces only, one namespace at a time")
	}
	r, err := c.secrets.reader(ns)
	if err != nil {
		return fmt.Errorf("listing the Secrets of %s: %w", ns, err)
	}
	return r.List(ctx, list, opts...)
}
