package release

import (
	"testing"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/contract"
)

func cmKeyRef(name, key string) *corev1.EnvVarSource {
	return &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key}}
}

func TestUsesOf(t *testing.T) {
	app, db, tls := Source{v1alpha1.SourceConfigMap, "app"}, Source{v1alpha1.SourceSecret, "db"}, Source{v1alpha1.SourceSecret, "tls"}
	envPod := corev1.Pod{Spec: corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "migrate", EnvFrom: []corev1.EnvFromSource{{Prefix: "DB_", SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}}}},
			VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: "/c"}}}},
		Containers: []corev1.Container{{Name: "web",
			Env: []corev1.EnvVar{{Name: "PLAIN", Value: "x"}, {Name: "COLOR", ValueFrom: cmKeyRef("app", "color")},
				{Name: "PASS", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "password"}}},
				{Name: "POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
			EnvFrom:      []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "app"}}}},
			VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: "/etc/app"}, {Name: "certs", MountPath: "/tls", SubPath: "tls.crt"}}},
			{Name: contract.ReloaderName, VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: "/src"}}}},
		Volumes: []corev1.Volume{
			{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "app"},
				Items: []corev1.KeyToPath{{Key: "app.conf", Path: "app.conf"}}}}},
			{Name: "certs", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "tls"}}},
		},
	}}
	cases := []struct {
		name     string
		pod      corev1.Pod
		reloaded []string
		want     []Use
		restarts []Restart
	}{
		{
			name: "reads env, envFrom and mounts of app and init containers, and never the reloader's mounts",
			pod:  envPod, reloaded: []string{"config"},
			want: []Use{
				{Source: db, Way: WayEnvFrom, Container: "migrate", Init: true},
				{Source: app, Way: WayMount, Container: "migrate", Init: true, Keys: []string{"app.conf"}},
				{Source: app, Way: WayEnv, Container: "web", Keys: []string{"color"}},
				{Source: db, Way: WayEnv, Container: "web", Keys: []string{"password"}},
				{Source: app, Way: WayEnvFrom, Container: "web"},
				{Source: app, Way: WayReloaded, Container: "web", Keys: []string{"app.conf"}},
				{Source: tls, Way: WayMount, Container: "web"},
			},
			restarts: []Restart{
				{Source: db, Ways: []Way{WayEnvFrom, WayEnv}},
				{Source: app, Ways: []Way{WayMount, WayEnv, WayEnvFrom}},
				{Source: tls, Ways: []Way{WayMount}},
			},
		},
		{
			name: "keeps the keys of a source read key by key only",
			pod: corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web",
				Env: []corev1.EnvVar{{Name: "B", ValueFrom: cmKeyRef("app", "b")}, {Name: "A", ValueFrom: cmKeyRef("app", "a")}, {Name: "A2", ValueFrom: cmKeyRef("app", "a")}}}}}},
			want: []Use{
				{Source: app, Way: WayEnv, Container: "web", Keys: []string{"b"}},
				{Source: app, Way: WayEnv, Container: "web", Keys: []string{"a"}},
				{Source: app, Way: WayEnv, Container: "web", Keys: []string{"a"}},
			},
			restarts: []Restart{{Source: app, Keys: []string{"a", "b"}, Ways: []Way{WayEnv}}},
		},
		{
			name: "reads a pinned reference as its source, and a reference the annotation does not match as itself",
			pod: corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{annotations.Pinned: "ConfigMap/app=aaaa,Secret/db=bbbb"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web",
					Env: []corev1.EnvVar{{Name: "COLOR", ValueFrom: cmKeyRef(contract.RevisionName("app", "aaaa"), "color")},
						{Name: "OLD", ValueFrom: cmKeyRef(contract.RevisionName("app", "cccc"), "color")}},
					EnvFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: contract.RevisionName("db", "bbbb")}}}}}}}},
			want: []Use{
				{Source: app, Way: WayEnv, Container: "web", Keys: []string{"color"}},
				{Source: Source{v1alpha1.SourceConfigMap, contract.RevisionName("app", "cccc")}, Way: WayEnv, Container: "web", Keys: []string{"color"}},
				{Source: db, Way: WayEnvFrom, Container: "web"},
			},
			restarts: []Restart{
				{Source: app, Keys: []string{"color"}, Ways: []Way{WayEnv}},
				{Source: Source{v1alpha1.SourceConfigMap, contract.RevisionName("app", "cccc")}, Keys: []string{"color"}, Ways: []Way{WayEnv}},
				{Source: db, Ways: []Way{WayEnvFrom}},
			},
		},
		{
			name: "finds nothing to restart for a pod that reads its config through reloaded volumes only",
			pod: corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: "/c"}}}},
				Volumes: envPod.Spec.Volumes}},
			reloaded: []string{"config"},
			want:     []Use{{Source: app, Way: WayReloaded, Container: "web", Keys: []string{"app.conf"}}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			uses := UsesOf(&tc.pod, tc.reloaded, PinnedObjects(&tc.pod))
			assert.Equal(t, tc.want, uses)
			assert.Equal(t, tc.restarts, RestartUses(uses))
		})
	}
}

func TestAdmitRevision(t *testing.T) {
	rs := &metav1.OwnerReference{Kind: "ReplicaSet", Name: "web-1", Controller: ptrTrue()}
	admitting := v1alpha1.ConfigReleaseStatus{Phase: v1alpha1.PhaseProgressing, Stable: "s", Candidate: "c",
		Admit: []v1alpha1.PodOwner{{Kind: "ReplicaSet", Name: "web-1"}}}
	halted := admitting
	halted.Phase = v1alpha1.PhaseHalted
	cases := []struct {
		name   string
		status v1alpha1.ConfigReleaseStatus
		owner  *metav1.OwnerReference
		rev    string
		ok     bool
	}{
		{"gives the candidate to a new pod of an owner the release replaces pods of", admitting, rs, "c", true},
		{"gives stable to a new pod of another owner", admitting, &metav1.OwnerReference{Kind: "ReplicaSet", Name: "web-2"}, "s", true},
		{"gives stable to a new pod of another kind of the same name", admitting, &metav1.OwnerReference{Kind: "StatefulSet", Name: "web-1"}, "s", true},
		{"gives stable to a bare pod", admitting, nil, "s", true},
		{"gives stable to every new pod of a halted release, whatever it admitted", halted, rs, "s", true},
		{"gives stable to a pod of a release in progress that admits no owner", v1alpha1.ConfigReleaseStatus{Phase: v1alpha1.PhaseProgressing, Stable: "s", Candidate: "c"}, rs, "s", true},
		{"pins nothing for a release without a stable revision", v1alpha1.ConfigReleaseStatus{}, rs, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rev, ok := AdmitRevision(tc.status, tc.owner)
			assert.Equal(t, tc.rev, rev)
			assert.Equal(t, tc.ok, ok)
		})
	}
}

func ptrTrue() *bool { b := true; return &b }
