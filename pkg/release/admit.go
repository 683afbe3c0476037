package release

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
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
