package rollout

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/cache"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/lru"
	crcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/notify"
	"github.com/hotreload/hotreload/pkg/revision"
)

// Name is the controller's name: in logs, and the reporting controller of its Events.
const Name = "hotreload-rollout"

// Options configure the rollout controller.
type Options struct {
	// Registry receives the rollout metrics. Default: controller-runtime's
	// metrics.Registry.
	Registry prometheus.Registerer
	// Recorder records the rollout Events. Default: one that writes each
	// as an events.k8s.io/v1 Event, reported by Name.
	Recorder events.EventRecorder
	// Workers is how many groups are reconciled at once. Default 4.
	Workers int
	// Patchers is how many pod patches one release sends at once. Default 16.
	Patchers int
	// QPS and Burst bound the controller's writes (pod patches and Events),
	// on a client of its own (default DefaultQPS and DefaultBurst).
	QPS   float32
	Burst int
	// SourceGrace is how long a release outlives its deleted source.
	// Default DefaultSourceGrace.
	SourceGrace time.Duration
	// RetryBackoff is the wait before a halted candidate's first automatic
	// retry (hotreload/on-halt: retry); the later waits are the same
	// multiples of it. Default DefaultRetryBackoff; tests shorten it.
	RetryBackoff time.Duration
	// Notifier, when set, is handed a release's halts, rollbacks,
	// completions and commands as they are recorded.
	Notifier Notifier
}

// Notifier takes a release's outcomes to wherever a team reads them
// (notify.Notifier); Notify must not block.
type Notifier interface {
	Notify(notify.Notification)
}

// DefaultQPS and DefaultBurst bound the controller's own client. A release
// costs one pod patch per pod, so they bound how fast a step reaches its
// pods: 10,000 pods in 33 s at the least. On a 2-core machine the API server
// takes about 270 patches a second, so it, not this limit, is the bound
// there; a larger API server's priority and fairness bounds what it lets
// through.
const (
	DefaultQPS   = 300
	DefaultBurst = 600
)

// indexSources indexes the controller's pod cache by the sources their
// reloaded volumes project (SourceRef.Key).
const indexSources = "rollout.hotreload/sources"

// Setup adds the rollout controller to mgr. It runs only while mgr holds the
// leadership, with its own cache (injected pods; ConfigMaps hashed, their data
// dropped; releases; ReplicaSets' owners; Secrets hashed likewise, by one
// informer per enabled namespace), which also starts only then. mgr's scheme
// must hold the ConfigRelease API.
func Setup(mgr manager.Manager, opts Options) error {
	if opts.Registry == nil {
		opts.Registry = metrics.Registry
	}
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	if opts.Patchers <= 0 {
		opts.Patchers = 16
	}
	if opts.QPS <= 0 {
		opts.QPS, opts.Burst = DefaultQPS, DefaultBurst
	}
	cfg := rest.CopyConfig(mgr.GetConfig())
	cfg.QPS, cfg.Burst = opts.QPS, max(opts.Burst, int(opts.QPS))
	writer, err := client.New(cfg, client.Options{Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper()})
	if err != nil {
		return fmt.Errorf("creating the rollout client: %w", err)
	}
	if opts.Recorder == nil {
		opts.Recorder = newAPIRecorder(writer, mgr.GetScheme(), mgr.GetLogger().WithName(Name))
	}
	m, err := NewMetrics(opts.Registry)
	if err != nil {
		return fmt.Errorf("registering the rollout metrics: %w", err)
	}
	co := cacheOptions()
	co.Scheme, co.Mapper, co.HTTPClient = mgr.GetScheme(), mgr.GetRESTMapper(), mgr.GetHTTPClient()
	c, err := crcache.New(mgr.GetConfig(), co)
	if err != nil {
		return fmt.Errorf("creating the rollout cache: %w", err)
	}
	if err := mgr.Add(leaderCache{c}); err != nil {
		return fmt.Errorf("adding the rollout cache: %w", err)
	}
	log := mgr.GetLogger().WithName(Name)
	namespaces := newNamespaceCaches(c, func(ns string) (crcache.Cache, error) {
		o := namespaceCacheOptions(ns)
		o.Scheme, o.Mapper, o.HTTPClient = mgr.GetScheme(), mgr.GetRESTMapper(), mgr.GetHTTPClient()
		o.DefaultWatchErrorHandler = watchErrors(log, ns)
		nc, err := crcache.New(mgr.GetConfig(), o)
		if err != nil {
			return nil, err
		}
		err = nc.IndexField(context.Background(), &corev1.Pod{}, indexSources, func(o client.Object) []string {
			var keys []string
			for _, s := range podSources(o.(*corev1.Pod)) {
				keys = append(keys, s.Key())
			}
			return keys
		})
		if err != nil {
			return nil, fmt.Errorf("indexing pods by source: %w", err)
		}
		return nc, nil
	}, m, log)
	if err := mgr.Add(namespaces); err != nil {
		return fmt.Errorf("adding the rollout's namespace caches: %w", err)
	}
	r := &Reconciler{
		Cache: routed{c, namespaces}, Client: writer, API: writer, Recorder: opts.Recorder, Metrics: m,
		Patchers: opts.Patchers, Now: time.Now, writes: newWrites(), SourceGrace: opts.SourceGrace,
		RetryBackoff: opts.RetryBackoff, Notifier: opts.Notifier, uninjected: lru.New(maxRemembered), probes: probes{started: time.Now()},
		budgetsRead: cache.NewLRUExpireCache(budgetsRemembered),
	}
	ctrl, err := controller.NewTyped(Name, mgr, controller.TypedOptions[SourceRef]{
		Reconciler:              r,
		MaxConcurrentReconciles: opts.Workers,
	})
	if err != nil {
		return fmt.Errorf("creating the rollout controller: %w", err)
	}
	ev := namespaces.events
	watches := []source.TypedSource[SourceRef]{
		source.TypedChannel(ev.pods, handler.TypedEnqueueRequestsFromMapFunc(func(_ context.Context, pod *corev1.Pod) []SourceRef {
			return podSources(pod)
		})),
		source.TypedChannel(ev.configMaps, handler.TypedEnqueueRequestsFromMapFunc(func(_ context.Context, o *corev1.ConfigMap) []SourceRef {
			return []SourceRef{sourceOfObject(o, revision.KindConfigMap)}
		})),
		source.TypedChannel(ev.secrets, handler.TypedEnqueueRequestsFromMapFunc(func(_ context.Context, o *corev1.Secret) []SourceRef {
			return []SourceRef{sourceOfObject(o, revision.KindSecret)}
		})),
		source.TypedKind(c, &v1alpha1.ConfigRelease{}, handler.TypedEnqueueRequestsFromMapFunc(func(_ context.Context, rel *v1alpha1.ConfigRelease) []SourceRef {
			return []SourceRef{{Namespace: rel.Namespace, Kind: revision.Kind(rel.Spec.Source.Kind), Name: rel.Spec.Source.Name}}
		})),
		source.TypedKind(c, &corev1.Namespace{}, handler.TypedEnqueueRequestsFromMapFunc(func(ctx context.Context, ns *corev1.Namespace) []SourceRef {
			var list v1alpha1.ConfigReleaseList
			if err := c.List(ctx, &list, client.InNamespace(ns.Name)); err != nil {
				return nil
			}
			out := make([]SourceRef, 0, len(list.Items))
			for _, rel := range list.Items {
				out = append(out, SourceRef{Namespace: rel.Namespace, Kind: revision.Kind(rel.Spec.Source.Kind), Name: rel.Spec.Source.Name})
			}
			return out
		})),
	}
	for _, w := range watches {
		if err := ctrl.Watch(w); err != nil {
			return fmt.Errorf("watching for the rollout controller: %w", err)
		}
	}
	if err := setupNotInjected(mgr, ev.uninjected, r); err != nil {
		return err
	}
	return setupAdmissionWarnings(mgr, ev.warned, r)
}

