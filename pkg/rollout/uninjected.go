package rollout

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/mutate"
	"github.com/hotreload/hotreload/pkg/release"
)

// Pods admitted without the sidecar
// (docs/design/2026-12-07-admission-without-leadership.md): an opted-in pod
// of an enabled namespace admitted while no webhook replica answered is
// replaced, so that its owner makes one the webhook admits: one pod of its
// workload at a time, through the Eviction API, and not while the webhook
// still fails. It goes at once when the webhook has injected a pod of its
// workload made after it; otherwise one pod of the workload goes as a probe,
// at most once per backoff.

// The probe backoff of a workload none of whose pods shows the webhook back:
// the first, and the longest it doubles to.
const (
	firstProbe = time.Minute
	lastProbe  = 30 * time.Minute
)

// probeAfterStart is how long after this process started its first probe
// waits: a webhook replica started with it is not reachable at once (its
// readiness, then the Service's endpoints), and a probe before then comes
// back without the sidecar and costs a backoff.
const probeAfterStart = 20 * time.Second

// uninjectedVerdict is what becomes of a pod admitted without the sidecar.
type uninjectedVerdict struct {
	// Replace is true to replace it now; Probe when that is a probe (no pod
	// of its workload was injected since it was made).
	Replace, Probe bool
	// Back is true when the webhook injected a pod of its workload made
	// after it: the webhook is back, and the workload's probes are over.
	Back bool
	// Wait, when not zero, is how long until it is looked at again.
	Wait time.Duration
}

// decideUninjected is what becomes of pod p, opted in, admitted without the
// sidecar and recreated by its controller (uninjectedLeftAlone says no
// more), among the other pods of its workload now (siblings), whose next
// probe may come at probeAt.
func decideUninjected(p *corev1.Pod, siblings []corev1.Pod, probeAt, now time.Time) uninjectedVerdict {
	var v uninjectedVerdict
	unavailable := false
	for i := range siblings {
		s := &siblings[i]
		unavailable = unavailable || s.DeletionTimestamp != nil || !StateOf(s).Ready
		_, injected := annotations.InjectedOf(s.Annotations)
		v.Back = v.Back || injected && s.CreationTimestamp.After(p.CreationTimestamp.Time)
	}
	switch {
	case unavailable:
		v.Wait = disruptionRetry // another pod of the workload is unavailable
	case v.Back:
		v.Replace = true
	case now.Before(probeAt):
		// Looked at again soon: a probe's replacement injected is the
		// evidence that replaces it at once.
		v.Wait = min(probeAt.Sub(now), disruptionRetry)
	default:
		v.Replace, v.Probe = true, true
	}
	return v
}

// probes records, per workload controller, when its next probe may come and
// the backoff after it. It is this process's own memory.
type probes struct {
	// started is when the process started: zero for long ago.
	started time.Time
	mu      sync.Mutex
	m       map[types.UID]probe
}

type probe struct {
	at      time.Time
	backoff time.Duration
}

// next is when owner's next probe may come: for an owner never probed,
// probeAfterStart after the process started (p.started), or now.
func (p *probes) next(owner types.UID, now time.Time) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pr, ok := p.m[owner]; ok {
		return pr.at
	}
	if at := p.started.Add(probeAfterStart); at.After(now) {
		return at
	}
	return now
}

// probed records a probe of owner at now: the next comes after the
// backoff, which doubles up to lastProbe.
func (p *probes) probed(owner types.UID, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[types.UID]probe{}
	}
	pr, ok := p.m[owner]
	if !ok {
		pr.backoff = firstProbe
	}
	p.m[owner] = probe{at: now.Add(pr.backoff), backoff: min(2*pr.backoff, lastProbe)}
}

// forget drops owner's probes: the webhook injected one of its pods.
func (p *probes) forget(owner types.UID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.m, owner)
}

// uninjectedLeftAlone says why pod, opted in and admitted without the sidecar, is
// never replaced, "" when it may be: nothing recreates it (release.NotRecreated), or
// the webhook itself leaves such a pod without the sidecar (names hotreload
// reserves, a Windows pod, nothing to reload), which its whole spec, read
// once from the API server, run through the webhook's own mutate.Mutate
// tells. The answer is remembered per pod.
func (r *Reconciler) uninjectedLeftAlone(ctx context.Context, pod *corev1.Pod) (string, error) {
	if why, ok := r.uninjected.Get(pod.UID); ok {
		return why.(string), nil
	}
	why := release.NotRecreated(pod)
	if why == "" {
		full := &corev1.Pod{}
		if err := r.API.Get(ctx, client.ObjectKeyFromObject(pod), full); err != nil {
			return "", fmt.Errorf("reading pod %s/%s: %w", pod.Namespace, pod.Name, err)
		}
		why = mutate.LeftWithoutSidecar(full)
	}
	r.uninjected.Add(pod.UID, why)
	return why, nil
}

// replaceUninjected replaces pod, opted in and admitted without the sidecar
// and not uninjectedLeftAlone, as decideUninjected says, and says when to look at it
// again.
func (r *Reconciler) replaceUninjected(ctx context.Context, pod *corev1.Pod) (reconcile.Result, error) {
	owner := metav1.GetControllerOfNoCopy(pod)
	if owner == nil {
		return reconcile.Result{}, nil
	}
	var list corev1.PodList
	if err := r.Cache.List(ctx, &list, client.InNamespace(pod.Namespace),
		client.MatchingLabels{annotations.EnableLabel: annotations.EnableValue}); err != nil {
		return reconcile.Result{}, err
	}
	var siblings []corev1.Pod
	for _, s := range list.Items {
		if o := metav1.GetControllerOfNoCopy(&s); s.UID != pod.UID && o != nil && o.UID == owner.UID {
			siblings = append(siblings, s)
		}
	}
	now := r.Now()
	v := decideUninjected(pod, siblings, r.probes.next(owner.UID, now), now)
	if v.Back {
		r.probes.forget(owner.UID)
	}
	if !v.Replace {
		return reconcile.Result{RequeueAfter: v.Wait}, nil
	}
	why := "replaced so that its owner makes one hotreload's webhook admits with the sidecar: it was admitted without it"
	if v.Probe {
		why += " (a probe: no pod of its workload shows the webhook back yet; if its replacement comes without the sidecar too, the next probe waits longer)"
	}
	err := r.evict(ctx, SourceRef{Namespace: pod.Namespace}, stepPod{Name: pod.Name, UID: pod.UID}, why)
	switch {
	case errors.Is(err, errDisruptionBudget):
		log.FromContext(ctx).Info("replacement waits", "pod", pod.Name, "reason", err.Error())
		return reconcile.Result{RequeueAfter: disruptionRetry}, nil
	case err != nil:
		return reconcile.Result{}, err
	}
	if v.Probe {
		r.probes.probed(owner.UID, now)
	}
	return reconcile.Result{}, nil
}
