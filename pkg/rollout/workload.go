package rollout

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Workload is the unit a release steps through: the top of a pod's
// controller chain, followed through ReplicaSets (a Deployment's pods, or an
// Argo Rollout's, across all their ReplicaSets), else the pod's own
// controller (StatefulSet, DaemonSet, an operator's object). The pods of a
// namespace without a controller are one workload, of Kind Pod and no name.
type Workload struct {
	APIVersion, Kind, Name string
	UID                    types.UID
}

// String is Kind/name, or "Pods" for the bare pods of a namespace.
func (w Workload) String() string { return workloadName(w.Kind, w.Name) }

// bare is the workload of the pods without a controller.
var bare = Workload{APIVersion: "v1", Kind: "Pod"}

// workloadOf returns the pod's workload. A ReplicaSet's owner is read from
// the cache of ReplicaSet metadata; a ReplicaSet not in it yet stands for
// itself.
func workloadOf(ctx context.Context, c client.Reader, pod *corev1.Pod) Workload {
	o := metav1.GetControllerOfNoCopy(pod)
	if o == nil {
		return bare
	}
	w := Workload{APIVersion: o.APIVersion, Kind: o.Kind, Name: o.Name, UID: o.UID}
	if o.Kind != "ReplicaSet" || o.APIVersion != appsv1.SchemeGroupVersion.String() {
		return w
	}
	rs := &metav1.PartialObjectMetadata{}
	rs.SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))
	if err := c.Get(ctx, client.ObjectKey{Namespace: pod.Namespace, Name: o.Name}, rs); err != nil || rs.UID != o.UID {
		return w
	}
	if top := metav1.GetControllerOfNoCopy(rs); top != nil {
		return Workload{APIVersion: top.APIVersion, Kind: top.Kind, Name: top.Name, UID: top.UID}
	}
	return w
}
