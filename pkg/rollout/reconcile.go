package rollout

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/cache"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/lru"
	crcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/contract"
	"github.com/hotreload/hotreload/pkg/notify"
	"github.com/hotreload/hotreload/pkg/release"
)

// Reconciler releases each config change of one source (a ConfigMap or a
// Secret) to the pods that reload it, as its ConfigRelease records.
type Reconciler struct {
	// Cache holds the injected pods, the hashed ConfigMaps and Secrets, the
	// releases, the ReplicaSets' metadata and the namespaces.
	Cache crcache.Cache
	// Client writes to the API server; API reads from it, for the data of a
	// revision (never cached).
	Client   client.Client
	API      client.Reader
	Recorder events.EventRecorder
	Metrics  *Metrics
	Patchers int
	Now      func() time.Time
	// SourceGrace is how long a release outlives its deleted source;
	// DefaultSourceGrace when zero.
	SourceGrace time.Duration
	// RetryBackoff is the wait before a halted candidate's first automatic
	// retry (hotreload/on-halt: retry); DefaultRetryBackoff when zero.
	RetryBackoff time.Duration
	// Notifier, when set, is handed the outcomes the release's Events say.
	Notifier Notifier

	writes *writes
	// replacing are the evicted pods whose replacements have not come.
	replacing replacing
	// probes are the workloads whose pods admitted without the sidecar are
	// replaced as probes, and uninjected says of such pods why they are
	// left alone (uninjected.go).
	probes     probes
	uninjected *lru.Cache
	// budgetsRead are the workloads' rolling budgets read lately (budgets),
	// by workload UID.
	budgetsRead *cache.LRUExpireCache
	// unreadables, legacy and notInjected are the pods this process said
	// something about once: a reloader it cannot read, a version 1 pod's
	// limits, a pod admitted without the sidecar; overLimit the sources too
	// large to release, ignored those annotated hotreload/ignore.
	unreadables, legacy, notInjected, overLimit, ignored announced[types.UID]
	// warnedSets are the sets of admission warnings, and warned the
	// warnings, said of a pod template (warnings.go).
	warnedSets, warned announced[[32]byte]
}

var _ reconcile.TypedReconciler[SourceRef] = (*Reconciler)(nil)

// Reconcile moves the release of source s one step on: it starts the
// release of a source seen for the first time, takes a new candidate, plans
// each consuming workload's step, halts, rolls back or completes, writes the
// pods' releases and then the status.
//
// A source of a namespace that is not enabled, or that shares its pods with
// one, is left as it is: the controller reads nothing there. The label brings
// it back (its namespace's cache sends every object, and the namespace event
// every release).
func (r *Reconciler) Reconcile(ctx context.Context, s SourceRef) (reconcile.Result, error) {
	logger := log.FromContext(ctx).WithValues("source", s.String())
	ctx = log.IntoContext(ctx, logger)
	res, err := r.reconcile(ctx, s)
	switch {
	case errors.Is(err, errNotWatched):
		logger.V(1).Info("not released", "reason", err.Error())
		return reconcile.Result{}, nil
	case errors.Is(err, errNotSynced):
		return reconcile.Result{RequeueAfter: time.Second}, nil
	}
	return res, err
}

