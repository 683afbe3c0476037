// Package rollout is the canary controller: for each group of injected pods whose
// desired config revision differs from the applied one, it releases the revision
// to the pods in steps, gates each step on health, and halts on failure.
//
// It is level-triggered and keeps no state of its own: everything it knows is on
// the pods, so a restart loses nothing. It never caches ConfigMap or Secret data.
package rollout
