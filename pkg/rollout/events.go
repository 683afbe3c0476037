package rollout

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hotreload/hotreload/pkg/revision"
)

// Event reasons the controller records on ConfigMaps and Secrets (and on the
// pod, for halts).
const (
	ReasonRolloutStarted   = "RolloutStarted"
	ReasonStepReleased     = "StepReleased"
	ReasonRolloutCompleted = "RolloutCompleted"
	ReasonRolloutHalted    = "RolloutHalted"
	// ReasonInvalidSettings warns that a malformed hotreload/rollout or
	// hotreload/rollout-interval was replaced by its default.
	ReasonInvalidSettings = "InvalidRolloutSettings"
	// ReasonUnknownContract warns, on a pod, that its reloader's command line
	// is of a contract version this controller cannot read: the pod is left
	// out of rollouts.
	ReasonUnknownContract = "UnknownContract"
)

// Actions of the controller's events.k8s.io Events.
const (
	actionRelease  = "Release"
	actionHalt     = "Halt"
	actionComplete = "Complete"
)

// lookup reads the hashed ConfigMaps and Secrets of one namespace from the
// cache, once each per reconcile.
type lookup struct {
	ctx  context.Context
	c    client.Reader
	ns   string
	objs map[objectRef]client.Object // nil: not found
	err  error
}

type objectRef struct {
	kind revision.Kind
	name string
}

func (r *Reconciler) lookup(ctx context.Context, ns string) *lookup {
	return &lookup{ctx: ctx, c: r.Cache, ns: ns, objs: map[objectRef]client.Object{}}
}

// get implements revision.Lookup. A read error other than not found is kept
// in l.err and the object reported missing; the reconcile then fails.
func (l *lookup) get(kind revision.Kind, name string) (revision.Keys, bool) {
	ref := objectRef{kind, name}
	o, seen := l.objs[ref]
	if !seen {
		var obj client.Object = &corev1.ConfigMap{}
		if kind == revision.KindSecret {
			obj = &corev1.Secret{}
		}
		err := l.c.Get(l.ctx, types.NamespacedName{Namespace: l.ns, Name: name}, obj)
		switch {
		case apierrors.IsNotFound(err):
			obj = nil
		case err != nil:
			l.err = fmt.Errorf("reading %s %s/%s: %w", kind, l.ns, name, err)
			obj = nil
		}
		l.objs[ref], o = obj, obj
	}
	if o == nil {
		return nil, false
	}
	keys, err := keysOf(o)
	if err != nil {
		l.err = err
		return nil, false
	}
	return keys, true
}

// announcer records a unit's Events on the ConfigMaps and Secrets its pods
// project (on its first pod when none exists).
type announcer struct {
	r    *Reconciler
	objs []client.Object
}

func (r *Reconciler) announcer(u *unit, l *lookup) *announcer {
	a := &announcer{r: r}
	seen := map[objectRef]bool{}
	for _, pod := range u.pods {
		vols, _ := ReloadedVolumes(pod)
		for _, v := range pod.Spec.Volumes {
			if !slices.Contains(vols, v.Name) {
				continue
			}
			cms, secrets := sources(&corev1.Pod{Spec: corev1.PodSpec{Volumes: []corev1.Volume{v}}})
			refs := make([]objectRef, 0, len(cms)+len(secrets))
			for _, n := range cms {
				refs = append(refs, objectRef{revision.KindConfigMap, n})
			}
			for _, n := range secrets {
				refs = append(refs, objectRef{revision.KindSecret, n})
			}
			for _, ref := range refs {
				if seen[ref] {
					continue
				}
				seen[ref] = true
				if o := l.objs[ref]; o != nil {
					a.objs = append(a.objs, o)
				}
			}
		}
	}
	if len(a.objs) == 0 {
		a.objs = []client.Object{u.pods[0]}
	}
	return a
}

func (a *announcer) normal(reason, action, note string, args ...any) {
	for _, o := range a.objs {
		a.r.Recorder.Eventf(o, nil, corev1.EventTypeNormal, reason, action, note, args...)
	}
}

func (a *announcer) warning(reason, action, note string, args ...any) {
	for _, o := range a.objs {
		a.r.Recorder.Eventf(o, nil, corev1.EventTypeWarning, reason, action, note, args...)
	}
}