func (r *Reconciler) reconcile(ctx context.Context, s SourceRef) (reconcile.Result, error) {
	c := newContents(ctx, r.Cache, s.Namespace)
	src := c.object(s.Kind, s.Name)
	if err := c.failed(); err != nil {
		return reconcile.Result{}, err
	}
	if src != nil && owned(src) {
		return reconcile.Result{}, nil // one of hotreload's own copies
	}
	if src == nil {
		if rel := c.release(s); rel != nil && c.failed() == nil {
			return r.sourceDeleted(ctx, rel, s)
		}
		r.Metrics.releasePhase(s.Namespace, contract.ReleaseName(string(s.Kind), s.Name), "")
		return reconcile.Result{}, c.failed()
	}
	keys, _ := c.keys(s.Kind, s.Name)
	srcRev := sourceRevision(keys)
	pods, leaving, err := r.consumers(ctx, c, s)
	if err != nil {
		return reconcile.Result{}, err
	}
	rel := c.release(s)
	if err := c.failed(); err != nil {
		return reconcile.Result{}, err
	}
	if rel != nil {
		if err := r.disown(ctx, rel, s); err != nil {
			return reconcile.Result{}, err
		}
		if rel.Status.SourceGoneSince != nil {
			if rel, err = r.sourceBack(ctx, rel, s); err != nil {
				return reconcile.Result{}, err
			}
		}
	}
	if rel != nil && rel.Status.Phase != "" {
		r.Metrics.releasePhase(s.Namespace, rel.Name, rel.Status.Phase)
	}
	if ignored, _ := annotations.IgnoredOf(src.GetAnnotations()); ignored {
		r.leftAlone(s, src, rel, len(pods))
		return reconcile.Result{}, nil // until the annotation goes
	}
	r.ignored.forget(src.GetUID())
	if err := overLimit(src); err != nil && (rel != nil || len(pods) > 0) {
		r.tooManyKeys(ctx, rel, s, src, err)
		return reconcile.Result{}, nil // until it changes
	}
	switch {
	case rel == nil && len(pods) == 0:
		return reconcile.Result{}, nil // no pod reloads it
	case rel == nil:
		return reconcile.Result{RequeueAfter: again}, r.start(ctx, s)
	case rel.Status.Candidate == "":
		err = r.first(ctx, rel, s)
	case srcRev != rel.Status.Candidate:
		err = r.advance(ctx, rel, s)
	default:
		if err = r.keep(ctx, c, rel, s); err != nil {
			break
		}
		cmd := pending(rel)
		var notSeen bool
		if notSeen, err = r.undoNotSeen(ctx, s, cmd, rel.Status); err != nil {
			return reconcile.Result{}, err
		}
		if notSeen {
			// The cache is behind the write-back: its event brings the source
			// back; the requeue is in case it is lost.
			return reconcile.Result{RequeueAfter: time.Second}, nil
		}
		if cmd == nil || carriedOutInStep(cmd, rel.Status) {
			return r.step(ctx, c, rel, s, pods, leaving, cmd)
		}
		err = r.command(ctx, rel, s, pods, cmd)
	}
	if errors.Is(err, errTaken) || errors.Is(err, errNotKept) {
		r.blocked(ctx, rel, s, err)
	}
	if err != nil {
		return reconcile.Result{}, err
	}
	return reconcile.Result{RequeueAfter: again}, nil
}

// again is how soon a reconcile that moved the release's state runs again,
// to act on that state.
const again = 10 * time.Millisecond

// start creates the release of a source seen for the first time. It is not
// owned by the source object: it outlives it (lifetime.go).
func (r *Reconciler) start(ctx context.Context, s SourceRef) error {
	rel := &v1alpha1.ConfigRelease{
		ObjectMeta: metav1.ObjectMeta{Name: contract.ReleaseName(string(s.Kind), s.Name), Namespace: s.Namespace,
			Labels: map[string]string{contract.ManagedByLabel: contract.ManagedBy, contract.SourceLabel: contract.SourceDigest(string(s.Kind), s.Name)}},
		Spec: v1alpha1.ConfigReleaseSpec{Source: v1alpha1.Source{Kind: v1alpha1.SourceKind(s.Kind), Name: s.Name}},
	}
	if err := r.Client.Create(ctx, rel); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return nil // the cache will show it
		}
		return fmt.Errorf("creating the release of %s: %w", s, err)
	}
	return r.first(ctx, rel, s)
}

