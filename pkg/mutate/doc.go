// Package mutate turns an opted-in Pod into one that runs the reloader: it
// redirects config mounts to the live copy, adds the install, link and reloader
// containers, and stamps the pod as injected.
//
// It is pure: Pod and Options in, Pod and warnings out. It performs no I/O, holds
// no clients and reads no clock, so the admission server and the offline
// `webhook mutate` preview run exactly the same code.
package mutate
