package rollout

import (
	"context"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// Replacing pods stays within what the workload's own rolling update allows
// (docs/design/2026-12-07-every-consumer.md, "Budget"): a Deployment of 30
// replicas with the default maxUnavailable of 25% has 7 pods replaced at a
// time, a StatefulSet or a DaemonSet one unless its update strategy says
// more. An eviction cannot surge, so a workload that allows none unavailable
// (maxUnavailable 0, surging instead) still has one pod replaced at a time;
// a PodDisruptionBudget is what forbids that.

// rolling is what a workload's own update strategy says of replacing its
// pods.
type rolling struct {
	// Unavailable is how many of its pods may be unavailable at once.
	Unavailable int
	// Deadline is how long a replacement has to become Ready before it
	// counts as failed: a Deployment's progressDeadlineSeconds,
	// defaultDeadline for any other workload.
	Deadline time.Duration
}

// defaultDeadline is a replacement's deadline to become Ready where its
// workload sets none: a Deployment's default progressDeadlineSeconds.
const defaultDeadline = 10 * time.Minute

// defaultRolling is the rolling of a workload whose strategy is not read:
// one pod at a time.
var defaultRolling = rolling{Unavailable: 1, Deadline: defaultDeadline}

// rollingOf is what workload obj's own update strategy says: how many of
// its pods may be unavailable at once, at least 1 (maxUnavailable scaled on
// its replicas and rounded as its controller rounds it; Recreate lets every
// pod go; OnDelete, an unknown kind or a value that does not parse, one),
// and its deadline.
func rollingOf(obj client.Object) rolling {
	r := defaultRolling
	if d, ok := obj.(*appsv1.Deployment); ok && d.Spec.ProgressDeadlineSeconds != nil && *d.Spec.ProgressDeadlineSeconds > 0 {
		r.Deadline = time.Duration(*d.Spec.ProgressDeadlineSeconds) * time.Second
	}
	r.Unavailable = unavailableOf(obj)
	return r
}

// unavailableOf is how many of workload obj's pods its own rolling update
// lets be unavailable at once (rollingOf).
func unavailableOf(obj client.Object) int {
	scaled := func(v *intstr.IntOrString, def intstr.IntOrString, of int32, up bool) int {
		n, err := intstr.GetScaledValueFromIntOrPercent(ptr.To(ptr.Deref(v, def)), int(of), up)
		if err != nil {
			return 1
		}
		return max(n, 1)
	}
	switch o := obj.(type) {
	case *appsv1.Deployment:
		replicas := ptr.Deref(o.Spec.Replicas, 1)
		switch {
		case o.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType:
			return max(int(replicas), 1)
		case o.Spec.Strategy.RollingUpdate == nil:
			return scaled(nil, intstr.FromString("25%"), replicas, false)
		}
		return scaled(o.Spec.Strategy.RollingUpdate.MaxUnavailable, intstr.FromString("25%"), replicas, false)
	case *appsv1.StatefulSet:
		if o.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType || o.Spec.UpdateStrategy.RollingUpdate == nil {
			return 1
		}
		return scaled(o.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable, intstr.FromInt32(1), ptr.Deref(o.Spec.Replicas, 1), false)
	case *appsv1.DaemonSet:
		if o.Spec.UpdateStrategy.Type == appsv1.OnDeleteDaemonSetStrategyType || o.Spec.UpdateStrategy.RollingUpdate == nil {
			return 1
		}
		return scaled(o.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable, intstr.FromInt32(1), o.Status.DesiredNumberScheduled, true)
	}
	return 1
}

// budgetTTL is how long a workload's budget is reused before it is read
// again: a step of a release reads its workloads at most this often.
const budgetTTL = 30 * time.Second

// budgetsRemembered bounds the workloads whose budget is remembered.
const budgetsRemembered = 1024

// budgets reads the rolling of each workload of namespace ns that has
// pods to replace, from the API server (the controller caches no
// workload's spec), reusing what was read within budgetTTL. A workload that
// cannot be read has defaultRolling.
func (r *Reconciler) budgets(ctx context.Context, ns string, workloads []Workload) map[Workload]rolling {
	out := map[Workload]rolling{}
	for _, w := range workloads {
		var obj client.Object
		switch {
		case w.APIVersion != appsv1.SchemeGroupVersion.String():
			continue
		case w.Kind == "Deployment":
			obj = &appsv1.Deployment{}
		case w.Kind == "StatefulSet":
			obj = &appsv1.StatefulSet{}
		case w.Kind == "DaemonSet":
			obj = &appsv1.DaemonSet{}
		default:
			continue
		}
		if n, ok := r.budgetsRead.Get(w.UID); ok {
			out[w] = n.(rolling)
			continue
		}
		if err := r.API.Get(ctx, client.ObjectKey{Namespace: ns, Name: w.Name}, obj); err != nil || obj.GetUID() != w.UID {
			log.FromContext(ctx).V(1).Info("workload's rolling update not read: its pods are replaced one at a time", "workload", w.String(), "error", err)
			continue
		}
		out[w] = rollingOf(obj)
		r.budgetsRead.Add(w.UID, out[w], budgetTTL)
	}
	return out
}
