package mutate

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/contract"
)

// twoContainerPod is an opted-in pod whose container app mounts the Secret
// volume creds (and whatever else appMounts says) and whose container web
// mounts only the ConfigMap volume conf; both are reloaded.
func twoContainerPod(subPath string, appMounts, webMounts []corev1.VolumeMount) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:        "shop",
			Labels:      map[string]string{annotations.EnableLabel: annotations.EnableValue},
			Annotations: map[string]string{annotations.Container: "app,web", annotations.Signal: "none"},
		},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{
				{Name: "app", Image: "app:1", VolumeMounts: appMounts},
				{Name: "web", Image: "web:1", VolumeMounts: webMounts},
			},
			Volumes: []corev1.Volume{
				{Name: "creds", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "creds"}}},
				{Name: "conf", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "conf"}}}},
			},
		},
	}
	if subPath != "" {
		pod.Annotations[annotations.SubPath] = subPath
	}
	return pod
}

// liveOf is the read-only mount of volume v's live copy at mountPath.
func liveOf(v, mountPath string) corev1.VolumeMount {
	return corev1.VolumeMount{Name: contract.LiveVolume, MountPath: mountPath, SubPath: v, ReadOnly: true}
}

// reachable lists the pod volumes whose content container c of pod can read
// through its mounts: a volume it mounts, the live copy of the volume a
// subPath of LiveVolume names, and every reloaded volume through a mount of
// LiveVolume itself. A link volume holds the image's files and symlinks only.
func reachable(t *testing.T, pod *corev1.Pod, c corev1.Container) []string {
	t.Helper()
	var out []string
	for _, m := range c.VolumeMounts {
		switch {
		case m.Name == contract.LiveVolume && m.SubPath == "":
			run, _, err := contract.FromPod(pod)
			require.NoError(t, err)
			out = append(out, run.Volumes...)
		case m.Name == contract.LiveVolume:
			out = append(out, strings.SplitN(m.SubPath, "/", 2)[0])
		case strings.HasPrefix(m.Name, contract.LinkVolumePrefix):
		default:
			out = append(out, m.Name)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// mountedVolumes lists the volumes c mounts.
func mountedVolumes(c corev1.Container) []string {
	var out []string
	for _, m := range c.VolumeMounts {
		out = append(out, m.Name)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// assertOwnVolumesOnly checks that each container of before reaches, in
// after, only volumes it mounted in before.
func assertOwnVolumesOnly(t *testing.T, before, after *corev1.Pod) {
	t.Helper()
	for i, c := range before.Spec.Containers {
		got := reachable(t, after, after.Spec.Containers[i])
		assert.Subset(t, mountedVolumes(c), got, "container %q reaches volumes it does not mount", c.Name)
	}
}

func TestEachContainerReachesOnlyTheLiveCopiesOfItsOwnVolumes(t *testing.T) {
	token := corev1.VolumeMount{Name: "creds", MountPath: "/etc/app/token", SubPath: "token"}
	credsDir := corev1.VolumeMount{Name: "creds", MountPath: "/etc/creds"}
	nginxConf := corev1.VolumeMount{Name: "conf", MountPath: "/etc/nginx/nginx.conf", SubPath: "nginx.conf"}
	confDir := corev1.VolumeMount{Name: "conf", MountPath: "/etc/conf"}
	tests := []struct {
		name               string
		subPath            string
		app, web           []corev1.VolumeMount
		wantApp, wantWeb   []corev1.VolumeMount
		wantReachableByWeb []string
	}{
		{
			name: "link: a container linking a ConfigMap file cannot reach the Secret another container links",
			app:  []corev1.VolumeMount{token},
			web:  []corev1.VolumeMount{nginxConf},
			wantApp: []corev1.VolumeMount{
				{Name: contract.LinkVolumePrefix + "0", MountPath: "/etc/app"},
				liveOf("creds", contract.LiveDir+"/creds"),
			},
			wantWeb: []corev1.VolumeMount{
				{Name: contract.LinkVolumePrefix + "1", MountPath: "/etc/nginx"},
				liveOf("conf", contract.LiveDir+"/conf"),
			},
			wantReachableByWeb: []string{"conf"},
		},
		{
			name: "link: a container linking a ConfigMap file cannot reach the Secret another container mounts as a directory",
			app:  []corev1.VolumeMount{credsDir},
			web:  []corev1.VolumeMount{nginxConf},
			wantApp: []corev1.VolumeMount{
				liveOf("creds", "/etc/creds"),
			},
			wantWeb: []corev1.VolumeMount{
				{Name: contract.LinkVolumePrefix + "0", MountPath: "/etc/nginx"},
				liveOf("conf", contract.LiveDir+"/conf"),
			},
			wantReachableByWeb: []string{"conf"},
		},
		{
			name: "link: a container linking a Secret file and mounting the ConfigMap directory gets each live copy apart, and a container mounting only the ConfigMap none of the Secret",
			app:  []corev1.VolumeMount{token, confDir},
			web:  []corev1.VolumeMount{confDir},
			wantApp: []corev1.VolumeMount{
				liveOf("conf", "/etc/conf"),
				{Name: contract.LinkVolumePrefix + "0", MountPath: "/etc/app"},
				liveOf("creds", contract.LiveDir+"/creds"),
			},
			wantWeb: []corev1.VolumeMount{
				liveOf("conf", "/etc/conf"),
			},
			wantReachableByWeb: []string{"conf"},
		},
		{
			name:    "dir: a container whose ConfigMap file directory is mounted cannot reach the Secret",
			subPath: "dir",
			app:     []corev1.VolumeMount{token},
			web:     []corev1.VolumeMount{nginxConf},
			wantApp: []corev1.VolumeMount{
				liveOf("creds", "/etc/app"),
			},
			wantWeb: []corev1.VolumeMount{
				liveOf("conf", "/etc/nginx"),
			},
			wantReachableByWeb: []string{"conf"},
		},
		{
			name: "directory mounts: a container mounting the ConfigMap cannot reach the Secret",
			app:  []corev1.VolumeMount{credsDir},
			web:  []corev1.VolumeMount{confDir},
			wantApp: []corev1.VolumeMount{
				liveOf("creds", "/etc/creds"),
			},
			wantWeb: []corev1.VolumeMount{
				liveOf("conf", "/etc/conf"),
			},
			wantReachableByWeb: []string{"conf"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := twoContainerPod(tt.subPath, tt.app, tt.web)
			got, _, err := Mutate(pod, testOptions())
			require.NoError(t, err)
			require.NotSame(t, pod, got, "the pod is injected")
			require.Len(t, got.Spec.Containers, 2)

			assert.Equal(t, tt.wantApp, got.Spec.Containers[0].VolumeMounts)
			assert.Equal(t, tt.wantWeb, got.Spec.Containers[1].VolumeMounts)
			assert.Equal(t, tt.wantReachableByWeb, reachable(t, got, got.Spec.Containers[1]))
			assertOwnVolumesOnly(t, pod, got)
		})
	}
}

// TestValidatorsReachOnlyWhatTheirAppReaches: a validator runs the app's
// check in the app's image; it reads no volume its app container does not
// (the staged view and the live copy of a volume are that volume), runs as
// its app container runs, and no app container gets the validators'
// sockets or the staged view.
func TestValidatorsReachOnlyWhatTheirAppReaches(t *testing.T) {
	token := corev1.VolumeMount{Name: "creds", MountPath: "/etc/app/token", SubPath: "token"}
	credsDir := corev1.VolumeMount{Name: "creds", MountPath: "/etc/creds"}
	nginxConf := corev1.VolumeMount{Name: "conf", MountPath: "/etc/nginx/nginx.conf", SubPath: "nginx.conf"}
	confDir := corev1.VolumeMount{Name: "conf", MountPath: "/etc/conf"}
	for _, tc := range []struct {
		name     string
		subPath  string
		app, web []corev1.VolumeMount
	}{
		{"link", "", []corev1.VolumeMount{token}, []corev1.VolumeMount{nginxConf}},
		{"link and a directory", "", []corev1.VolumeMount{token, confDir}, []corev1.VolumeMount{confDir}},
		{"dir", "dir", []corev1.VolumeMount{token}, []corev1.VolumeMount{nginxConf}},
		{"directories", "", []corev1.VolumeMount{credsDir}, []corev1.VolumeMount{confDir}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := twoContainerPod(tc.subPath, tc.app, tc.web)
			pod.Annotations[annotations.Validate] = `["check", "--strict"]`
			pod.Spec.Containers[1].SecurityContext = &corev1.SecurityContext{RunAsUser: ptr.To(int64(33))}
			got, _, err := Mutate(pod, testOptions())
			require.NoError(t, err)
			for i, c := range pod.Spec.Containers {
				name := contract.ValidatorName
				if i > 0 {
					name += "-1"
				}
				v := findContainer(got.Spec.InitContainers, name)
				require.NotNil(t, v, "container %s has a validator", c.Name)
				assert.Equal(t, c.Image, v.Image)
				assert.Equal(t, c.SecurityContext, v.SecurityContext, "the validator runs as its app container")
				var reached []string
				for _, m := range v.VolumeMounts {
					switch m.Name {
					case contract.StagedVolume, contract.LiveVolume:
						require.NotEmpty(t, m.SubPath, "a validator never mounts %s whole", m.Name)
						reached = append(reached, m.SubPath)
					case contract.ValidateVolume, contract.BinVolume, contract.ScratchVolume:
					default:
						if !strings.HasPrefix(m.Name, contract.LinkVolumePrefix) {
							reached = append(reached, m.Name)
						}
					}
					if m.Name != contract.ValidateVolume && m.Name != contract.ScratchVolume {
						assert.True(t, m.ReadOnly, "%s is read-only in the validator", m.MountPath)
					}
				}
				slices.Sort(reached)
				assert.Subset(t, mountedVolumes(c), slices.Compact(reached), "validator of %q reaches volumes its app does not mount", c.Name)
			}
			for _, c := range got.Spec.Containers {
				for _, m := range c.VolumeMounts {
					assert.NotContains(t, []string{contract.ValidateVolume, contract.StagedVolume, contract.ScratchVolume}, m.Name, "app container %s", c.Name)
				}
			}
		})
	}
}

func findContainer(cs []corev1.Container, name string) *corev1.Container {
	for i := range cs {
		if cs[i].Name == name {
			return &cs[i]
		}
	}
	return nil
}
