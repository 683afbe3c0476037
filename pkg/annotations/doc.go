// Package annotations is hotreload's user-facing API in one place: every label
// and annotation key, its default, and one typed accessor per key that merges the
// pod's value over the namespace's over the default and reports a malformed value
// as a warning naming the key, the value and what was used instead.
//
// It never performs I/O and never fails: bad input yields the default and a warning.
//
// # Per-container values
//
// Signal, URL, Process, Validate and Confirm hold either one value, for every
// reloaded container, or a list of values by container:
//
//	hotreload/signal: nginx=SIGHUP,php-fpm=SIGUSR2
//
// The rule, which needs nothing but the pod's container names: a value is a
// list when it starts with NAME= where NAME is a container or init container
// of the pod. Each entry then runs from its NAME= to the next comma that is
// followed (after spaces) by NAME= of a container of the pod; commas and
// equals signs elsewhere belong to the value, so that a URL's query or a JSON
// array needs no escaping:
//
//	hotreload/validate: nginx=["nginx","-t"],php-fpm=php-fpm -t
//
// Any other value is one value for every reloaded container, read as it
// always was. (A value for all that itself starts with a container's NAME=,
// such as the regexp "app=web" in a pod with a container app, is written as
// a list: "app=app=web".) A reloaded container that no entry names gets the key's
// default. An entry naming a container that is not reloaded, a container
// named twice (the first entry counts) and an entry without a value are
// warned about and left out.
package annotations
