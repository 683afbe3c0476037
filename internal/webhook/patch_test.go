package webhook

import (
	"encoding/json"
	"testing"

	jsonpatch5 "github.com/evanphx/json-patch/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gomodules.xyz/jsonpatch/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/mutate"
	"github.com/hotreload/hotreload/pkg/mutate/mutatetest"
)

// podWith is a small pod, changed by each of edits.
func podWith(edits ...func(*corev1.Pod)) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1"}}},
	}
	for _, edit := range edits {
		edit(pod)
	}
	return pod
}

func withInits(names ...string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Spec.InitContainers = nil
		for _, n := range names {
			p.Spec.InitContainers = append(p.Spec.InitContainers, corev1.Container{Name: n, Image: n + ":1"})
		}
	}
}

func withContainers(cs ...corev1.Container) func(*corev1.Pod) {
	return func(p *corev1.Pod) { p.Spec.Containers = cs }
}

func withMounts(ms ...corev1.VolumeMount) func(*corev1.Pod) {
	return func(p *corev1.Pod) { p.Spec.Containers[0].VolumeMounts = ms }
}

func withEnv(env ...corev1.EnvVar) func(*corev1.Pod) {
	return func(p *corev1.Pod) { p.Spec.Containers[0].Env = env }
}

func withVolumes(names ...string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Spec.Volumes = nil
		for _, n := range names {
			p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: n, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
		}
	}
}

func withAnnotations(kv map[string]string) func(*corev1.Pod) {
	return func(p *corev1.Pod) { p.Annotations = kv }
}

