package rollout

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/release"
)

// The warnings a pod was admitted with (hotreload/warnings, which the
// webhook writes on the pods it injects) reach the owner of its workload:
// the admission's own warnings went to whoever made the pod, a ReplicaSet
// controller for a Deployment's. Each is said once per pod template, as a
// Warning Event on the top workload
// (docs/design/2026-12-07-warnings-reach-the-owner.md).

// AdmissionWarningsName is the controller that says them: a reconcile of its
// own, so that the pod watch of the release controller only maps.
const AdmissionWarningsName = "hotreload-admission-warnings"

// warningsAnnotation holds, on the cached copy of a pod only, the digest of
// its hotreload/warnings (warningsDigest): the cache keeps it instead of the
// text, which is read from the API server once per template.
const warningsAnnotation = "rollout.hotreload.internal/warnings"

// warningsDigest is 16 hexadecimal digits of the SHA-256 of a pod's
// hotreload/warnings.
func warningsDigest(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:8])
}

// templateLabels are the labels that say which of its controller's templates
// a pod was made from, which the cache keeps: a Deployment's ReplicaSet's,
// and a StatefulSet's or DaemonSet's revision.
var templateLabels = []string{appsv1.DefaultDeploymentUniqueLabelKey, appsv1.ControllerRevisionHashLabelKey}

// podTemplate is the template a pod was made from.
type podTemplate struct {
	// key is its controller's UID and the template labels the pod has: a
	// ReplicaSet is one template, a StatefulSet or a DaemonSet keeps one
	// per revision.
	key string
	// name says it in an Event: "ReplicaSet/web-7d9f8c6b5",
	// "StatefulSet/db revision db-5c6d7e8f9".
	name string
}

// templateOf returns the template a pod was made from; false for a pod
// without a controller.
func templateOf(pod *corev1.Pod) (podTemplate, bool) {
	o := metav1.GetControllerOfNoCopy(pod)
	if o == nil {
		return podTemplate{}, false
	}
	t := podTemplate{key: string(o.UID), name: o.Kind + "/" + o.Name}
	for _, l := range templateLabels {
		if v := pod.Labels[l]; v != "" {
			t.key += "/" + l + "=" + v
		}
	}
	if rev := pod.Labels[appsv1.ControllerRevisionHashLabelKey]; rev != "" {
		t.name += " revision " + rev
	}
	return t, true
}

// said is how the memories of what was said key a template's set of
// warnings, or one of its warnings.
func said(t podTemplate, what string) [32]byte {
	return sha256.Sum256([]byte(t.key + "\n" + what))
}

// replicaSetWait is how long a pod's warnings wait for its ReplicaSet to
// reach the cache (its informer and the pods' race), after the pod was made;
// then the ReplicaSet stands for its workload.
const replicaSetWait = 30 * time.Second

// checkWarnings says, on the top workload of an injected pod that a
// controller made, each warning of its admission not yet said for its
// template. A template whose set of warnings was said costs nothing more;
// else the text is read from the API server (the cache keeps its digest).
func (r *Reconciler) checkWarnings(ctx context.Context, pod *corev1.Pod) (reconcile.Result, error) {
	digest := pod.Annotations[warningsAnnotation]
	_, injected := annotations.InjectedOf(pod.Annotations)
	t, made := templateOf(pod)
	if digest == "" || !injected || !made || pod.DeletionTimestamp != nil {
		return reconcile.Result{}, nil
	}
	set := said(t, digest)
	if !r.warnedSets.first(set) {
		return reconcile.Result{}, nil
	}
	w, known := r.workloadToWarn(ctx, pod)
	if !known {
		r.warnedSets.forget(set)
		return reconcile.Result{RequeueAfter: time.Second}, nil
	}
	meta := &metav1.PartialObjectMetadata{}
	meta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Pod"))
	if err := r.API.Get(ctx, client.ObjectKeyFromObject(pod), meta); err != nil {
		r.warnedSets.forget(set)
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	regarding, ok := workloadObject(w, pod.Namespace)
	if !ok {
		return reconcile.Result{}, nil
	}
	for _, text := range annotations.WarningsOf(meta.Annotations) {
		if r.warned.first(said(t, text)) {
			r.Recorder.Eventf(regarding, pod, corev1.EventTypeWarning, ReasonAdmissionWarning, actionAdmit,
				"%s (pods of %s are admitted with it; first seen on pod %s)", text, t.name, pod.Name)
		}
	}
	return reconcile.Result{}, nil
}

// workloadToWarn returns the pod's top workload (release.WorkloadOf); false
// while its ReplicaSet is not in the cache yet, for replicaSetWait after the
// pod was made.
func (r *Reconciler) workloadToWarn(ctx context.Context, pod *corev1.Pod) (Workload, bool) {
	cached := true
	w := release.WorkloadOf(pod, func(name string, uid types.UID) *metav1.OwnerReference {
		rs := replicaSetMeta()
		if err := r.Cache.Get(ctx, client.ObjectKey{Namespace: pod.Namespace, Name: name}, rs); err != nil || rs.UID != uid {
			cached = false
			return nil
		}
		return metav1.GetControllerOfNoCopy(rs)
	})
	return w, cached || r.Now().Sub(pod.CreationTimestamp.Time) >= replicaSetWait
}

// setupAdmissionWarnings adds the reconcile that says the admission warnings
// of the pods the namespace caches send, with r's Recorder.
func setupAdmissionWarnings(mgr manager.Manager, warned <-chan event.TypedGenericEvent[*corev1.Pod], r *Reconciler) error {
	ctrl, err := controller.New(AdmissionWarningsName, mgr, controller.Options{
		Reconciler: reconcile.Func(func(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
			var pod corev1.Pod
			err := r.Cache.Get(ctx, req.NamespacedName, &pod)
			switch {
			case errors.Is(err, errNotSynced): // its informer sends pods as it lists them
				return reconcile.Result{RequeueAfter: time.Second}, nil
			case errors.Is(err, errNotWatched):
				return reconcile.Result{}, nil
			case err != nil:
				return reconcile.Result{}, client.IgnoreNotFound(err)
			}
			return r.checkWarnings(ctx, &pod)
		}),
	})
	if err != nil {
		return fmt.Errorf("creating the admission warnings' reconcile: %w", err)
	}
	if err := ctrl.Watch(source.Channel(warned, &handler.TypedEnqueueRequestForObject[*corev1.Pod]{})); err != nil {
		return fmt.Errorf("watching for the admission warnings' reconcile: %w", err)
	}
	return nil
}
