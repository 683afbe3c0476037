package rollout

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	crcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/revision"
)

// Reconciler rolls config revisions out to one group of pods at a time.
type Reconciler struct {
	// Cache holds the injected pods, the hashed ConfigMaps and Secrets, and
	// the namespaces.
	Cache crcache.Cache
	// Client writes to the API server.
	Client   client.Client
	Recorder events.EventRecorder
	Metrics  *Metrics
	Patchers int
	Now      func() time.Time

	writes *writes
	mu     sync.Mutex
	// watching holds the rollouts this process saw under way: it announces
	// the completion of those only, so that a restart announces nothing old.
	watching map[watched]bool
	// unreadables holds the pods whose reloader this process could not read
	// and said so about, so that it says so once.
	unreadables map[types.UID]bool
}

// watched is a rollout: a revision in a group.
type watched struct {
	group    Group
	revision string
}

var _ reconcile.TypedReconciler[Group] = (*Reconciler)(nil)

// unit is the pods of one group whose desired revision is the same.
type unit struct {
	group    Group
	revision string
	pods     []*corev1.Pod
}

// Reconcile releases, halts or completes the rollouts of group g.
func (r *Reconciler) Reconcile(ctx context.Context, g Group) (reconcile.Result, error) {
	logger := log.FromContext(ctx).WithValues("group", g.String())
	ctx = log.IntoContext(ctx, logger)
	var list corev1.PodList
	if err := r.Cache.List(ctx, &list, client.InNamespace(g.Namespace), client.MatchingFields{indexGroup: g.Name}); err != nil {
		return reconcile.Result{}, fmt.Errorf("listing the pods of %s: %w", g, err)
	}
	if len(list.Items) == 0 {
		r.forget(g, nil)
		return reconcile.Result{}, nil
	}
	var ns corev1.Namespace
	if err := r.Cache.Get(ctx, client.ObjectKey{Name: g.Namespace}, &ns); err != nil && !apierrors.IsNotFound(err) {
		return reconcile.Result{}, fmt.Errorf("reading namespace %s: %w", g.Namespace, err)
	}
	lookup := r.lookup(ctx, g.Namespace)
	now := r.Now()
	byRev := map[string]*unit{}
	for i := range list.Items {
		pod := r.writes.overlay(&list.Items[i], now)
		info, injected := reloaderOf(pod)
		if injected && info.Error != "" && active(pod) {
			r.unreadable(pod, info.Error)
			continue
		}
		vols := info.Volumes
		if !injected || !active(pod) || annotations.AppliedOf(pod.Labels) == "" {
			// Not injected, going away, or its reloader has not started: a
			// pod starts on what is mounted then, and joins its group's
			// rollouts once it reports it.
			continue
		}
		rev, err := revision.ForPod(pod, vols, lookup.get)
		if err != nil {
			// A non-optional object or key is missing: the kubelet cannot
			// update the pod's volumes and keeps what it mounted, so the pod
			// has nothing to roll out until the object is back.
			logger.Info("pod left alone: its config cannot be projected", "pod", pod.Name, "reason", err.Error())
			continue
		}
		u := byRev[rev]
		if u == nil {
			u = &unit{group: g, revision: rev}
			byRev[rev] = u
		}
		u.pods = append(u.pods, pod)
	}
	if lookup.err != nil {
		return reconcile.Result{}, lookup.err
	}
	r.forget(g, byRev)
	var (
		requeue time.Time
		errs    []error
	)
	for _, rev := range slices.Sorted(maps.Keys(byRev)) {
		at, err := r.rollout(ctx, byRev[rev], ns.Annotations, lookup, now)
		errs = append(errs, err)
		if !at.IsZero() && (requeue.IsZero() || at.Before(requeue)) {
			requeue = at
		}
	}
	if err := errors.Join(errs...); err != nil {
		return reconcile.Result{}, err
	}
	if requeue.IsZero() {
		return reconcile.Result{}, nil
	}
	return reconcile.Result{RequeueAfter: max(requeue.Sub(r.Now()), time.Millisecond)}, nil
}

