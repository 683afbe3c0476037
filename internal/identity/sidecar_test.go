package identity

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hotreload/hotreload/pkg/contract"
	"github.com/hotreload/hotreload/pkg/mutate"
)

const reloaderImage = "registry.example:5000/hotreload/reloader:v2"

// injected returns a pod as the webhook admits it.
func injected(t *testing.T) *corev1.Pod {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", Labels: map[string]string{"hotreload/enable": "true"}},
		Spec: corev1.PodSpec{
			ServiceAccountName: "web",
			Containers: []corev1.Container{{Name: "app", Image: "app:1",
				VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: "/etc/app"}}}},
			Volumes: []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{
				ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "app"}}}}},
		},
	}
	out, _, err := mutate.Mutate(pod, mutate.Options{ReloaderImage: reloaderImage})
	require.NoError(t, err)
	require.NotNil(t, contract.ReloaderContainer(out), "the pod was injected")
	return out
}

func reloader(pod *corev1.Pod) *corev1.Container { return contract.ReloaderContainer(pod) }

func TestSidecarProblem(t *testing.T) {
	token := corev1.VolumeMount{Name: contract.TokenVolume, MountPath: "/var/run/stolen"}
	cases := []struct {
		name   string
		change func(*corev1.Pod)
		want   string
	}{
		{"a pod as the webhook injects it", func(*corev1.Pod) {}, ""},
		{"a reloader of another tag of the image (injected before an upgrade)",
			func(p *corev1.Pod) { reloader(p).Image = "registry.example:5000/hotreload/reloader:v1" }, ""},
		{"a reloader pinned by digest",
			func(p *corev1.Pod) { reloader(p).Image = "registry.example:5000/hotreload/reloader@sha256:" + sha }, ""},
		{"a reloader of another image",
			func(p *corev1.Pod) { reloader(p).Image = "registry.example:5000/evil/reloader:v2" },
			`container hotreload-reloader runs image "registry.example:5000/evil/reloader:v2", not one of registry.example:5000/hotreload/reloader`},
		{"a reloader whose command is not the image's entrypoint",
			func(p *corev1.Pod) {
				reloader(p).Command = []string{"/bin/sh", "-c", "cat /var/run/hotreload/token/token"}
			},
			"container hotreload-reloader does not run its image's entrypoint"},
		{"no reloader at all, only the annotation",
			func(p *corev1.Pod) {
				p.Spec.InitContainers = nil
				p.Spec.Containers = p.Spec.Containers[:1]
			},
			"it has no hotreload-reloader container"},
		{"a pod running as the reloader's account",
			func(p *corev1.Pod) { p.Spec.ServiceAccountName = "hotreload-reloader" },
			"it runs as the ServiceAccount hotreload-reloader"},
		{"an app container mounting the sidecar's token volume",
			func(p *corev1.Pod) {
				p.Spec.Containers[0].VolumeMounts = append(p.Spec.Containers[0].VolumeMounts, token)
			},
			"container app mounts the hotreload token of volume hotreload-token"},
		{"an app container mounting a token of its own for the hotreload audience",
			func(p *corev1.Pod) {
				p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "mine", VolumeSource: corev1.VolumeSource{
					Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
						{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "t", Audience: Audience}}}}}})
				p.Spec.Containers[0].VolumeMounts = append(p.Spec.Containers[0].VolumeMounts, corev1.VolumeMount{Name: "mine", MountPath: "/t"})
			},
			"container app mounts the hotreload token of volume mine"},
		{"an ephemeral container mounting the sidecar's token volume",
			func(p *corev1.Pod) {
				p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, corev1.EphemeralContainer{
					EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug", Image: "busybox", VolumeMounts: []corev1.VolumeMount{token}}})
			},
			"container debug mounts the hotreload token of volume hotreload-token"},
		{"an app container mounting a token for the API server (not for hotreload)",
			func(p *corev1.Pod) {
				p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "api", VolumeSource: corev1.VolumeSource{
					Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
						{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "t"}}}}}})
				p.Spec.Containers[0].VolumeMounts = append(p.Spec.Containers[0].VolumeMounts, corev1.VolumeMount{Name: "api", MountPath: "/t"})
			},
			""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pod := injected(t)
			tc.change(pod)
			assert.Equal(t, tc.want, sidecarProblem(pod, reloaderImage))
		})
	}
}

const sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestRepository(t *testing.T) {
	for in, want := range map[string]string{
		"reloader":                            "reloader",
		"reloader:v1":                         "reloader",
		"hotreload/reloader:dev":              "hotreload/reloader",
		"registry:5000/hotreload/reloader":    "registry:5000/hotreload/reloader",
		"registry:5000/hotreload/reloader:v1": "registry:5000/hotreload/reloader",
		"registry:5000/r:v1@sha256:" + sha:    "registry:5000/r",
		"registry:5000/r@sha256:" + sha:       "registry:5000/r",
	} {
		assert.Equal(t, want, repository(in), in)
	}
}
