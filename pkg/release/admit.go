package release

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/annotations"
)

// AdmitRevision returns the revision a new pod whose controller is owner
// (nil for none) starts on, for references that cannot change in place (env,
// envFrom, mounts left alone): the candidate when the release replaces
// owner's pods onto it now (status.admit), else the stable revision, which a
// release in progress, paused or halted gives every new pod, and which a
// complete release's candidate is. ok is false when the release has no
// stable revision yet.
func AdmitRevision(st v1alpha1.ConfigReleaseStatus, owner *metav1.OwnerReference) (rev string, ok bool) {
	if st.Stable == "" {
		return "", false
	}
	if owner != nil && st.Candidate != "" && st.Phase != v1alpha1.PhaseHalted {
		for _, a := range st.Admit {
			if a.Kind == owner.Kind && a.Name == owner.Name {
				return st.Candidate, true
			}
		}
	}
	return st.Stable, true
}

// NotRecreated says why nothing would recreate pod p if it went: it is
// annotated hotreload/restart: never, no controller owns it, or it is a
// Job's; "" when its controller recreates it. The controller replaces only
// pods it recreates (to deliver what cannot change in place, or to have a
// pod admitted without the sidecar injected), and kubectl hotreload status
// says why it does not.
func NotRecreated(p *corev1.Pod) string {
	if policy, _ := annotations.RestartOf(p.Annotations); policy == annotations.RestartNever {
		return "it is annotated " + annotations.Restart + ": never"
	}
	switch o := metav1.GetControllerOfNoCopy(p); {
	case o == nil:
		return "no controller owns it"
	case o.Kind == "Job" || o.Kind == "CronJob":
		return "it is a Job's pod"
	}
	return ""
}
