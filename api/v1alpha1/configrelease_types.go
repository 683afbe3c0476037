package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SourceKind is the kind of object a release is about.
// +kubebuilder:validation:Enum=ConfigMap;Secret
type SourceKind string

// The kinds of source a release can be about.
const (
	SourceConfigMap SourceKind = "ConfigMap"
	SourceSecret    SourceKind = "Secret"
)

// Phase is where a release stands.
// +kubebuilder:validation:Enum=Progressing;Paused;Halted;Complete
type Phase string

// The phases of a release.
const (
	// PhaseProgressing: the candidate is being released to the consumers in steps.
	PhaseProgressing Phase = "Progressing"
	// PhasePaused: a user holds the release at its current step.
	PhasePaused Phase = "Paused"
	// PhaseHalted: a pod failed on the candidate; every consumer runs stable, and
	// nothing more is released until the source changes or a user acts.
	PhaseHalted Phase = "Halted"
	// PhaseComplete: every consumer runs the stable revision, which is the source's.
	PhaseComplete Phase = "Complete"
)

// Outcome is what became of a revision.
// +kubebuilder:validation:Enum=Progressing;Completed;Halted;Aborted;Superseded;Stable
type Outcome string

// The outcomes of a revision.
const (
	OutcomeProgressing Outcome = "Progressing"
	OutcomeCompleted   Outcome = "Completed"
	OutcomeHalted      Outcome = "Halted"
	OutcomeAborted     Outcome = "Aborted"
	OutcomeSuperseded  Outcome = "Superseded"
	// OutcomeStable is the first revision seen of a source: stable without a release.
	OutcomeStable Outcome = "Stable"
)

// Source names the ConfigMap or Secret a release is about, in the release's namespace.
type Source struct {
	Kind SourceKind `json:"kind"`
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
}

// Action is what a command asks of a release.
// +kubebuilder:validation:Enum=Promote;PromoteFull;Pause;Resume;Abort;Retry;Undo
type Action string

// The commands a user can give a release (kubectl hotreload).
const (
	// ActionPromote releases each workload's next step now, without waiting
	// for its gate.
	ActionPromote Action = "Promote"
	// ActionPromoteFull releases every remaining pod of each workload now.
	ActionPromoteFull Action = "PromoteFull"
	// ActionPause and ActionResume record who set or cleared spec.paused, and why.
	ActionPause  Action = "Pause"
	ActionResume Action = "Resume"
	// ActionAbort halts the release now and rolls every consumer back to stable.
	ActionAbort Action = "Abort"
	// ActionRetry starts a halted candidate again from step 1.
	ActionRetry Action = "Retry"
	// ActionUndo records who wrote a kept revision back into the source, and
	// why: the plugin writes the source itself, then gives this command for
	// the revision it wrote, which the controller records once the source
	// holds it.
	ActionUndo Action = "Undo"
)

// Command is a one-shot command a user gave the release. The controller
// carries out each command once, for the candidate it names, and records
// what came of it in status.lastCommand.
type Command struct {
	// ID tells commands apart: a new ID is a new command.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	ID     string `json:"id"`
	Action Action `json:"action"`
	// Revision is the candidate the command is for; a command for another
	// revision is not carried out.
	// +kubebuilder:validation:MaxLength=64
	Revision string `json:"revision,omitempty"`
	// By is who gave the command: the requesting user, as the
	// hotreload-release-commands ValidatingAdmissionPolicy checks.
	// +kubebuilder:validation:MaxLength=256
	By string `json:"by,omitempty"`
	// Reason says why, for the Event that records the command.
	// +kubebuilder:validation:MaxLength=1024
	Reason string `json:"reason,omitempty"`
}

// ConfigReleaseSpec says which source the release is about, and holds what
// users ask of it.
type ConfigReleaseSpec struct {
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="source is immutable"
	Source Source `json:"source"`
	// Paused holds the release at the step each workload reached: nothing
	// more is released and no candidate becomes stable until it is false
	// again. A failing pod still halts the release.
	Paused bool `json:"paused,omitempty"`
	// Command is the last one-shot command given (promote, abort, retry, or
	// who paused, resumed or undid, and why).
	Command *Command `json:"command,omitempty"`
}

// CommandResult is what the controller made of a command.
type CommandResult struct {
	ID     string `json:"id"`
	Action Action `json:"action"`
	By     string `json:"by,omitempty"`
	// Done is true when the command was carried out; Result says what it did,
	// or why it did nothing.
	Done   bool        `json:"done,omitempty"`
	Result string      `json:"result"`
	Time   metav1.Time `json:"time"`
}

// Halt says why a release halted.
type Halt struct {
	// Pod is the pod that failed on the candidate; empty when a user aborted
	// the release.
	Pod string `json:"pod,omitempty"`
	// By is who aborted the release; empty for a halt a pod caused.
	By string `json:"by,omitempty"`
	// Workload is the pod's workload, as Kind/name.
	Workload string `json:"workload,omitempty"`
	// Revision is the candidate that halted.
	Revision string `json:"revision"`
	// Cause says what the pod did, or who aborted the release and why.
	Cause string      `json:"cause"`
	Time  metav1.Time `json:"time"`
	// RolledBack is true once no consumer runs the candidate any more.
	RolledBack bool `json:"rolledBack,omitempty"`
	// NextRetry is when the candidate is retried from step 1
	// (hotreload/on-halt: retry), once every pod went back to stable; absent
	// when the halt holds: the policy is hold, a user aborted the release,
	// or its retries are spent.
	NextRetry *metav1.Time `json:"nextRetry,omitempty"`
}

