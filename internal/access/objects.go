package access

import (
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ReloaderName names the reloader's ServiceAccount and RoleBinding in each enabled
// namespace, and the ClusterRole they bind.
const ReloaderName = "hotreload-reloader"

// Labels on the objects this package creates.
const (
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedBy      = "hotreload"
)

func meta(namespace string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:      ReloaderName,
		Namespace: namespace,
		Labels:    map[string]string{ManagedByLabel: ManagedBy},
	}
}

// ServiceAccount is the reloader's ServiceAccount in namespace. Its token is never
// mounted: the controller mints short-lived ones (internal/identity).
func ServiceAccount(namespace string) *corev1.ServiceAccount {
	no := false
	return &corev1.ServiceAccount{ObjectMeta: meta(namespace), AutomountServiceAccountToken: &no}
}

// RoleBinding grants the reloader's ServiceAccount the ClusterRole hotreload-reloader
// in namespace.
func RoleBinding(namespace string) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{
		ObjectMeta: meta(namespace),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: ReloaderName},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: ReloaderName, Namespace: namespace}},
	}
}