// first makes the source's current content its stable revision: there is
// nothing earlier to go back to.
func (r *Reconciler) first(ctx context.Context, rel *v1alpha1.ConfigRelease, s SourceRef) error {
	rev, content, err := r.capture(ctx, rel, s)
	if err != nil {
		return err
	}
	if err := r.writeStable(ctx, rel, s, rev, content); err != nil {
		return err
	}
	rel = rel.DeepCopy()
	rel.Status = firstSeen(rev, content.size(), r.Now())
	rel.Status.ObservedGeneration = rel.Generation
	rel.Status = withConditions(rel.Status, r.Now())
	if err := r.Client.Status().Update(ctx, rel); err != nil {
		return fmt.Errorf("writing the status of the release of %s: %w", s, err)
	}
	log.FromContext(ctx).Info("release started: the first revision seen is stable", "revision", rev)
	return nil
}

// advance takes the source's new content as the candidate.
func (r *Reconciler) advance(ctx context.Context, rel *v1alpha1.ConfigRelease, s SourceRef) error {
	rev, content, err := r.capture(ctx, rel, s)
	if err != nil {
		return err
	}
	if rev == rel.Status.Candidate {
		return nil // the cache lags behind the API server
	}
	prev := rel.Status
	rel = rel.DeepCopy()
	rel.Status = newCandidate(rel.Status, rev, content.size(), r.Now())
	rel.Status.ObservedGeneration = rel.Generation
	rel.Status = withConditions(rel.Status, r.Now())
	if err := r.Client.Status().Update(ctx, rel); err != nil {
		return fmt.Errorf("writing the status of the release of %s: %w", s, err)
	}
	ev := r.announcer(ctx, rel, s)
	switch {
	case rev == rel.Status.Stable:
		ev.normal(ReasonRolloutCompleted, actionComplete, "config revision %s is the stable revision again: every pod goes back to it", rev)
		ev.notify(notify.Notification{Kind: notify.Completed, Candidate: rev, Stable: rev, StableAgain: true})
	default:
		if prev.Candidate != prev.Stable && prev.Phase == v1alpha1.PhaseProgressing {
			ev.normal(ReasonRolloutSuperseded, actionRelease, "config revision %s superseded by %s before it completed", prev.Candidate, rev)
		}
		r.Metrics.rolloutStarted(s.Namespace)
		ev.normal(ReasonRolloutStarted, actionRelease, "release of config revision %s started; stable revision %s", rev, rel.Status.Stable)
	}
	return r.pruneRevisions(ctx, s, keptRevisions(rel.Status, r.revisionHistory(ctx, s.Namespace))...)
}

// revisionHistory returns how many revisions of each source namespace ns
// keeps besides stable and candidate.
func (r *Reconciler) revisionHistory(ctx context.Context, ns string) int {
	var n corev1.Namespace
	if err := r.Cache.Get(ctx, client.ObjectKey{Name: ns}, &n); err != nil {
		return annotations.DefaultRevisionHistory
	}
	keep, _ := annotations.RevisionHistoryOf(n.Annotations)
	return keep
}

// keep makes sure the objects that keep the stable and the candidate
// revisions hold them, and that the stable copy holds the stable revision: a
// user may have deleted or changed them. Each is checked against the
// revision the release names, from the cache; one that fails is restored
// from verified content (restoreRevision, restoreStable) or blocks the
// release.
func (r *Reconciler) keep(ctx context.Context, c *contents, rel *v1alpha1.ConfigRelease, s SourceRef) error {
	st := rel.Status
	for _, rev := range []string{st.Stable, st.Candidate} {
		if _, ok := c.keysAt(s, rev); ok || c.failed() != nil {
			continue
		}
		err := r.restoreRevision(ctx, rel, s, rev)
		if rev == st.Candidate && errors.Is(err, errNotKept) {
			return nil // the source no longer holds it: the next reconcile takes what it holds
		}
		if err != nil {
			return err
		}
	}
	stable := c.object(s.Kind, contract.StableName(s.Name))
	if stable != nil && !owned(stable) {
		return fmt.Errorf("the stable copy of %s: %s %s/%s %w; rename it", s, s.Kind, s.Namespace, contract.StableName(s.Name), errTaken)
	}
	if stable != nil && stable.GetLabels()[contract.RevisionLabel] == st.Stable {
		if _, ok := c.holding(stable, st.Stable); ok || c.failed() != nil {
			return c.failed()
		}
	}
	return r.restoreStable(ctx, rel, s, st.Stable)
}

