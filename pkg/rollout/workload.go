package rollout

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hotreload/hotreload/pkg/release"
)

// Workload is the unit a release steps through (release.Workload).
type Workload = release.Workload

// workloadOf returns the pod's workload (release.WorkloadOf). A ReplicaSet's
// controller is read from the cache of ReplicaSet metadata; a ReplicaSet not
// in it yet stands for itself.
func workloadOf(ctx context.Context, c client.Reader, pod *corev1.Pod) Workload {
	return release.WorkloadOf(pod, func(name string, uid types.UID) *metav1.OwnerReference {
		rs := &metav1.PartialObjectMetadata{}
		rs.SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))
		if err := c.Get(ctx, client.ObjectKey{Namespace: pod.Namespace, Name: name}, rs); err != nil || rs.UID != uid {
			return nil
		}
		return metav1.GetControllerOfNoCopy(rs)
	})
}
