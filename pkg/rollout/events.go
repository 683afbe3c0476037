package rollout

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/notify"
)

// Event reasons the controller records on sources, their releases, workloads
// and pods.
const (
	ReasonRolloutStarted    = "RolloutStarted"
	ReasonStepReleased      = "StepReleased"
	ReasonRolloutCompleted  = "RolloutCompleted"
	ReasonRolloutHalted     = "RolloutHalted"
	ReasonRolledBack        = "RolledBack"
	ReasonRolloutSuperseded = "RolloutSuperseded"
	// ReasonReleaseBlocked warns that the release cannot go on: an object
	// hotreload keeps is missing or has a user's name.
	ReasonReleaseBlocked = "ReleaseBlocked"
	// ReasonInvalidSettings warns that a malformed hotreload/rollout or
	// hotreload/rollout-interval was replaced by its default.
	ReasonInvalidSettings = "InvalidRolloutSettings"
	// ReasonUnknownContract warns, on a pod, that its reloader's command line
	// is of a contract version this controller cannot read: the pod is left
	// out of releases.
	ReasonUnknownContract = "UnknownContract"
	// ReasonCannotRollBack warns, on a pod of contract version 1, that it
	// keeps a halted candidate.
	ReasonCannotRollBack = "CannotRollBack"
	// ReasonOversized: a pod carries a hotreload/ annotation larger than
	// any hotreload writes, and is left out of releases.
	ReasonOversized = "AnnotationTooLarge"
	// ReasonSourceIgnored: a source annotated hotreload/ignore gets no
	// release; its release, if any, stays as it is.
	ReasonSourceIgnored = "SourceIgnored"
	// ReasonAdmissionWarning warns, on a workload, that pods of one of its
	// templates were admitted with a warning (a malformed value, a setting
	// hotreload could not honour): once per template and warning.
	ReasonAdmissionWarning = "AdmissionWarning"
)

// Actions of the controller's events.k8s.io Events.
const (
	actionRelease  = "Release"
	actionHalt     = "Halt"
	actionComplete = "Complete"
	actionCommand  = "Command"
	actionAdmit    = "Admit"
)

// sourceObject is what an Event about source s regards.
func sourceObject(s SourceRef, uid types.UID) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: string(s.Kind)},
		ObjectMeta: metav1.ObjectMeta{Namespace: s.Namespace, Name: s.Name, UID: uid}}
}

// announcer records a release's Events on its source and on the release,
// and hands its outcomes to the notifier.
type announcer struct {
	r       *Reconciler
	regards []*metav1.PartialObjectMetadata
	ns      string
	source  SourceRef
	release string
}

func (r *Reconciler) announcer(ctx context.Context, rel *v1alpha1.ConfigRelease, s SourceRef) *announcer {
	src := sourceObject(s, r.sourceUID(ctx, s))
	self := &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "ConfigRelease"},
		ObjectMeta: metav1.ObjectMeta{Namespace: rel.Namespace, Name: rel.Name, UID: rel.UID}}
	return &announcer{r: r, regards: []*metav1.PartialObjectMetadata{src, self}, ns: s.Namespace, source: s, release: rel.Name}
}

// notify hands n, an outcome of the announcer's release, to the notifier.
func (a *announcer) notify(n notify.Notification) {
	if a.r.Notifier == nil {
		return
	}
	n.Time = a.r.Now()
	n.Namespace, n.Release = a.ns, a.release
	n.Source = notify.Source{Kind: string(a.source.Kind), Name: a.source.Name}
	a.r.Notifier.Notify(n)
}

func (a *announcer) normal(reason, action, note string, args ...any) {
	for _, o := range a.regards {
		a.r.Recorder.Eventf(o, nil, corev1.EventTypeNormal, reason, action, note, args...)
	}
}

func (a *announcer) warning(reason, action, note string, args ...any) {
	for _, o := range a.regards {
		a.r.Recorder.Eventf(o, nil, corev1.EventTypeWarning, reason, action, note, args...)
	}
}

// onWorkload records an Event on a workload too, so that `kubectl describe
// deployment` tells the config story.
func (a *announcer) onWorkload(w Workload, typ, reason, action, note string) {
	if o, ok := workloadObject(w, a.ns); ok {
		a.r.Recorder.Eventf(o, nil, typ, reason, action, "%s", note)
	}
}

// workloadObject is what an Event about workload w of namespace ns regards;
// false for the bare pods of a namespace, which have no object to record it
// on.
func workloadObject(w Workload, ns string) (*metav1.PartialObjectMetadata, bool) {
	if w.Name == "" {
		return nil, false
	}
	gv, err := schema.ParseGroupVersion(w.APIVersion)
	if err != nil {
		return nil, false
	}
	return &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: gv.String(), Kind: w.Kind},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: w.Name, UID: w.UID}}, true
}