// tooManyKeys says, once per source object (or once per message on its
// release), that a source over MaxSourceKeys is not released: its pods keep
// the config they run.
func (r *Reconciler) tooManyKeys(ctx context.Context, rel *v1alpha1.ConfigRelease, s SourceRef, src client.Object, err error) {
	err = fmt.Errorf("%w: its changes are not released, and its pods keep the config they run; split it into several ConfigMaps or Secrets", err)
	if rel != nil {
		r.blocked(ctx, rel, s, err)
		return
	}
	if !r.overLimit.first(src.GetUID()) {
		return
	}
	r.Recorder.Eventf(sourceObject(s, src.GetUID()), nil, corev1.EventTypeWarning, ReasonReleaseBlocked, actionRelease, "%s", err.Error())
}

// leftAlone says, once while the annotation holds, that a source annotated
// hotreload/ignore, which pods injected before still reload or which has a
// release, gets no release: its release stays as it is, and those pods keep
// the config they run.
func (r *Reconciler) leftAlone(s SourceRef, src client.Object, rel *v1alpha1.ConfigRelease, pods int) {
	if rel == nil && pods == 0 || !r.ignored.first(src.GetUID()) {
		return
	}
	msg := fmt.Sprintf("annotated %s: \"true\": nothing of it is released", annotations.Ignore)
	if rel != nil {
		msg += fmt.Sprintf("; its release %s stays as it is (%s, stable revision %s, candidate %s) until the annotation goes",
			rel.Name, cmp.Or(string(rel.Status.Phase), "not started"), rel.Status.Stable, rel.Status.Candidate)
	}
	if pods > 0 {
		msg += fmt.Sprintf("; %d pods injected before keep the config they run until they are recreated", pods)
	}
	log.Log.WithName(Name).Info("source left alone", "source", s.String(), "reason", msg)
	r.Recorder.Eventf(sourceObject(s, src.GetUID()), nil, corev1.EventTypeNormal, ReasonSourceIgnored, actionRelease, "%s", msg)
}

// blocked says, once per message, what keeps the release from going on.
func (r *Reconciler) blocked(ctx context.Context, rel *v1alpha1.ConfigRelease, s SourceRef, err error) {
	if rel.Status.Message == err.Error() {
		return
	}
	rel = rel.DeepCopy()
	rel.Status.Message = err.Error()
	rel.Status = withConditions(rel.Status, r.Now())
	if uerr := r.Client.Status().Update(ctx, rel); uerr != nil {
		log.FromContext(ctx).Error(uerr, "writing the status of the release")
		return
	}
	r.announcer(ctx, rel, s).warning(ReasonReleaseBlocked, actionRelease, "%s", err.Error())
}

