package reload

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"

	"github.com/hotreload/hotreload/pkg/annotations"
)

// ReasonReloadFailed is the reason of the Warning Event the reloader records
// on its pod when a revision fails there. An applied revision gets no Event:
// one per pod per edit would double what an edit writes; the label says it,
// and the controller records one Event per step.
const ReasonReloadFailed = "ConfigReloadFailed"

// Outcome is the result of a reload, to write on the pod.
type Outcome struct {
	Revision, Message string
	Failed            bool
	// After, when set, is a moment the report's hotreload/applied-at must
	// follow by a whole second: the time an app container was last seen
	// stopped. That annotation and the container statuses the controller
	// compares it with have whole seconds: reported in the second a container
	// stopped (a crash loop on the previous revision), the apply would look no
	// earlier than the stop, and the controller would take the stop for this
	// revision's doing.
	After time.Time
}

// Reporter writes the outcome of a reload on the reloader's own pod: only
// hotreload/ keys, through a merge patch, plus an Event for a failure. An outcome the API
// server refuses is kept and sent again by Run until it lands or a newer one
// replaces it: the reloader's loop never waits for the API server.
type Reporter struct {
	Client    API
	Namespace string
	PodName   string
	Now       func() time.Time
	Log       *slog.Logger
	// RetryAfter is the first wait before an unwritten outcome is sent again;
	// it doubles up to a minute. 1s when zero.
	RetryAfter time.Duration
	// Timeout bounds each attempt; reportTimeout when zero.
	Timeout time.Duration
	// maxRetryAfter caps the wait between attempts; a minute when zero.
	maxRetryAfter time.Duration

	// writing serialises writes, so an older outcome sent again never lands
	// after a newer one; it guards pending too.
	writing sync.Mutex
	pending *Outcome
	once    sync.Once
	wake    chan struct{}
	nudge   chan struct{}
}

func (r *Reporter) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Reporter) log() *slog.Logger {
	if r.Log != nil {
		return r.Log
	}
	return slog.Default()
}

func (r *Reporter) wakeup() chan struct{} {
	r.once.Do(r.init)
	return r.wake
}

func (r *Reporter) init() {
	r.wake, r.nudge = make(chan struct{}, 1), make(chan struct{}, 1)
}

// Report writes o on the pod, after o.After's second has passed. When the
// API server refuses it, o is kept for Run to send again, replacing any
// outcome kept before, and the error is returned.
func (r *Reporter) Report(ctx context.Context, o Outcome) error {
	if !o.After.IsZero() {
		select {
		case <-ctx.Done():
		case <-time.After(time.Until(o.After.Truncate(time.Second).Add(time.Second))):
		}
	}
	r.writing.Lock()
	defer r.writing.Unlock()
	r.pending = nil // o is newer than anything kept
	err := r.write(ctx, o)
	if err != nil {
		r.log().Error("report on the pod failed; sending it again", "revision", o.Revision, "failed", o.Failed, "err", err)
		r.pending = &o
		select {
		case r.wakeup() <- struct{}{}:
		default:
		}
	}
	return err
}

// Run sends the outcome left unwritten again, waiting RetryAfter, doubling
// up to a minute, until it lands or ctx ends.
func (r *Reporter) Run(ctx context.Context) {
	first := r.RetryAfter
	if first == 0 {
		first = time.Second
	}
	wake := r.wakeup()
	for {
		select {
		case <-ctx.Done():
			return
		case <-wake:
		}
		// Past its cap a wait.Backoff has no steps left, and
		// ExponentialBackoff gives up: the delays alone never do.
		delay := wait.Backoff{Duration: first, Factor: 2, Steps: math.MaxInt32, Cap: cmp.Or(r.maxRetryAfter, time.Minute)}.DelayFunc()
		for !r.sendPending(ctx) {
			select {
			case <-ctx.Done():
				return
			case <-time.After(delay()):
			case <-r.nudged():
			}
		}
	}
}

// Nudge sends the outcome left unwritten at once rather than after its
// wait: the API server answers again (the pod's watch heard from it).
func (r *Reporter) Nudge() {
	select {
	case r.nudged() <- struct{}{}:
	default:
	}
}

func (r *Reporter) nudged() chan struct{} {
	r.once.Do(r.init)
	return r.nudge
}