// NotInjectedName is the controller that says so of opted-in pods admitted
// without the sidecar: a reconcile of its own, so that the pod watch of the
// release controller only maps.
const NotInjectedName = "hotreload-not-injected"

// setupNotInjected adds the not-injected check: it reconciles the opted-in
// pods without hotreload/injected that the namespace caches send, with r's
// Recorder and Metrics.
func setupNotInjected(mgr manager.Manager, uninjected <-chan event.TypedGenericEvent[*corev1.Pod], r *Reconciler) error {
	ctrl, err := controller.New(NotInjectedName, mgr, controller.Options{
		Reconciler: reconcile.Func(func(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
			var pod corev1.Pod
			if err := r.Cache.Get(ctx, req.NamespacedName, &pod); err != nil {
				return reconcile.Result{}, client.IgnoreNotFound(err)
			}
			return r.checkInjected(ctx, &pod)
		}),
	})
	if err != nil {
		return fmt.Errorf("creating the not-injected check: %w", err)
	}
	if err := ctrl.Watch(source.Channel(uninjected, &handler.TypedEnqueueRequestForObject[*corev1.Pod]{})); err != nil {
		return fmt.Errorf("watching for the not-injected check: %w", err)
	}
	return nil
}

// podSources returns the sources a pod reloads; for a pod whose reloader this
// controller cannot read, those of all its reloadable volumes, so that a
// reconcile sees it and says so.
func podSources(pod *corev1.Pod) []SourceRef {
	var out []SourceRef
	info, ok := reloaderOf(pod)
	switch {
	case !ok:
	case info.Error != "":
		var vols []string
		for _, v := range pod.Spec.Volumes {
			vols = append(vols, v.Name) // the cache keeps only reloadable ones
		}
		out = sourcesOf(pod, vols)
	default:
		out = sourcesOf(pod, info.Volumes)
	}
	for _, r := range restartsOf(pod) {
		s := SourceRef{Namespace: pod.Namespace, Kind: revision.Kind(r.Source.Kind), Name: r.Source.Name}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// sourceOfObject is the source a ConfigMap or Secret event is about: itself,
// or, for an object hotreload keeps, the source it keeps it for.
func sourceOfObject(o client.Object, kind revision.Kind) SourceRef {
	if owned(o) {
		if name := o.GetAnnotations()[keptForAnnotation]; name != "" {
			return SourceRef{Namespace: o.GetNamespace(), Kind: kind, Name: name}
		}
	}
	return SourceRef{Namespace: o.GetNamespace(), Kind: kind, Name: o.GetName()}
}

// leaderCache runs a cache only on the elected leader.
type leaderCache struct{ crcache.Cache }

// NeedLeaderElection implements manager.LeaderElectionRunnable.
func (leaderCache) NeedLeaderElection() bool { return true }
