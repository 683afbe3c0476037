package rollout

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
)

// apiRecorder writes each Event as a new events.k8s.io/v1 Event, at once.
//
// client-go's events recorder (what the manager's GetEventRecorder returns)
// folds Events that differ only in their note into one series, which would
// keep "step 1 of 3" and lose the steps after it; the controller records few
// Events, each one worth reading.
type apiRecorder struct {
	client   client.Client
	scheme   *runtime.Scheme
	log      logr.Logger
	instance string
}

var _ events.EventRecorder = (*apiRecorder)(nil)

func newAPIRecorder(c client.Client, scheme *runtime.Scheme, log logr.Logger) *apiRecorder {
	host, _ := os.Hostname()
	return &apiRecorder{client: c, scheme: scheme, log: log, instance: Name + "-" + host}
}

// Eventf implements events.EventRecorder. Failures are logged: an Event is
// never worth failing a rollout.
func (r *apiRecorder) Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	logger := r.log
	ref, err := r.reference(regarding)
	if err != nil {
		logger.Error(err, "event not recorded", "reason", reason)
		return
	}
	now := time.Now()
	ev := &eventsv1.Event{
		ObjectMeta:          metav1.ObjectMeta{Name: fmt.Sprintf("%s.%x", ref.Name, now.UnixNano()), Namespace: ref.Namespace},
		EventTime:           metav1.NewMicroTime(now),
		ReportingController: Name,
		ReportingInstance:   r.instance,
		Action:              action,
		Reason:              reason,
		Regarding:           ref,
		Note:                truncate(fmt.Sprintf(note, args...), 1024),
		Type:                eventtype,
	}
	if related != nil {
		if rel, err := r.reference(related); err == nil {
			ev.Related = &rel
		}
	}
	if err := r.client.Create(ctx, ev); err != nil {
		logger.Error(err, "event not recorded", "reason", reason, "regarding", ref.Namespace+"/"+ref.Name)
	}
}

func (r *apiRecorder) reference(obj runtime.Object) (corev1.ObjectReference, error) {
	o, ok := obj.(client.Object)
	if !ok {
		return corev1.ObjectReference{}, fmt.Errorf("event about a %T", obj)
	}
	gvk, err := apiutil.GVKForObject(o, r.scheme)
	if err != nil {
		return corev1.ObjectReference{}, fmt.Errorf("event about %s: %w", o.GetName(), err)
	}
	return corev1.ObjectReference{APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind,
		Namespace: o.GetNamespace(), Name: o.GetName(), UID: o.GetUID()}, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}
