// Package release holds the rules of a ConfigRelease that the controller
// (pkg/rollout) and the kubectl plugin (pkg/plugin) both apply, written once,
// as pkg/contract is for the webhook and the sidecar: which command applies
// to a release in which state, what a pod's workload is and how a release
// names it, how pods name a source in hotreload/candidates, and which pods
// consume a source. Pure functions of API objects: the callers read them.
package release