// consumers returns the pods that reload source s and whose reloader has
// reported, and those that read it in ways that cannot change in place
// (env, envFrom, mounts left alone), with what the reconcile needs of each;
// and, per workload, its pods of s that are leaving (deleted, not yet gone),
// which, with the consumers not Ready, keep a workload from losing another
// pod now.
func (r *Reconciler) consumers(ctx context.Context, c *contents, s SourceRef) ([]consumer, map[Workload]int, error) {
	var list corev1.PodList
	if err := r.Cache.List(ctx, &list, client.InNamespace(s.Namespace), client.MatchingFields{indexSources: s.Key()}); err != nil {
		return nil, nil, fmt.Errorf("listing the pods of %s: %w", s, err)
	}
	now := r.Now()
	var out []consumer
	leaving := map[Workload]int{}
	for i := range list.Items {
		cached := &list.Items[i]
		pod := r.writes.overlay(cached, now)
		if pod.DeletionTimestamp != nil {
			leaving[workloadOf(ctx, r.Cache, pod)]++
		}
		if !active(pod) {
			continue
		}
		restart := restartOf(pod, s)
		info, injected := reloaderOf(pod)
		switch {
		case injected && info.Error != "":
			r.unreadable(pod, info.Error)
			continue
		case injected && info.Oversized != "":
			r.oversized(pod, info.Oversized)
			continue
		}
		sources := sourcesOf(pod, info.Volumes)
		files := injected && slices.Contains(sources, s)
		if files && annotations.AppliedOf(pod.Labels) == "" {
			continue // its reloader has not started: it joins once it reports
		}
		if !files && restart == nil {
			continue
		}
		out = append(out, consumer{
			cached: cached, pod: pod, info: info, sources: sources, files: files, restart: restart,
			workload: workloadOf(ctx, r.Cache, pod), state: StateOf(pod),
			holds: annotations.CandidatesOf(pod.Annotations),
		})
	}
	slices.SortFunc(out, func(a, b consumer) int { return strings.Compare(a.pod.Name, b.pod.Name) })
	return out, leaving, c.failed()
}

// workloadPods groups consumers by workload, in workload order.
func workloadPods(pods []consumer) ([]Workload, map[Workload][]consumer) {
	return byWorkload(pods, func(p consumer) Workload { return p.workload })
}

// byWorkload groups pods by their workload (of), keeping their order within
// each, and returns the workloads in workload order (by name).
func byWorkload[P any](pods []P, of func(P) Workload) ([]Workload, map[Workload][]P) {
	by := map[Workload][]P{}
	var order []Workload
	for _, p := range pods {
		w := of(p)
		if _, ok := by[w]; !ok {
			order = append(order, w)
		}
		by[w] = append(by[w], p)
	}
	slices.SortFunc(order, func(a, b Workload) int { return strings.Compare(a.String(), b.String()) })
	return order, by
}

// step plans and acts on a release whose candidate is known, carrying out
// cmd, a promote or an abort that applies now, if not nil: it gathers the
// step's world, decides (decideStep), then acts.
func (r *Reconciler) step(ctx context.Context, c *contents, rel *v1alpha1.ConfigRelease, s SourceRef, pods []consumer, leaving map[Workload]int, cmd *v1alpha1.Command) (reconcile.Result, error) {
	var ns corev1.Namespace
	if err := r.Cache.Get(ctx, client.ObjectKey{Name: s.Namespace}, &ns); err != nil && !apierrors.IsNotFound(err) {
		return reconcile.Result{}, fmt.Errorf("reading namespace %s: %w", s.Namespace, err)
	}
	st := rel.Status
	cand := st.Candidate
	world := stepWorld{Status: st, Paused: rel.Spec.Paused, Generation: rel.Generation, Namespace: ns.Annotations,
		Command: cmd, Now: r.Now(), RetryBackoff: cmp.Or(r.RetryBackoff, DefaultRetryBackoff)}
	if src := c.object(s.Kind, s.Name); src != nil {
		world.Source = src.GetAnnotations()
	}
	world.Unavailable, world.NotDelivered = leaving, map[Workload]int{}
	uids := map[Workload][]types.UID{}
	for _, p := range pods {
		uids[p.workload] = append(uids[p.workload], p.pod.UID)
	}
	world.Replacing = r.replacing.pending(s, uids, world.Now)
	for _, p := range pods {
		sp := stepPod{Workload: p.workload, Name: p.pod.Name, UID: p.pod.UID,
			Annotations: p.pod.Annotations, Created: p.pod.CreationTimestamp.Time, State: p.state, Owner: ownerOfPod(p)}
		if p.files {
			sp.Holds, sp.HoldsEntry, sp.Legacy = c.holds(p, s, cand), p.holds[s.Key()] == cand, p.info.Version < 2
		}
		if p.restart != nil {
			switch {
			case replaceable(p):
				sp.Restart = true
				sp.EnvCandidate, sp.EnvStable = c.envReads(p, s, st)
				sp.Holds = (!p.files || sp.Holds) && sp.EnvCandidate
				if !p.files {
					sp.State = replacementState(sp.State, cand, sp.EnvCandidate && !sp.EnvStable)
				}
			case !p.files:
				world.NotDelivered[p.workload]++
				continue // keeps what it started with; holds nothing back
			default:
				world.NotDelivered[p.workload]++
			}
		}
		if !p.state.Ready {
			world.Unavailable[p.workload]++
		}
		world.Pods = append(world.Pods, sp)
	}
	var replaced []Workload
	for _, p := range world.Pods {
		if p.Restart && !(p.EnvCandidate && p.EnvStable) && !slices.Contains(replaced, p.Workload) {
			replaced = append(replaced, p.Workload)
		}
	}
	world.Rolling = r.budgets(ctx, s.Namespace, replaced)
	d := decideStep(world)
	return r.act(ctx, c, rel, s, pods, cmd, ns, d)
}

