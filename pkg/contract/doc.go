// Package contract is the injected pod's contract, written once: the names and
// paths hotreload owns in a pod, the sidecar's environment, and the command
// lines of the reloader's three commands (install, run, link) as typed values
// that are built (Args) and parsed (ParseRun, ParseInstall, ParseLink) by the
// same code.
//
// Three processes meet here: pkg/mutate writes the contract into a pod at
// admission, cmd/reloader runs inside that pod and parses it, and pkg/rollout
// reads it back from the pod (FromPod) to know which volumes a pod's reloader
// hashes. Each of them calls this package, so they cannot drift apart.
//
// # Versions
//
// Every command line carries the contract version it was written with
// (--contract N); a command line without it is version 1, the layout of the
// first release. Version is the newest version this build writes and reads; it
// also reads every older one. A command line of a newer version fails to parse
// with ErrNewerContract, naming both versions, so a pod injected by a newer
// hotreload is refused with a clear message, never misread. The frozen pods in
// testdata/v<N> are what each older version wrote; the tests keep them parsing.
//
// Values are checked leniently: a signal, URL or process regexp the reloader
// could not use is replaced by its default and reported as a warning, the way
// pkg/annotations treats a malformed annotation. Only a command line whose
// shape is wrong (an unknown flag, a missing volume) is an error.
//
// It performs no I/O.
package contract
