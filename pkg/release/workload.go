package release

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
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

// String is how a release names the workload: Kind/name, or "Pods" for the
// bare pods of a namespace.
func (w Workload) String() string { return WorkloadName(w.Kind, w.Name) }

// WorkloadName is how a release names a workload of kind and name (a status
// entry's): Kind/name, or "Pods" for the bare pods of a namespace.
func WorkloadName(kind, name string) string {
	if name == "" {
		return kind + "s"
	}
	return kind + "/" + name
}

// Bare is the workload of the pods without a controller.
var Bare = Workload{APIVersion: "v1", Kind: "Pod"}

// ReplicaSetController returns the controller of the pod's ReplicaSet, of
// that name and UID, as the caller knows it; nil when the caller does not
// know the ReplicaSet, or it has no controller.
type ReplicaSetController func(name string, uid types.UID) *metav1.OwnerReference

// WorkloadOf returns the pod's workload. A ReplicaSet whose controller is
// not known stands for itself.
func WorkloadOf(pod *corev1.Pod, rsController ReplicaSetController) Workload {
	o := metav1.GetControllerOfNoCopy(pod)
	if o == nil {
		return Bare
	}
	w := Workload{APIVersion: o.APIVersion, Kind: o.Kind, Name: o.Name, UID: o.UID}
	if o.Kind != "ReplicaSet" || o.APIVersion != appsv1.SchemeGroupVersion.String() {
		return w
	}
	if top := rsController(o.Name, o.UID); top != nil {
		return Workload{APIVersion: top.APIVersion, Kind: top.Kind, Name: top.Name, UID: top.UID}
	}
	return w
}