// act writes what a step decided, in the order it must land: the stable
// copy before the status that completes the release, the status before the
// pods when it halts the release, after them otherwise; then its Events,
// metrics and prunes.
func (r *Reconciler) act(ctx context.Context, c *contents, rel *v1alpha1.ConfigRelease, s SourceRef, pods []consumer, cmd *v1alpha1.Command, ns corev1.Namespace, d stepDecision) (reconcile.Result, error) {
	st, next, cand := rel.Status, d.Next, rel.Status.Candidate
	active := release.InProgress(st)
	if d.Completes {
		if err := r.stableFrom(ctx, rel, s, cand); err != nil {
			return reconcile.Result{}, err
		}
	}
	// A halt is recorded before the rollback it starts. Written after it, a
	// status write the API server refuses would leave the pods on stable with
	// nothing to say the candidate failed, and the next reconcile would
	// release it again. Steps go the other way: pods first, then the step,
	// which a later reconcile finds again from the pods (Plan).
	if d.Halting {
		if err := r.writeStatus(ctx, rel, s, next); err != nil {
			return reconcile.Result{}, err
		}
	}
	written, err := r.writeTargets(ctx, c, s, pods, func(p consumer) bool { return d.Give[p.pod.UID] })
	if err != nil {
		return reconcile.Result{}, err
	}
	if len(written) > 0 {
		log.FromContext(ctx).Info("released", "pods", abbreviate(written), "candidate", cand, "phase", next.Phase)
	}
	if !d.Halting {
		if err := r.writeStatus(ctx, rel, s, next); err != nil {
			return reconcile.Result{}, err
		}
	}
	// Replacements last: the status that admits their owners' new pods on
	// the candidate (or, halted, no longer) is written first.
	retryIn, err := r.evictAll(ctx, s, d, next, pods)
	if err != nil {
		return reconcile.Result{}, err
	}
	if retryIn > 0 && (d.RequeueAt.IsZero() || d.RequeueAt.After(r.Now().Add(retryIn))) {
		d.RequeueAt = r.Now().Add(retryIn)
	}

	// Events, once the status that makes them true is written.
	ev := r.announcer(ctx, rel, s)
	if d.Retried != "" {
		log.FromContext(ctx).Info("retried", "candidate", cand, "retries", next.Retries)
		ev.normal(ReasonRetried, actionRelease, "%s", d.Retried)
		for _, w := range d.Order {
			ev.onWorkload(w, corev1.EventTypeNormal, ReasonRetried, actionRelease, d.Retried)
		}
	}
	for _, a := range d.Advanced {
		r.Metrics.stepReleased(s.Namespace)
		msg := fmt.Sprintf("config revision %s released to %s", cand, a.what)
		ev.normal(ReasonStepReleased, actionRelease, "%s", msg)
		ev.onWorkload(a.workload, corev1.EventTypeNormal, ReasonStepReleased, actionRelease, msg)
	}
	for _, n := range d.NotDelivered {
		ev.onWorkload(n.workload, corev1.EventTypeNormal, ReasonNotDelivered, actionRelease, n.what)
	}
	if len(d.Advanced) > 0 && prevStepsAllZero(st.Workloads) {
		for _, w := range d.Warnings {
			ev.warning(ReasonInvalidSettings, actionRelease, "%s", w)
		}
	}
	if cmd != nil {
		r.announceCommand(ev, d.Order, cmd, next.LastCommand)
	}
	switch {
	case d.Halting:
		for _, w := range d.HaltWarnings {
			ev.warning(ReasonInvalidSettings, actionHalt, "%s", w)
		}
		var msg string
		if d.Halt != nil { // a pod halted it; an abort was announced, and counted, with its command
			r.Metrics.rolloutHalted(s.Namespace)
			msg = fmt.Sprintf("release of config revision %s halted at pod %s of %s: %s; every pod goes back to stable revision %s",
				cand, d.Halt.Pod, d.HaltedAt, d.Halt.Cause, next.Stable)
			if d.RetryNote != "" {
				msg += "; " + d.RetryNote
			}
			ev.warning(ReasonRolloutHalted, actionHalt, "%s", msg)
			ev.onWorkload(d.HaltedAt, corev1.EventTypeWarning, ReasonRolloutHalted, actionHalt, msg)
			ev.notify(notify.Notification{Kind: notify.Halted, Candidate: cand, Stable: next.Stable,
				Pod: d.Halt.Pod, Workload: d.HaltedAt.String(), Cause: d.Halt.Cause})
		}
		for _, p := range pods {
			if d.Halt != nil && p.pod.Name == d.Halt.Pod {
				r.Recorder.Eventf(p.pod, nil, corev1.EventTypeWarning, ReasonRolloutHalted, actionHalt, "%s", msg)
			}
			if p.info.Version < 2 && p.holds[s.Key()] == cand {
				r.legacyCannotRollBack(p.pod, cand)
			}
		}
	case active && next.Phase == v1alpha1.PhaseComplete:
		if st.CandidateSince != nil {
			r.Metrics.rolloutCompleted(s.Namespace, d.Now.Sub(st.CandidateSince.Time))
		}
		msg := fmt.Sprintf("config revision %s runs on every pod of %d workloads; it is the stable revision", cand, len(next.Workloads))
		ev.normal(ReasonRolloutCompleted, actionComplete, "%s", msg)
		for _, w := range d.Order {
			ev.onWorkload(w, corev1.EventTypeNormal, ReasonRolloutCompleted, actionComplete, msg)
		}
		ev.notify(notify.Notification{Kind: notify.Completed, Candidate: cand, Stable: next.Stable, Workloads: len(next.Workloads)})
		keep, _ := annotations.RevisionHistoryOf(ns.Annotations)
		if err := r.pruneRevisions(ctx, s, keptRevisions(next, keep)...); err != nil {
			log.FromContext(ctx).Error(err, "removing revisions no longer kept")
		}
	}
	if d.RolledBack {
		r.Metrics.rolledBack(s.Namespace)
		msg := fmt.Sprintf("every pod that can go back runs stable revision %s again, instead of %s", next.Stable, cand)
		ev.normal(ReasonRolledBack, actionHalt, "%s", msg)
		for _, w := range d.Order {
			ev.onWorkload(w, corev1.EventTypeNormal, ReasonRolledBack, actionHalt, msg)
		}
		ev.notify(notify.Notification{Kind: notify.RolledBack, Candidate: cand, Stable: next.Stable})
	}
	if next.Phase == v1alpha1.PhaseComplete && st.Phase == v1alpha1.PhaseComplete {
		return reconcile.Result{}, nil
	}
	if d.RequeueAt.IsZero() {
		return reconcile.Result{}, nil
	}
	return reconcile.Result{RequeueAfter: max(d.RequeueAt.Sub(r.Now()), time.Millisecond)}, nil
}