// sendPending writes the outcome left unwritten, if any; false when it is
// still unwritten.
func (r *Reporter) sendPending(ctx context.Context) bool {
	r.writing.Lock()
	defer r.writing.Unlock()
	o := r.pending
	if o == nil {
		return true
	}
	if err := r.write(ctx, *o); err != nil {
		r.log().Error("report on the pod failed again", "revision", o.Revision, "err", err)
		return false
	}
	r.pending = nil
	return true
}

// reportTimeout bounds one attempt of a report: a request to an API server
// that went away and came back must not hold the report forever.
const reportTimeout = 15 * time.Second

// write patches the pod, then records a failure's Event. Only the patch is retried:
// an Event is worth a log line when it cannot be recorded, not a second patch.
func (r *Reporter) write(ctx context.Context, o Outcome) error {
	ctx, cancel := context.WithTimeout(ctx, cmp.Or(r.Timeout, reportTimeout))
	defer cancel()
	var err error
	if o.Failed {
		err = r.Failed(ctx, o.Revision, o.Message)
	} else {
		err = r.Applied(ctx, o.Revision, o.Message)
	}
	var ev eventError
	if errors.As(err, &ev) {
		r.log().Warn("event not recorded", "revision", o.Revision, "err", err)
		return nil
	}
	return err
}

// eventError is a report whose patch landed but whose Event did not.
type eventError struct{ error }

func (e eventError) Unwrap() error { return e.error }

// Applied labels the pod hotreload/applied=rev with the hotreload/applied-at
// time and clears hotreload/failed: one request.
func (r *Reporter) Applied(ctx context.Context, rev, message string) error {
	at := r.now().UTC().Format(time.RFC3339)
	patch := map[string]any{"metadata": map[string]any{
		"labels":      map[string]any{annotations.Applied: rev},
		"annotations": map[string]any{annotations.AppliedAt: at, annotations.Failed: nil},
	}}
	if _, err := r.patch(ctx, patch); err != nil {
		return err
	}
	r.log().Info("config applied", "revision", rev, "message", message)
	return nil
}

// Failed annotates the pod hotreload/failed with the revision, the reason and
// the time, and records a Warning Event. The reason quotes what the app said,
// which may be in colours: both say it as printable text.
func (r *Reporter) Failed(ctx context.Context, rev, reason string) error {
	at := r.now().UTC().Format(time.RFC3339)
	patch := map[string]any{"metadata": map[string]any{
		"annotations": map[string]any{annotations.Failed: failedValue(rev, reason, at)},
	}}
	pod, err := r.patch(ctx, patch)
	if err != nil {
		return err
	}
	return r.event(ctx, pod, corev1.EventTypeWarning, ReasonReloadFailed, fmt.Sprintf("config revision %s: %s", rev, annotations.Printable(reason)))
}

// failedValue is the hotreload/failed annotation of revision rev that failed
// at a time for reason: printable text, which the reloader policy admits (the
// reason's control characters escaped), cut to annotations.MaxFailedReason.
func failedValue(rev, reason, at string) string {
	return annotations.FormatFailed(rev, annotations.Shorten(annotations.Printable(reason), annotations.MaxFailedReason)+" (at "+at+")")
}

// patch merge-patches the pod and returns it as patched.
func (r *Reporter) patch(ctx context.Context, patch map[string]any) (*corev1.Pod, error) {
	body, err := json.Marshal(patch)
	if err != nil {
		return nil, err
	}
	retriable := func(err error) bool {
		return apierrors.IsConflict(err) || apierrors.IsServerTimeout(err) || apierrors.IsTooManyRequests(err) ||
			apierrors.IsTimeout(err) || apierrors.IsServiceUnavailable(err) || apierrors.IsInternalError(err)
	}
	var pod *corev1.Pod
	err = retry.OnError(retry.DefaultBackoff, retriable, func() error {
		var err error
		pod, err = r.Client.PatchPod(ctx, r.Namespace, r.PodName, types.MergePatchType, body, metav1.PatchOptions{FieldManager: "hotreload-reloader"})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("report on pod %s/%s: %w", r.Namespace, r.PodName, err)
	}
	return pod, nil
}

// event records an Event on pod, as the patch returned it.
func (r *Reporter) event(ctx context.Context, pod *corev1.Pod, typ, reason, message string) error {
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
		return eventError{fmt.Errorf("event on pod %s/%s: %w", r.Namespace, r.PodName, err)}
	}
	return nil
}
