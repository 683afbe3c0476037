package release

import (
	"testing"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
)

func TestCommandRefusal(t *testing.T) {
	const stable, cand, newer = "5d41402abc4b", "9e107d9d372b", "e4d909c290d0"
	status := func(phase v1alpha1.Phase, candidate string, halted string) v1alpha1.ConfigReleaseStatus {
		st := v1alpha1.ConfigReleaseStatus{Phase: phase, Stable: stable, Candidate: candidate}
		if halted != "" {
			st.Halt = &v1alpha1.Halt{Revision: halted}
		}
		return st
	}
	cmd := func(a v1alpha1.Action, rev string) v1alpha1.Command {
		return v1alpha1.Command{Action: a, Revision: rev}
	}
	tests := []struct {
		name string
		cmd  v1alpha1.Command
		st   v1alpha1.ConfigReleaseStatus
		want string
	}{
		{"pause applies in any state", cmd(v1alpha1.ActionPause, ""), status(v1alpha1.PhaseComplete, stable, ""), ""},
		{"resume applies in any state, for any revision", cmd(v1alpha1.ActionResume, newer), status(v1alpha1.PhaseHalted, cand, cand), ""},
		{"undo applies when the source holds its revision", cmd(v1alpha1.ActionUndo, stable), status(v1alpha1.PhaseComplete, stable, ""), ""},
		{"undo of a revision the source does not hold is refused", cmd(v1alpha1.ActionUndo, newer), status(v1alpha1.PhaseComplete, stable, ""),
			`the source holds revision 5d41402abc4b, not "e4d909c290d0"`},
		{"promote of the candidate in progress applies", cmd(v1alpha1.ActionPromote, cand), status(v1alpha1.PhaseProgressing, cand, ""), ""},
		{"promote of a paused candidate applies", cmd(v1alpha1.ActionPromoteFull, cand), status(v1alpha1.PhasePaused, cand, ""), ""},
		{"a command for a revision that is no longer the candidate is refused", cmd(v1alpha1.ActionAbort, cand), status(v1alpha1.PhaseProgressing, newer, ""),
			"it was for revision 9e107d9d372b, and the candidate is now e4d909c290d0"},
		{"promote with nothing in progress is refused", cmd(v1alpha1.ActionPromote, stable), status(v1alpha1.PhaseProgressing, stable, ""),
			"the release is Progressing: there is no candidate in progress"},
		{"abort of a halted release is refused", cmd(v1alpha1.ActionAbort, cand), status(v1alpha1.PhaseHalted, cand, cand),
			"the release is Halted: there is no candidate in progress"},
		{"a command before the first status names no phase", cmd(v1alpha1.ActionPromote, ""), v1alpha1.ConfigReleaseStatus{},
			"the release is not started: there is no candidate in progress"},
		{"retry of the halted candidate applies", cmd(v1alpha1.ActionRetry, cand), status(v1alpha1.PhaseHalted, cand, cand), ""},
		{"retry of a release that is not halted is refused", cmd(v1alpha1.ActionRetry, cand), status(v1alpha1.PhaseProgressing, cand, ""),
			"the release is Progressing, not Halted"},
		{"retry when the halted revision is no longer the candidate is refused", cmd(v1alpha1.ActionRetry, ""), status(v1alpha1.PhaseHalted, newer, cand),
			"the halted revision is no longer the candidate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, CommandRefusal(tt.cmd, tt.st))
		})
	}
}

func TestWorkloadOf(t *testing.T) {
	owned := func(apiVersion, kind, name string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{OwnerReferences: []metav1.OwnerReference{
			{APIVersion: apiVersion, Kind: kind, Name: name, UID: types.UID("uid-" + name), Controller: ptr.To(true)}}}}
	}
	deployment := &metav1.OwnerReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: "uid-web", Controller: ptr.To(true)}
	known := func(name string, uid types.UID) *metav1.OwnerReference {
		if name == "web-7d9f8c6b5" && uid == "uid-web-7d9f8c6b5" {
			return deployment
		}
		return nil
	}
	tests := []struct {
		name string
		pod  *corev1.Pod
		want Workload
		str  string
	}{
		{"a pod without a controller is one of the namespace's bare pods", &corev1.Pod{}, Bare, "Pods"},
		{"a Deployment's pod is the Deployment's, through its ReplicaSet", owned("apps/v1", "ReplicaSet", "web-7d9f8c6b5"),
			Workload{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: "uid-web"}, "Deployment/web"},
		{"a ReplicaSet whose controller is not known stands for itself", owned("apps/v1", "ReplicaSet", "web-0a1b2c3d4"),
			Workload{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-0a1b2c3d4", UID: "uid-web-0a1b2c3d4"}, "ReplicaSet/web-0a1b2c3d4"},
		{"a StatefulSet's pod is the StatefulSet's", owned("apps/v1", "StatefulSet", "db"),
			Workload{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "db", UID: "uid-db"}, "StatefulSet/db"},
		{"another group's ReplicaSet is not followed", owned("example.com/v1", "ReplicaSet", "web-7d9f8c6b5"),
			Workload{APIVersion: "example.com/v1", Kind: "ReplicaSet", Name: "web-7d9f8c6b5", UID: "uid-web-7d9f8c6b5"}, "ReplicaSet/web-7d9f8c6b5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := WorkloadOf(tt.pod, known)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.str, got.String())
		})
	}
}

func TestSourcesOf(t *testing.T) {
	cm := func(name string) *corev1.ConfigMapVolumeSource {
		return &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: name}}
	}
	pod := &corev1.Pod{Spec: corev1.PodSpec{Volumes: []corev1.Volume{
		{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: cm("app")}},
		{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "tls"}}},
		{Name: "mixed", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "app"}}},
			{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}}},
			{DownwardAPI: &corev1.DownwardAPIProjection{}},
		}}}},
		{Name: "left-alone", VolumeSource: corev1.VolumeSource{ConfigMap: cm("flags")}},
	}}}
	got := SourcesOf(pod, []string{"mixed", "config", "tls"})
	assert.Equal(t, []Source{{v1alpha1.SourceConfigMap, "app"}, {v1alpha1.SourceSecret, "tls"}, {v1alpha1.SourceSecret, "creds"}}, got,
		"in spec order, each once, the volumes the reloader leaves alone left out")
	assert.Equal(t, "ConfigMap/app", got[0].Key())
	assert.True(t, Consumes(pod, []string{"config"}, Source{v1alpha1.SourceConfigMap, "app"}))
	assert.False(t, Consumes(pod, []string{"config"}, Source{v1alpha1.SourceConfigMap, "flags"}), "mounted, but not reloaded")
	assert.Empty(t, SourcesOf(pod, nil), "a pod without a reloader consumes nothing through hotreload")
}