// rollout acts on the decision for one unit, and returns when to look again.
func (r *Reconciler) rollout(ctx context.Context, u *unit, nsAnn map[string]string, lookup *lookup, now time.Time) (time.Time, error) {
	slices.SortFunc(u.pods, func(a, b *corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	first := u.pods[0]
	steps, ws := annotations.RolloutOf(first.Annotations, nsAnn)
	interval, iws := annotations.RolloutIntervalOf(first.Annotations, nsAnn)
	ws = append(ws, iws...)
	states := make([]Pod, len(u.pods))
	byName := make(map[string]*corev1.Pod, len(u.pods))
	for i, p := range u.pods {
		states[i] = StateOf(p)
		byName[p.Name] = p
	}
	d := Plan(Input{Revision: u.revision, Pods: states, Steps: steps, Interval: interval, Now: now})
	ev := r.announcer(u, lookup)
	ns := u.group.Namespace
	key := watched{u.group, u.revision}
	r.mu.Lock()
	if d.UnderWay {
		r.watching[key] = true
	}
	r.mu.Unlock()
	switch {
	case len(d.Halts) > 0:
		r.mu.Lock()
		delete(r.watching, key)
		r.mu.Unlock()
		return time.Time{}, r.halt(ctx, u, d, byName, ev)
	case len(d.Release) > 0:
		pods := make([]*corev1.Pod, len(d.Release))
		for i, name := range d.Release {
			pods[i] = byName[name]
		}
		done, err := r.annotateAll(ctx, pods, map[string]string{annotations.Released: u.revision})
		if len(done) == 0 {
			return time.Time{}, err
		}
		if d.Started {
			ev.normal(ReasonRolloutStarted, actionRelease, "rollout of config revision %s to %s started: %d pods, steps %s, interval %s",
				u.revision, u.group.owner(), d.Total, steps, interval)
			for _, w := range ws {
				ev.warning(ReasonInvalidSettings, actionRelease, "%s", w)
			}
			r.Metrics.rolloutStarted(ns)
		}
		names := make([]string, len(done))
		for i, p := range done {
			names[i] = p.Name
		}
		slices.Sort(names)
		ev.normal(ReasonStepReleased, actionRelease, "step %d of %d: config revision %s released to %d more pods of %s (%d of %d): %s",
			d.Step, d.Steps, u.revision, len(done), u.group.owner(), d.Target-len(d.Release)+len(done), d.Total, abbreviate(names))
		r.Metrics.stepReleased(ns)
		return time.Time{}, err
	case d.Complete:
		r.mu.Lock()
		seen := r.watching[key]
		delete(r.watching, key)
		r.mu.Unlock()
		if seen {
			ev.normal(ReasonRolloutCompleted, actionComplete, "config revision %s runs on all %d pods of %s", u.revision, d.Total, u.group.owner())
			r.Metrics.rolloutCompleted(ns, d.CompletedAt.Sub(d.StartedAt))
		}
	}
	return d.RequeueAt, nil
}

// halt writes and announces the halts not announced yet.
func (r *Reconciler) halt(ctx context.Context, u *unit, d Decision, byName map[string]*corev1.Pod, ev *announcer) error {
	announced := slices.ContainsFunc(d.Halts, func(h Halt) bool { return h.Announced })
	var errs []error
	for _, h := range d.Halts {
		if h.Announced {
			continue
		}
		pod := byName[h.Pod]
		failed := annotations.FormatFailed(u.revision, h.Cause+haltedSuffix)
		if err := r.annotate(ctx, pod, map[string]string{annotations.Failed: failed}); err != nil {
			errs = append(errs, err)
			continue
		}
		msg := fmt.Sprintf("rollout of config revision %s to %s halted at pod %s: %s", u.revision, u.group.owner(), h.Pod, h.Cause)
		ev.warning(ReasonRolloutHalted, actionHalt, "%s", msg)
		r.Recorder.Eventf(pod, nil, corev1.EventTypeWarning, ReasonRolloutHalted, actionHalt, "%s", msg)
		if !announced {
			announced = true
			r.Metrics.rolloutHalted(u.group.Namespace)
		}
	}
	return errors.Join(errs...)
}

// maxUnreadables bounds the memory of pods announced as unreadable; past it,
// the memory starts again (and each such pod is announced once more).
const maxUnreadables = 10000

// unreadable announces, once, that a pod's reloader command line cannot be
// read by this controller (a newer contract version): the pod is left out of
// rollouts and keeps the config it runs.
func (r *Reconciler) unreadable(pod *corev1.Pod, why string) {
	r.mu.Lock()
	seen := r.unreadables[pod.UID]
	if !seen {
		if r.unreadables == nil || len(r.unreadables) >= maxUnreadables {
			r.unreadables = map[types.UID]bool{}
		}
		r.unreadables[pod.UID] = true
	}
	r.mu.Unlock()
	if seen {
		return
	}
	log.Log.WithName(Name).Info("pod left out of config rollouts: its reloader's command line cannot be read", "pod", pod.Namespace+"/"+pod.Name, "reason", why)
	r.Recorder.Eventf(pod, nil, corev1.EventTypeWarning, ReasonUnknownContract, actionRelease,
		"left out of config rollouts, keeping the config it runs: this hotreload controller cannot read its reloader's command line (%s); upgrade hotreload, or recreate the pod", why)
}

// forget drops the rollouts of g that are no longer under way: all when
// current is nil, else those of revisions no pod of g wants.
func (r *Reconciler) forget(g Group, current map[string]*unit) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for w := range r.watching {
		if w.group == g && current[w.revision] == nil {
			delete(r.watching, w)
		}
	}
}

// abbreviate lists up to 10 names.
func abbreviate(names []string) string {
	if len(names) <= 10 {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:10], ", ") + fmt.Sprintf(" and %d more", len(names)-10)
}

// owner returns "Kind/name" of the group's owner, or "Pod/name".
func (g Group) owner() string {
	parts := strings.SplitN(g.Name, "/", 3)
	if len(parts) < 2 {
		return g.Name
	}
	return parts[0] + "/" + parts[1]
}