func TestPatch(t *testing.T) {
	cache := corev1.VolumeMount{Name: "cache", MountPath: "/var/cache/nginx"}
	conf := corev1.VolumeMount{Name: "config", MountPath: "/etc/nginx/nginx.conf", SubPath: "nginx.conf", ReadOnly: true}
	data := corev1.VolumeMount{Name: "data", MountPath: "/data"}
	link := corev1.VolumeMount{Name: "hotreload-link-0", MountPath: "/etc/nginx"}
	live := corev1.VolumeMount{Name: "hotreload-live", MountPath: "/var/run/hotreload/live", ReadOnly: true}

	tests := []struct {
		name              string
		original, mutated *corev1.Pod
		want              string // the operations, as JSON
	}{
		{
			name:     "returns no operations for a pod that did not change",
			original: podWith(withInits("setup"), withMounts(cache, conf), withVolumes("cache", "config")),
			mutated:  podWith(withInits("setup"), withMounts(cache, conf), withVolumes("cache", "config")),
			want:     `null`, // nil, not an empty list
		},
		{
			name:     "inserts an init container before the user's, leaving the user's alone",
			original: podWith(withInits("setup")),
			mutated:  podWith(withInits("hotreload-install", "setup")),
			want:     `[{"op": "add", "path": "/spec/initContainers/0", "value": {"name": "hotreload-install", "image": "hotreload-install:1", "resources": {}}}]`,
		},
		{
			name:     "inserts init containers around kept ones and appends volumes",
			original: podWith(withInits("setup", "migrate"), withVolumes("config")),
			mutated:  podWith(withInits("hotreload-install", "setup", "hotreload-link", "migrate"), withVolumes("config", "hotreload-live")),
			want: `[
				{"op": "add", "path": "/spec/initContainers/0", "value": {"name": "hotreload-install", "image": "hotreload-install:1", "resources": {}}},
				{"op": "add", "path": "/spec/initContainers/2", "value": {"name": "hotreload-link", "image": "hotreload-link:1", "resources": {}}},
				{"op": "add", "path": "/spec/volumes/1", "value": {"name": "hotreload-live", "emptyDir": {}}}
			]`,
		},
		{
			name:     "removes a subPath mount from the middle of volumeMounts and appends two",
			original: podWith(withMounts(cache, conf, data)),
			mutated:  podWith(withMounts(cache, data, link, live)),
			want: `[
				{"op": "remove", "path": "/spec/containers/0/volumeMounts/1"},
				{"op": "add", "path": "/spec/containers/0/volumeMounts/2", "value": {"name": "hotreload-link-0", "mountPath": "/etc/nginx"}},
				{"op": "add", "path": "/spec/containers/0/volumeMounts/3", "value": {"name": "hotreload-live", "mountPath": "/var/run/hotreload/live", "readOnly": true}}
			]`,
		},
		{
			name:     "edits a mount in place when its mount path stays",
			original: podWith(withMounts(cache, conf)),
			mutated:  podWith(withMounts(cache, corev1.VolumeMount{Name: "hotreload-live", MountPath: conf.MountPath, SubPath: "config/nginx.conf", ReadOnly: true})),
			want: `[
				{"op": "add", "path": "/spec/containers/0/volumeMounts/1/name", "value": "hotreload-live"},
				{"op": "add", "path": "/spec/containers/0/volumeMounts/1/subPath", "value": "config/nginx.conf"}
			]`,
		},
		{
			name:     "removes containers whose name is gone, highest index first, and diffs the kept ones where they land",
			original: podWith(withContainers(corev1.Container{Name: "a"}, corev1.Container{Name: "hotreload-reloader"}, corev1.Container{Name: "b"}, corev1.Container{Name: "hotreload-x"})),
			mutated:  podWith(withContainers(corev1.Container{Name: "a"}, corev1.Container{Name: "b", Image: "b:2"})),
			want: `[
				{"op": "remove", "path": "/spec/containers/3"},
				{"op": "remove", "path": "/spec/containers/1"},
				{"op": "add", "path": "/spec/containers/1/image", "value": "b:2"}
			]`,
		},
		{
			name:     "diffs environment variables by name",
			original: podWith(withEnv(corev1.EnvVar{Name: "A", Value: "1"}, corev1.EnvVar{Name: "B", Value: "2"})),
			mutated:  podWith(withEnv(corev1.EnvVar{Name: "A", Value: "1"}, corev1.EnvVar{Name: "C", Value: "4"}, corev1.EnvVar{Name: "B", Value: "3"})),
			want: `[
				{"op": "add", "path": "/spec/containers/0/env/1", "value": {"name": "C", "value": "4"}},
				{"op": "add", "path": "/spec/containers/0/env/2/value", "value": "3"}
			]`,
		},
		{
			name:     "replaces the whole array when kept elements change order",
			original: podWith(withVolumes("x", "y")),
			mutated:  podWith(withVolumes("y", "x", "z")),
			want:     `[{"op": "add", "path": "/spec/volumes", "value": [{"name": "y", "emptyDir": {}}, {"name": "x", "emptyDir": {}}, {"name": "z", "emptyDir": {}}]}]`,
		},
		{
			name:     "replaces the whole array when two elements share a key",
			original: podWith(withEnv(corev1.EnvVar{Name: "A", Value: "1"}, corev1.EnvVar{Name: "A", Value: "2"})),
			mutated:  podWith(withEnv(corev1.EnvVar{Name: "A", Value: "1"})),
			want:     `[{"op": "add", "path": "/spec/containers/0/env", "value": [{"name": "A", "value": "1"}]}]`,
		},
		{
			name:     "replaces the whole array when an element has no key",
			original: podWith(withInits("setup")),
			mutated:  podWith(withInits("", "setup")),
			want:     `[{"op": "add", "path": "/spec/initContainers", "value": [{"name": "", "image": ":1", "resources": {}}, {"name": "setup", "image": "setup:1", "resources": {}}]}]`,
		},
		{
			name:     "replaces an array it does not key as a whole",
			original: podWith(withContainers(corev1.Container{Name: "app", Args: []string{"serve"}})),
			mutated:  podWith(withContainers(corev1.Container{Name: "app", Args: []string{"serve", "--reload"}})),
			want:     `[{"op": "add", "path": "/spec/containers/0/args", "value": ["serve", "--reload"]}]`,
		},
		{
			name:     "adds the annotations object when the pod had none",
			original: podWith(),
			mutated:  podWith(withAnnotations(map[string]string{annotations.Injected: "v1.0.0"})),
			want:     `[{"op": "add", "path": "/metadata/annotations", "value": {"hotreload/injected": "v1.0.0"}}]`,
		},
		{
			name:     "escapes / and ~ in annotation keys",
			original: podWith(withAnnotations(map[string]string{"team/owner": "a", "keep": "x"})),
			mutated:  podWith(withAnnotations(map[string]string{"team/owner": "b", "keep": "x", annotations.Injected: "v1.0.0", "odd~key": "y"})),
			want: `[
				{"op": "add", "path": "/metadata/annotations/hotreload~1injected", "value": "v1.0.0"},
				{"op": "add", "path": "/metadata/annotations/odd~0key", "value": "y"},
				{"op": "add", "path": "/metadata/annotations/team~1owner", "value": "b"}
			]`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ops, err := Patch(tt.original, tt.mutated)
			require.NoError(t, err)
			got, err := json.Marshal(ops)
			require.NoError(t, err)
			assert.JSONEq(t, tt.want, string(got))
			assert.JSONEq(t, typedJSON(t, tt.mutated), string(applyOps(t, typedJSON(t, tt.original), ops)), "the patch does not reproduce the mutated pod")
		})
	}
}

// TestPatchReproducesGoldenPods checks, for every golden case of pkg/mutate,
// that the patch from the input to the golden pod applied to the input's JSON
// gives the golden pod's JSON, and the patch back gives the input's.
func TestPatchReproducesGoldenPods(t *testing.T) {
	inputs, err := mutatetest.Inputs()
	require.NoError(t, err)
	require.NotEmpty(t, inputs)
	for _, in := range inputs {
		t.Run(mutatetest.Name(in), func(t *testing.T) {
			c, err := mutatetest.ReadCase(in)
			require.NoError(t, err)
			r, err := mutatetest.ReadResult(mutatetest.GoldenPath(in))
			require.NoError(t, err)
			assertPatchReproduces(t, c.Pod, r.Pod)
			assertPatchReproduces(t, r.Pod, c.Pod)
		})
	}
}