// WorkloadStatus is one consuming workload's progress through the candidate.
type WorkloadStatus struct {
	// Kind and Name of the workload: the top of its pods' controller chain
	// (Deployment, StatefulSet, ...), or Kind Pod and no name for the bare
	// pods of the namespace.
	Kind string `json:"kind"`
	Name string `json:"name,omitempty"`
	// Step is the step reached, 1-based, of Steps; 0 before the first.
	Step  int32 `json:"step"`
	Steps int32 `json:"steps"`
	// Rollout and Interval are the workload's settings.
	Rollout  string `json:"rollout,omitempty"`
	Interval string `json:"interval,omitempty"`
	// Pods consuming the source; of those, Released hold the candidate, Applied
	// run it, Ready are Ready.
	Pods     int32 `json:"pods"`
	Released int32 `json:"released"`
	Applied  int32 `json:"applied"`
	Ready    int32 `json:"ready"`
	// NotDelivered counts the pods that read the source in ways that
	// cannot change in place (env, envFrom, mounts left alone) and are
	// never replaced: no controller recreates them, or they are annotated
	// hotreload/restart: never. They keep what they started with.
	NotDelivered int32 `json:"notDelivered,omitempty"`
	// StepSince is when the current step was released.
	StepSince *metav1.Time `json:"stepSince,omitempty"`
	// Complete is true when every pod holds the candidate and has been healthy
	// for the interval at the last step.
	Complete bool `json:"complete,omitempty"`
}

// PodOwner is a pod's controller, as its ownerReferences name it.
type PodOwner struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
}

// RevisionRecord is what happened to one revision of the source.
type RevisionRecord struct {
	Revision string  `json:"revision"`
	Outcome  Outcome `json:"outcome"`
	// Seen is when the controller first saw the revision.
	Seen metav1.Time `json:"seen"`
	// Ended is when it completed, halted or was superseded.
	Ended *metav1.Time `json:"ended,omitempty"`
	// Cause of a halt.
	Cause string `json:"cause,omitempty"`
	// Reached says how far it got, per workload: "Deployment/web 2 of 3".
	Reached []string `json:"reached,omitempty"`
	// Size is the revision's content in bytes (keys and values).
	Size int64 `json:"size,omitempty"`
}

// ConfigReleaseStatus is the durable state of the source's config change.
type ConfigReleaseStatus struct {
	// ObservedGeneration is the generation the controller acted on.
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	Phase              Phase `json:"phase,omitempty"`
	// Stable is the revision every pod starts on and goes back to.
	Stable string `json:"stable,omitempty"`
	// Candidate is the source's revision being released; equal to Stable when complete.
	Candidate string `json:"candidate,omitempty"`
	// CandidateSince is when the controller first saw the candidate.
	CandidateSince *metav1.Time `json:"candidateSince,omitempty"`
	Halt           *Halt        `json:"halt,omitempty"`
	// Retries counts the automatic retries of the candidate after a halt
	// (hotreload/on-halt: retry); a new candidate starts again from 0.
	Retries int32 `json:"retries,omitempty"`
	// Workloads are the consumers of the source.
	Workloads []WorkloadStatus `json:"workloads,omitempty"`
	// Admit are the controllers (a Deployment's ReplicaSet, a StatefulSet,
	// ...) whose new pods start on the candidate: the release is replacing
	// their pods onto it in the current step. Every other new pod starts on
	// the stable revision (docs/design/2026-12-07-every-consumer.md).
	// +optional
	Admit []PodOwner `json:"admit,omitempty"`
	// Summary is one line for kubectl get: per workload its step.
	Summary string `json:"summary,omitempty"`
	// Message says what blocks the release, if anything does.
	Message string `json:"message,omitempty"`
	// History is the recent revisions, newest first.
	History []RevisionRecord `json:"history,omitempty"`
	// LastCommand is the last command of spec.command the controller handled.
	LastCommand *CommandResult `json:"lastCommand,omitempty"`
	// SourceGoneSince is when the controller found the source deleted. A
	// release outlives its source object: a source created again within
	// the grace period (replace --force, helm --force) goes on with this
	// release, its content an ordinary candidate; after the grace the
	// release ends, and its kept copies with it.
	SourceGoneSince *metav1.Time `json:"sourceGoneSince,omitempty"`
	// Conditions follow the kstatus conventions, for kubectl wait, Argo CD
	// and Flux: Ready (the candidate is stable on every consumer),
	// Reconciling (a candidate is being released, or paused), Stalled (the
	// release cannot go on without someone: halted, blocked or its source
	// deleted).
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Condition types of a ConfigRelease (kstatus).
const (
	ConditionReady       = "Ready"
	ConditionReconciling = "Reconciling"
	ConditionStalled     = "Stalled"
)

// ConfigRelease is the release of one ConfigMap or Secret to the pods that
// reload it: its stable and candidate revisions, its phase, and each
// consuming workload's step. The controller creates and updates it; it is
// named configmap-<name> or secret-<name>.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=crel,categories=hotreload
// +kubebuilder:printcolumn:name="Kind",type=string,JSONPath=`.spec.source.kind`
// +kubebuilder:printcolumn:name="Source",type=string,JSONPath=`.spec.source.name`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Stable",type=string,JSONPath=`.status.stable`
// +kubebuilder:printcolumn:name="Candidate",type=string,JSONPath=`.status.candidate`
// +kubebuilder:printcolumn:name="Progress",type=string,JSONPath=`.status.summary`
// +kubebuilder:printcolumn:name="Halted at",type=string,JSONPath=`.status.halt.pod`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ConfigRelease struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ConfigReleaseSpec   `json:"spec"`
	Status ConfigReleaseStatus `json:"status,omitempty"`
}

// ConfigReleaseList is a list of ConfigReleases.
//
// +kubebuilder:object:root=true
type ConfigReleaseList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ConfigRelease `json:"items"`
}
