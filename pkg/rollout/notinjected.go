package rollout

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/hotreload/hotreload/pkg/annotations"
)

// ReasonNotInjected warns, on a pod that opted in (hotreload/enable=true) in
// an enabled namespace, that it runs without hotreload's sidecar: it never
// reloads, and nothing else would say so.
const ReasonNotInjected = "NotInjected"

// checkInjected announces, once per pod, an opted-in pod of an enabled
// namespace that was admitted without injection: the webhook was down
// (failurePolicy Ignore admits the pod as it is), the namespace was enabled
// after the pod was made, or the pod uses names hotreload reserves. A pod
// its controller recreates is then replaced (replaceUninjected).
func (r *Reconciler) checkInjected(ctx context.Context, pod *corev1.Pod) (reconcile.Result, error) {
	if _, injected := annotations.InjectedOf(pod.Annotations); injected || pod.DeletionTimestamp != nil || !annotations.Enabled(pod.Labels) {
		return reconcile.Result{}, nil
	}
	var ns corev1.Namespace
	if err := r.Cache.Get(ctx, client.ObjectKey{Name: pod.Namespace}, &ns); err != nil || !annotations.NamespaceServed(&ns) {
		return reconcile.Result{}, nil
	}
	why, err := r.uninjectedLeftAlone(ctx, pod)
	if err != nil {
		return reconcile.Result{}, err
	}
	if r.notInjected.first(pod.UID) {
		r.Metrics.podNotInjected(pod.Namespace)
		log.Log.WithName(Name).Info("pod opted in but admitted without the sidecar: it does not reload its config", "pod", pod.Namespace+"/"+pod.Name, "leftAlone", why)
		then := "it is replaced, one pod of its workload at a time, once the webhook admits its workload's pods again"
		if why != "" {
			then = "it is not replaced (" + why + "): delete it, or kubectl rollout restart its workload, to have it injected"
		}
		r.Recorder.Eventf(pod, nil, corev1.EventTypeWarning, ReasonNotInjected, actionRelease,
			"labelled %s=%s in a namespace labelled %s=%s, but admitted without hotreload's sidecar (the webhook was unreachable, the namespace was enabled after the pod was made, or the pod uses names hotreload reserves): it does not reload its config; %s",
			annotations.EnableLabel, annotations.EnableValue, annotations.InjectionLabel, annotations.InjectionEnabled, then)
	}
	if why != "" {
		return reconcile.Result{}, nil
	}
	return r.replaceUninjected(ctx, pod)
}
