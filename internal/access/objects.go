package access

import (
	"strings"

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

// ControllerName names the RoleBinding, in each enabled namespace, that grants the
// controller its rights there: the ClusterRole ControllerRole, bound to the
// controller's own identity.
const ControllerName = "hotreload-controller"

// ControllerRole is the ClusterRole of what the controller may do only in enabled
// namespaces: read the Secrets their pods mount, and keep its copies of them.
const ControllerRole = "hotreload-controller-namespace"

// ControllerRoleBinding grants controller the ClusterRole ControllerRole in namespace.
func ControllerRoleBinding(namespace string, controller rbacv1.Subject) *rbacv1.RoleBinding {
	m := meta(namespace)
	m.Name = ControllerName
	return &rbacv1.RoleBinding{
		ObjectMeta: m,
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: ControllerRole},
		Subjects:   []rbacv1.Subject{controller},
	}
}

// subjectOf is the RBAC subject of an authenticated user name: a ServiceAccount
// for system:serviceaccount:<namespace>:<name>, a User otherwise.
func subjectOf(username string) rbacv1.Subject {
	if rest, ok := strings.CutPrefix(username, "system:serviceaccount:"); ok {
		if ns, name, ok := strings.Cut(rest, ":"); ok && ns != "" && name != "" && !strings.Contains(name, ":") {
			return rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: name}
		}
	}
	return rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: username}
}
