package mutate

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/hotreload/hotreload/pkg/annotations"
)

// fuzzBytes hands out choices from fuzz input, then zeros.
type fuzzBytes []byte

func (b *fuzzBytes) next() byte {
	if len(*b) == 0 {
		return 0
	}
	c := (*b)[0]
	*b = (*b)[1:]
	return c
}

func (b *fuzzBytes) pick(options ...string) string { return options[int(b.next())%len(options)] }

// fuzzPod builds a valid, varied opted-in pod from data: containers, volumes
// of each kind, directory and subPath mounts, annotations.
func fuzzPod(data []byte) *corev1.Pod {
	b := fuzzBytes(data)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "fuzz", Labels: map[string]string{annotations.EnableLabel: "true"}, Annotations: map[string]string{}}}
	nv := 1 + int(b.next()%5)
	for i := range nv {
		v := corev1.Volume{Name: fmt.Sprintf("v%d", i)}
		switch b.next() % 7 {
		case 0:
			v.ConfigMap = &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}}
		case 1:
			v.Secret = &corev1.SecretVolumeSource{SecretName: "s"}
		case 2:
			v.Projected = &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{{ConfigMap: &corev1.ConfigMapProjection{}}}}
		case 3:
			v.Projected = &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "t"}}}}
		case 4:
			v.Name = fmt.Sprintf("kube-api-access-%d", i)
			v.Projected = &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{{ConfigMap: &corev1.ConfigMapProjection{}}}}
		case 5:
			v.EmptyDir = &corev1.EmptyDirVolumeSource{}
		default:
			v.DownwardAPI = &corev1.DownwardAPIVolumeSource{}
		}
		pod.Spec.Volumes = append(pod.Spec.Volumes, v)
	}
	dirs := []string{"/", "/etc", "/etc/app", "/etc/app/conf.d", "/lib", "/opt/x", "/var/run/hotreload", "/srv"}
	container := func(name string) corev1.Container {
		c := corev1.Container{Name: name, Image: name + ":1"}
		seen := map[string]bool{}
		for range int(b.next() % 5) {
			v := pod.Spec.Volumes[int(b.next())%nv].Name
			m := corev1.VolumeMount{Name: v, MountPath: dirs[int(b.next())%len(dirs)]}
			switch b.next() % 4 {
			case 1:
				m.SubPath = b.pick("a.conf", "conf.d", "x/y.conf", "./a.conf")
				m.MountPath += "/" + b.pick("a.conf", "b.conf", "conf.d")
			case 2:
				m.SubPathExpr = "$(POD).conf"
				m.MountPath += "/expr.conf"
			}
			if strings.HasPrefix(m.MountPath, "//") {
				m.MountPath = m.MountPath[1:]
			}
			if seen[m.MountPath] {
				continue
			}
			seen[m.MountPath] = true
			c.VolumeMounts = append(c.VolumeMounts, m)
		}
		if b.next()%3 == 0 {
			c.Ports = []corev1.ContainerPort{{ContainerPort: 9440}}
		}
		if u := b.next() % 4; u > 0 {
			c.SecurityContext = &corev1.SecurityContext{RunAsUser: ptr.To(int64(u) * 1000)}
		}
		if b.next()%4 == 0 {
			c.EnvFrom = []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{}}}
		}
		return c
	}
	for i := range 1 + int(b.next()%3) {
		pod.Spec.Containers = append(pod.Spec.Containers, container(fmt.Sprintf("c%d", i)))
	}
	if b.next()%3 == 0 {
		pod.Spec.InitContainers = append(pod.Spec.InitContainers, container("init"))
	}
	keys := []string{annotations.Signal, annotations.URL, annotations.Container, annotations.Process, annotations.Volumes, annotations.SubPath, annotations.Rollout}
	values := []string{"", "SIGUSR1", "none", "bogus", "http://127.0.0.1:1/r", "c1", "c0,c2", "v0", "v1,v9", "dir", "keep", "link", "1,100%", "(", "kube-api-access-4", "c0,c1"}
	for range int(b.next() % 6) {
		pod.Annotations[keys[int(b.next())%len(keys)]] = values[int(b.next())%len(values)]
	}
	switch b.next() % 4 {
	case 1:
		pod.Spec.ShareProcessNamespace = ptr.To(false)
	case 2:
		pod.Spec.AutomountServiceAccountToken = ptr.To(false)
	case 3:
		pod.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true)}
	}
	// A native sidecar, and values per container, from the bytes left.
	if len(pod.Spec.InitContainers) > 0 && b.next()%2 == 1 {
		pod.Spec.InitContainers[0].RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
		pod.Annotations[annotations.Container] = b.pick("c0,init", "init", "init,c1")
	}
	perKeys := []string{annotations.Signal, annotations.URL, annotations.Process, annotations.Confirm, annotations.Validate}
	perValues := []string{"c0=SIGUSR2,c1=none", "init=SIGUSR1,c0=SIGHUP", "c1=http://127.0.0.1:1/r,c0=http://[::1]:2/x?a=b,c",
		"c0=(,c2=nginx", "c0=workers,c1=http://127.0.0.1:1/m up 1", `c0=["nginx","-t"],init=check`, "c0=,c0=SIGHUP,ghost=1", "workers", "nginx -t"}
	for range int(b.next() % 4) {
		pod.Annotations[perKeys[int(b.next())%len(perKeys)]] = perValues[int(b.next())%len(perValues)]
	}
	return pod
}

func FuzzMutate(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{2, 0, 1, 1, 2, 0, 1, 1, 1, 1, 0, 3, 1})
	f.Add([]byte("hotreload: nginx.conf subPath with dir mode and two containers"))
	// c0 links a file of the Secret v0, c1 a file of the ConfigMap v1; both
	// are reloaded: c1 must not reach v0's live copy.
	f.Add([]byte{1, 1, 0, 1, 1, 0, 2, 1, 0, 0, 1, 0, 1, 1, 1, 5, 1, 0, 1, 1, 0, 1, 1, 1, 2, 15, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		pod := fuzzPod(data)
		require.Empty(t, invalid(pod), "the fuzz pod itself is invalid")
		before := pod.DeepCopy()
		for _, native := range []bool{true, false} {
			opts := testOptions()
			opts.NativeSidecar = native
			opts.NamespaceAnnotations = map[string]string{annotations.Rollout: "1,50%,100%"}
			got, _, err := Mutate(pod, opts)
			require.NoError(t, err)
			require.Equal(t, before, pod, "Mutate modified its input")
			require.Empty(t, invalid(got), "mutated pod is invalid")
			assertOwnVolumesOnly(t, pod, got)
			again, _, err := Mutate(got, opts)
			require.NoError(t, err)
			require.Equal(t, got, again, "mutating twice differs from mutating once")
		}
	})
}
