// Package deploy holds hotreload's kustomize manifests (base, and the default and
// selfsigned overlays) and, behind the integration build tag, the tests that build
// them, apply them to a real API server, and exercise their RBAC and admission
// policy with real tokens. It has no code the product runs, and must never
// need anything in a cluster beyond what the manifests create.
package deploy