// FuzzPatch varies a golden case (its subPath mode, the sidecar's kind, the
// order of the mutated pod's volumes), mutates it, and checks that the patch
// between the two pods reproduces each from the other.
func FuzzPatch(f *testing.F) {
	inputs, err := mutatetest.Inputs()
	require.NoError(f, err)
	require.NotEmpty(f, inputs)
	f.Add(uint8(0), uint8(0), uint8(0), false)
	f.Add(uint8(3), uint8(1), uint8(2), true)
	f.Fuzz(func(t *testing.T, which, mode, sidecar uint8, reverse bool) {
		c, err := mutatetest.ReadCase(inputs[int(which)%len(inputs)])
		require.NoError(t, err)
		if m := []string{"", "link", "dir", "keep"}[mode%4]; m != "" {
			if c.Pod.Annotations == nil {
				c.Pod.Annotations = map[string]string{}
			}
			c.Pod.Annotations[annotations.SubPath] = m
		}
		opts := goldenOptions(c.Options)
		opts.NativeSidecar = sidecar%2 == 0
		out, _, err := mutate.Mutate(c.Pod, opts)
		require.NoError(t, err)
		if reverse {
			out = out.DeepCopy()
			for i, j := 0, len(out.Spec.Volumes)-1; i < j; i, j = i+1, j-1 {
				out.Spec.Volumes[i], out.Spec.Volumes[j] = out.Spec.Volumes[j], out.Spec.Volumes[i]
			}
		}
		assertPatchReproduces(t, c.Pod, out)
		assertPatchReproduces(t, out, c.Pod)
	})
}

// assertPatchReproduces checks that Patch(from, to) applied to from's JSON
// gives to's, and is nil when they are equal.
func assertPatchReproduces(t *testing.T, from, to *corev1.Pod) {
	t.Helper()
	ops, err := Patch(from, to)
	require.NoError(t, err)
	want := typedJSON(t, to)
	if typedJSON(t, from) == want {
		assert.Nil(t, ops, "a patch between equal pods")
	}
	assert.JSONEq(t, want, string(applyOps(t, typedJSON(t, from), ops)))
}

// goldenOptions are the options pkg/mutate's golden tests run a case with.
func goldenOptions(s mutatetest.Settings) mutate.Options {
	opts := mutate.Options{ReloaderImage: "ghcr.io/hotreload/reloader:v1.0.0", Version: "v1.0.0", NativeSidecar: !s.PlainSidecar}
	opts.NamespaceAnnotations = s.NamespaceAnnotations
	opts.HealthPort = s.HealthPort
	opts.ExchangeCA = []byte(s.ExchangeCA)
	opts.SourceAnnotations, _ = s.Sources() // checked by ReadCase
	if s.LiveSizeLimit != "" {
		q := resource.MustParse(s.LiveSizeLimit)
		opts.LiveSizeLimit = &q
	}
	return opts
}

func typedJSON(t *testing.T, pod *corev1.Pod) string {
	t.Helper()
	raw, err := json.Marshal(pod)
	require.NoError(t, err)
	return string(raw)
}

// applyOps applies ops to doc with evanphx/json-patch, as the API server does.
func applyOps(t *testing.T, doc string, ops []jsonpatch.Operation) []byte {
	t.Helper()
	raw, err := json.Marshal(ops)
	require.NoError(t, err)
	patch, err := jsonpatch5.DecodePatch(raw)
	require.NoError(t, err)
	out, err := patch.Apply([]byte(doc))
	require.NoError(t, err)
	return out
}

// TestPatchSetsAMemberTheRawRequestLacks: our types encode members that a
// raw request may not carry (a container's "resources": {}). A change below
// one must still apply to the raw request, which an RFC 6902 replace of the
// missing member would not.
func TestPatchSetsAMemberTheRawRequestLacks(t *testing.T) {
	original := podWith()
	mutated := podWith(func(p *corev1.Pod) { p.Spec.ShareProcessNamespace = new(bool) })
	mutated.Spec.Containers[0].Resources = corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}
	ops, err := Patch(original, mutated)
	require.NoError(t, err)
	raw := `{"metadata":{"name":"web"},"spec":{"containers":[{"name":"app","image":"app:1"}]}}`
	got := applyOps(t, raw, ops)
	assert.JSONEq(t, `{"metadata":{"name":"web"},"spec":{"shareProcessNamespace":false,"containers":[{"name":"app","image":"app:1","resources":{"limits":{"cpu":"1"}}}]}}`, string(got))
}
