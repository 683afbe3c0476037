package rollout

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/events"
	crcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/source"
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
	// on a client of its own. Default 100 and 200: a release to 1000 pods
	// then takes about 10 s, where client-go's default of 5 would take 200 s.
	QPS   float32
	Burst int
}

// Field indexes of the controller's pod cache.
const (
	indexGroup      = "rollout.hotreload/group"
	indexConfigMaps = "rollout.hotreload/configmaps"
	indexSecrets    = "rollout.hotreload/secrets"
)

// Setup adds the rollout controller to mgr. It runs only while mgr holds the
// leadership, with its own cache (injected pods; ConfigMaps and Secrets hashed,
// their data dropped), which also starts only then.
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
		opts.QPS, opts.Burst = 100, 200
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
	if err := addIndexes(c); err != nil {
		return err
	}
	if err := mgr.Add(leaderCache{c}); err != nil {
		return fmt.Errorf("adding the rollout cache: %w", err)
	}
	r := &Reconciler{
		Cache: c, Client: writer, Recorder: opts.Recorder, Metrics: m,
		Patchers: opts.Patchers, Now: time.Now,
		writes: newWrites(), watching: map[watched]bool{},
	}
	ctrl, err := controller.NewTyped(Name, mgr, controller.TypedOptions[Group]{
		Reconciler:              r,
		MaxConcurrentReconciles: opts.Workers,
	})
	if err != nil {
		return fmt.Errorf("creating the rollout controller: %w", err)
	}
	byPod := func(_ context.Context, pod *corev1.Pod) []Group { return []Group{GroupOf(pod)} }
	watches := []source.TypedSource[Group]{
		source.TypedKind(c, &corev1.Pod{}, handler.TypedEnqueueRequestsFromMapFunc(byPod)),
		source.TypedKind(c, &corev1.ConfigMap{}, handler.TypedEnqueueRequestsFromMapFunc(func(ctx context.Context, o *corev1.ConfigMap) []Group {
			return r.groupsOf(ctx, o.Namespace, client.MatchingFields{indexConfigMaps: o.Name})
		})),
		source.TypedKind(c, &corev1.Secret{}, handler.TypedEnqueueRequestsFromMapFunc(func(ctx context.Context, o *corev1.Secret) []Group {
			return r.groupsOf(ctx, o.Namespace, client.MatchingFields{indexSecrets: o.Name})
		})),
		source.TypedKind(c, &corev1.Namespace{}, handler.TypedEnqueueRequestsFromMapFunc(func(ctx context.Context, o *corev1.Namespace) []Group {
			return r.groupsOf(ctx, o.Name)
		})),
	}
	for _, w := range watches {
		if err := ctrl.Watch(w); err != nil {
			return fmt.Errorf("watching for the rollout controller: %w", err)
		}
	}
	return nil
}

// leaderCache runs a cache only on the elected leader.
type leaderCache struct{ crcache.Cache }

// NeedLeaderElection implements manager.LeaderElectionRunnable.
func (leaderCache) NeedLeaderElection() bool { return true }

func addIndexes(c crcache.Cache) error {
	ctx := context.Background()
	idx := map[string]client.IndexerFunc{
		indexGroup: func(o client.Object) []string { return []string{groupName(o.(*corev1.Pod))} },
		indexConfigMaps: func(o client.Object) []string {
			cms, _ := sources(o.(*corev1.Pod))
			return cms
		},
		indexSecrets: func(o client.Object) []string {
			_, secrets := sources(o.(*corev1.Pod))
			return secrets
		},
	}
	for name, f := range idx {
		if err := c.IndexField(ctx, &corev1.Pod{}, name, f); err != nil {
			return fmt.Errorf("indexing pods by %s: %w", name, err)
		}
	}
	return nil
}

// sources returns the names of the ConfigMaps and Secrets the pod's volumes
// project.
func sources(pod *corev1.Pod) (configMaps, secrets []string) {
	for _, v := range pod.Spec.Volumes {
		switch {
		case v.ConfigMap != nil:
			configMaps = append(configMaps, v.ConfigMap.Name)
		case v.Secret != nil:
			secrets = append(secrets, v.Secret.SecretName)
		case v.Projected != nil:
			for _, s := range v.Projected.Sources {
				switch {
				case s.ConfigMap != nil:
					configMaps = append(configMaps, s.ConfigMap.Name)
				case s.Secret != nil:
					secrets = append(secrets, s.Secret.Name)
				}
			}
		}
	}
	return configMaps, secrets
}

// groupsOf returns the groups of the injected pods in namespace ns that match opts.
func (r *Reconciler) groupsOf(ctx context.Context, ns string, opts ...client.ListOption) []Group {
	var pods corev1.PodList
	if err := r.Cache.List(ctx, &pods, append(opts, client.InNamespace(ns))...); err != nil {
		return nil
	}
	seen := map[Group]bool{}
	var out []Group
	for i := range pods.Items {
		g := GroupOf(&pods.Items[i])
		if !seen[g] {
			seen[g] = true
			out = append(out, g)
		}
	}
	return out
}
