// Package plugin is the kubectl-hotreload plugin: status, promote, pause,
// resume, abort, retry, history, diff and undo of the ConfigReleases of
// hotreload (docs/design/2026-12-02-operating-releases.md).
//
// # Shape
//
// What the plugin prints is made by pure functions over fixed inputs (a
// release, the namespace's pods and ReplicaSets, the kept revisions' content,
// a time and whether to colour): renderStatus, renderList, renderHistory,
// renderDiff. What it writes is computed the same way (commandPatch,
// undoTarget). Around them a thin shell reads and writes through the API, so
// RBAC decides who may do what: it writes only a release's spec.paused and
// spec.command, and, for undo, the source.
//
// The command line is cobra's, as kubectl's own: help, usage errors and
// shell completion (complete.go). kubectl's connection flags (--kubeconfig,
// --context, -n, ...) are cli-runtime's ConfigFlags, which every command
// takes before or after its name (run.go, connect.go). Exit codes: 0 done,
// 1 the command failed, 2 a usage error.
//
// It never prints a Secret's values nor a digest of one: diff shows a
// Secret's key names and sizes only. It never prints a control character it
// read from the cluster: every value is escaped on its way out (table.go).
package plugin
