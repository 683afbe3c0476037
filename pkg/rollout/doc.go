// Package rollout is the canary controller: for each group of injected pods whose
// desired config revision differs from the applied one, it releases the revision
// to the pods in steps, gates each step on health, and halts on failure.
//
// It is level-triggered and keeps no state of its own: everything it knows is on
// the pods, so a restart loses nothing. It never caches ConfigMap or Secret data.
//
// # Shape
//
// Plan is the pure core: from the pods' state (StateOf), the steps, the
// interval and the time, it decides what to release, what halts and when to
// look again. The Reconciler reads the cache, computes each pod's desired
// revision with pkg/revision over the volumes its reloader hashes (the
// reloader's --volume arguments), calls Plan per rollout unit, and writes:
// hotreload/released on released pods, hotreload/failed on a pod that halts,
// Events and metrics.
//
// # Groups and units
//
// A group is the pods of one controlling owner in one namespace, or one bare
// pod (GroupOf). The pods of a group that want the same revision form a unit
// and roll out together; pods of one group wanting different revisions (a
// StatefulSet mid-update, different items) are different units.
//
// # What is on the pods
//
//   - released: a pod counts as released at R when hotreload/released is R or
//     it already runs R (hotreload/applied): a pod created during a rollout
//     starts on what is mounted then, and a 100% reloader applies on mount.
//   - the gate: every released pod applied R (with hotreload/applied-at), is
//     Ready, and has been for the interval since it applied R or last became
//     Ready, whichever is later. The reconcile requeues at that exact time.
//   - the step: with c pods released, the next step is the first whose target
//     exceeds c. A restart mid-step waits for the gate, then tops up.
//   - a halt: a released pod whose hotreload/failed names R, or that stopped
//     being Ready or restarted (an app container's lastState.terminated
//     finishedAt) within its interval after applying R. The controller writes
//     hotreload/failed itself, its reason ending in "; rollout halted", which
//     also marks the halt as announced.
//   - events: RolloutStarted and StepReleased are recorded with the writes that
//     make them true, RolloutHalted with the hotreload/failed write that marks
//     it announced, so none repeats. RolloutCompleted is recorded by the process
//     that saw the rollout under way, so a restart after a rollout says nothing
//     (a completion that happens while no controller runs is not announced).
//
// # Bad input
//
// Malformed steps or intervals fall back to the namespace's value, else the
// default, with an InvalidRolloutSettings Warning Event when a rollout starts.
// A missing optional ConfigMap or Secret (or key) projects nothing, as the
// kubelet does. A missing non-optional one leaves the pod alone: the kubelet
// cannot update such a volume and keeps what it mounted, so there is nothing
// to roll out until the object is back.
//
// # Memory
//
// The controller's own cache starts only on the elected leader. It holds the
// pods labelled hotreload/enable=true, reduced to identity, owners, hotreload/
// keys, reloadable volumes, the reloader's --volume arguments and the status
// fields the gate reads; every ConfigMap and Secret of the cluster, reduced to
// identity and one annotation holding the SHA-256 of each key (about 100 bytes
// a key); and namespaces, reduced to their hotreload/ annotations. Their data
// is hashed on arrival and dropped: the controller never holds Secret bytes
// past the informer's decoding.
package rollout