// writeStatus writes next as the status of rel, unless it is rel's already.
func (r *Reconciler) writeStatus(ctx context.Context, rel *v1alpha1.ConfigRelease, s SourceRef, next v1alpha1.ConfigReleaseStatus) error {
	next = withConditions(next, r.Now())
	if equality.Semantic.DeepEqual(next, rel.Status) {
		return nil
	}
	upd := rel.DeepCopy()
	upd.Status = next
	if err := r.Client.Status().Update(ctx, upd); err != nil {
		return fmt.Errorf("writing the status of the release of %s: %w", s, err)
	}
	return nil
}

// stepped is a workload that reached a new step, and how to say so.
type stepped struct {
	workload Workload
	what     string
}

func prevStepsAllZero(ws []v1alpha1.WorkloadStatus) bool {
	for _, w := range ws {
		if w.Step > 0 {
			return false
		}
	}
	return true
}

// maxRemembered bounds the memory of pods this process said something about
// once; past it, the least recently announced are forgotten (and each such
// pod is announced once more).
const maxRemembered = 10000

// announced is a bounded set of what this process said something about:
// objects (pods, sources) by UID, or the warnings of a pod template.
type announced[K comparable] struct {
	mu   sync.Mutex
	seen *lru.Cache
}

// forget takes key out of the set: it is announced again.
func (a *announced[K]) forget(key K) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.seen != nil {
		a.seen.Remove(key)
	}
}

