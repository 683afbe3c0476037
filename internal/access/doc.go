// Package access keeps the reloader's rights in step with the namespace label
// hotreload/injection=enabled: in each enabled namespace, the ServiceAccount
// hotreload-reloader and a RoleBinding of it to the ClusterRole hotreload-reloader
// (deploy/base/rbac-reloader.yaml); elsewhere, neither.
//
// It never grants anything but that ClusterRole, never touches objects of another
// name, and never acts on a namespace that is being deleted beyond removing what it
// created. docs/design/2026-11-24-reloader-identity.md explains the identity.
package access
