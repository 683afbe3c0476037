// Package mutate turns an opted-in Pod into one that runs the reloader: it
// redirects config mounts to the live copy, adds the install, link and reloader
// containers, and stamps the pod as injected, with the warnings of its admission.
//
// It is pure: Pod and Options in, Pod and warnings out. It performs no I/O, holds
// no clients and reads no clock, so the admission server and the offline
// `webhook mutate` preview run exactly the same code. What it needs of the
// cluster comes in Options: the namespace's annotations, and those of the
// ConfigMaps and Secrets the pod mounts (Sources lists them), by which a
// source's owner asks hotreload to leave it alone (hotreload/ignore).
package mutate
