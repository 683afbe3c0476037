// Package rollout is the release controller: for each ConfigMap or Secret that
// injected pods reload, it keeps a ConfigRelease (api/v1alpha1) with the
// source's stable and candidate revisions, releases the candidate to each
// consuming workload in steps, halts and rolls every consumer back when a pod
// fails on it, and makes it stable once every consumer ran it healthy.
//
// The state of a config change lives in durable objects, never only on the
// pods: the release's status (phase, halt, each workload's step, history),
// the object that keeps each revision's content (hotreload-rev-<name>-<rev>)
// and the stable copy pods mount (hotreload-stable-<name>). It is
// level-triggered: a restart resumes from them. See
// docs/design/2026-12-01-config-releases.md.
//
// # Shape
//
// A step of a release reads as observe → decide → act
// (docs/design/2026-12-07-controller-shape.md): the Reconciler gathers a
// stepWorld from its caches (the release, the namespace's defaults, each
// consumer's workload and state, whether it holds the candidate, the pending
// command); decideStep, pure, returns the stepDecision (next status, which
// pods hold the candidate, the halt, the order of the writes, when to look
// again); act writes it. Plan is decideStep's core for one workload: from its
// pods, the step it reached and its settings, it decides what to release,
// what halts and when to look again. The release's transitions (firstSeen,
// newCandidate, halted, completed) are pure too. Each pod's target (the pod
// revision of its volumes, each source at its stable or, where the pod holds
// it, its candidate revision) comes from pkg/revision; act writes
// hotreload/released and hotreload/candidates on pods, then the release's
// status, then Events and metrics. The rules kubectl hotreload applies too
// (commands, workloads, which pods consume a source) are pkg/release's.
//
// The watches only map events to sources. Opted-in pods admitted without the
// sidecar are said so by a reconcile of their own (NotInjectedName), and the
// warnings injected pods were admitted with (hotreload/warnings) by another
// (AdmissionWarningsName): an AdmissionWarning Event on the top workload,
// once per pod template and warning (warnings.go).
//
// # The source's own say
//
// A source annotated hotreload/ignore: "true" gets no release; a release
// that exists stays as it is until the annotation goes (SourceIgnored). With
// hotreload/on-halt: retry on the source or its namespace, decideStep
// retries a candidate a pod halted from step 1, with backoff, at most
// RetryLimit times (retry.go; docs/design/2026-12-07-ignore-and-on-halt.md).
//
// # What is on the pods
//
//   - hotreload/released: the pod revision the pod may apply; the reloader
//     obeys it alone.
//   - hotreload/candidates: which candidates that release holds, per source.
//     A pod holds a source's candidate when the entry names it and its release
//     is the one that gives it, or when the candidate changes nothing the pod
//     projects.
//   - a pod never released runs what it started on: its stable mounts.
//
// # Bad input
//
// Malformed steps or intervals fall back to the namespace's value, else the
// default, with an InvalidRolloutSettings Warning Event when a step is first
// released. A pod whose reloader command line this controller cannot read (a
// newer contract) is left out, with an UnknownContract Event. A missing
// non-optional ConfigMap or Secret leaves the pod alone (the kubelet keeps
// what it mounted). An object hotreload would write that has a user's name
// blocks the release, with a ReleaseBlocked Event; it is never overwritten.
//
// # Memory
//
// The controller's own caches start only on the elected leader. Cluster-wide
// it keeps the releases and the namespaces, reduced to their hotreload/
// labels and annotations. Each enabled namespace gets a cache of its own,
// started with the label and stopped without it (namespaces.go): its pods
// labelled hotreload/enable=true, reduced to identity, owners, hotreload/
// labels and those that name the pod's template (pod-template-hash,
// controller-revision-hash), the annotations rollouts read (each at most
// 4 KiB), the digest of its admission warnings (not their text), reloadable
// volumes, what it reads of the reloader's command line and the status
// fields the gate reads; its ConfigMaps and Secrets, reduced to identity,
// hotreload's labels, hotreload/ignore and hotreload/on-halt (each at most
// 256 bytes) and one annotation holding the SHA-256 of each key; and
// its ReplicaSets' owners. Nothing of any other namespace is listed, watched
// or read. Data is hashed on arrival and dropped: the controller reads a
// source's data only to keep a revision, and
// never logs it.
package rollout
