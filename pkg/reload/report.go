package reload

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"

	"github.com/hotreload/hotreload/pkg/annotations"
)

// Event reasons the reloader records on its pod.
const (
	ReasonApplied      = "ConfigApplied"
	ReasonReloadFailed = "ConfigReloadFailed"
)

// Reporter writes the outcome of a reload on the reloader's own pod: only
// hotreload/ keys, through a merge patch, plus an Event.
type Reporter struct {
	Client    API
	Namespace string
	PodName   string
	Now       func() time.Time
}

func (r *Reporter) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Applied labels the pod hotreload/applied=rev with the hotreload/applied-at
// time, clears hotreload/failed, and records a Normal Event.
func (r *Reporter) Applied(ctx context.Context, rev, message string) error {
	at := r.now().UTC().Format(time.RFC3339)
	patch := map[string]any{"metadata": map[string]any{
		"labels":      map[string]any{annotations.Applied: rev},
		"annotations": map[string]any{annotations.AppliedAt: at, annotations.Failed: nil},
	}}
	if err := r.patch(ctx, patch); err != nil {
		return err
	}
	return r.event(ctx, corev1.EventTypeNormal, ReasonApplied, fmt.Sprintf("applied config revision %s: %s", rev, message))
}

// Failed annotates the pod hotreload/failed with the revision, the reason and
// the time, and records a Warning Event.
func (r *Reporter) Failed(ctx context.Context, rev, reason string) error {
	at := r.now().UTC().Format(time.RFC3339)
	patch := map[string]any{"metadata": map[string]any{
		"annotations": map[string]any{annotations.Failed: annotations.FormatFailed(rev, reason+" (at "+at+")")},
	}}
	if err := r.patch(ctx, patch); err != nil {
		return err
	}
	return r.event(ctx, corev1.EventTypeWarning, ReasonReloadFailed, fmt.Sprintf("config revision %s: %s", rev, reason))
}

func (r *Reporter) patch(ctx context.Context, patch map[string]any) error {
	body, err := json.Marshal(patch)
	if err != nil {
		return err
	}
	retriable := func(err error) bool {
		return apierrors.IsConflict(err) || apierrors.IsServerTimeout(err) || apierrors.IsTooManyRequests(err) ||
			apierrors.IsTimeout(err) || apierrors.IsServiceUnavailable(err) || apierrors.IsInternalError(err)
	}
	err = retry.OnError(retry.DefaultBackoff, retriable, func() error {
		_, err := r.Client.PatchPod(ctx, r.Namespace, r.PodName, types.MergePatchType, body, metav1.PatchOptions{FieldManager: "hotreload-reloader"})
		return err
	})
	if err != nil {
		return fmt.Errorf("report on pod %s/%s: %w", r.Namespace, r.PodName, err)
	}
	return nil
}

func (r *Reporter) event(ctx context.Context, typ, reason, message string) error {
	pod, err := r.Client.GetPod(ctx, r.Namespace, r.PodName)
	if err != nil {
		return fmt.Errorf("event on pod %s/%s: %w", r.Namespace, r.PodName, err)
	}
	now := metav1.NewTime(r.now())
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{GenerateName: r.PodName + ".", Namespace: r.Namespace},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: r.Namespace, Name: r.PodName,
			UID: pod.UID, ResourceVersion: pod.ResourceVersion},
		Type: typ, Reason: reason, Message: message, Count: 1,
		FirstTimestamp: now, LastTimestamp: now,
		Source:              corev1.EventSource{Component: "hotreload-reloader", Host: pod.Spec.NodeName},
		ReportingController: "hotreload/reloader", ReportingInstance: r.PodName,
	}
	if _, err := r.Client.CreateEvent(ctx, r.Namespace, ev); err != nil {
		return fmt.Errorf("event on pod %s/%s: %w", r.Namespace, r.PodName, err)
	}
	return nil
}