// first reports whether key is new to the set, remembering it.
func (a *announced[K]) first(key K) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.seen == nil {
		a.seen = lru.New(maxRemembered)
	}
	if _, ok := a.seen.Get(key); ok {
		return false
	}
	a.seen.Add(key, struct{}{})
	return true
}

// unreadable announces, once, that a pod's reloader command line cannot be
// read by this controller (a newer contract version): the pod is left out of
// releases and keeps the config it runs.
func (r *Reconciler) unreadable(pod *corev1.Pod, why string) {
	if !r.unreadables.first(pod.UID) {
		return
	}
	log.Log.WithName(Name).Info("pod left out of config releases: its reloader's command line cannot be read", "pod", pod.Namespace+"/"+pod.Name, "reason", why)
	r.Recorder.Eventf(pod, nil, corev1.EventTypeWarning, ReasonUnknownContract, actionRelease,
		"left out of config rollouts, keeping the config it runs: this hotreload controller cannot read its reloader's command line (%s); upgrade hotreload, or recreate the pod", why)
}

// oversized announces, once, a pod left out of releases for an annotation
// over maxPodAnnotation.
func (r *Reconciler) oversized(pod *corev1.Pod, why string) {
	if !r.unreadables.first(pod.UID) {
		return
	}
	log.Log.WithName(Name).Info("pod left out of config releases: an annotation is too large", "pod", pod.Namespace+"/"+pod.Name, "reason", why)
	r.Recorder.Eventf(pod, nil, corev1.EventTypeWarning, ReasonOversized, actionRelease,
		"left out of config rollouts, keeping the config it runs: %s; remove it", why)
}

// legacyCannotRollBack announces, once, that a pod injected with contract
// version 1 keeps a halted candidate: it has no stable copy to go back to.
func (r *Reconciler) legacyCannotRollBack(pod *corev1.Pod, cand string) {
	if !r.legacy.first(pod.UID) {
		return
	}
	r.Recorder.Eventf(pod, nil, corev1.EventTypeWarning, ReasonCannotRollBack, actionHalt,
		"keeps halted config revision %s: it was injected by an earlier hotreload (contract version 1) and cannot go back to the stable config in place; delete it to start it again on the stable config", cand)
}

// abbreviate lists up to 10 names.
func abbreviate(names []string) string {
	if len(names) <= 10 {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:10], ", ") + fmt.Sprintf(" and %d more", len(names)-10)
}
