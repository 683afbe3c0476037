package manifest

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/mutate"
	"github.com/hotreload/hotreload/pkg/release"
)

func options() mutate.Options {
	return mutate.Options{ReloaderImage: "reloader:test", Version: "test", NativeSidecar: true}
}

func mutateFile(t *testing.T, name string) ([]Result, error) {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	require.NoError(t, err)
	defer f.Close()
	return Mutate(f, options())
}

func TestMutateWorkloads(t *testing.T) {
	results, err := mutateFile(t, "workloads.yaml")
	require.NoError(t, err)
	require.Len(t, results, 3)

	// The Deployment's template is mutated exactly as its pods would be.
	raw, err := os.ReadFile("testdata/workloads.yaml")
	require.NoError(t, err)
	var deploy struct {
		Spec struct {
			Template corev1.PodTemplateSpec `json:"template"`
		} `json:"spec"`
	}
	require.NoError(t, yaml.Unmarshal(bytes.Split(raw, []byte("\n---\n"))[0], &deploy))
	wantPod, wantWarnings, err := mutate.Mutate(&corev1.Pod{ObjectMeta: deploy.Spec.Template.ObjectMeta, Spec: deploy.Spec.Template.Spec}, options())
	require.NoError(t, err)
	out, err := yaml.Marshal(results[0].Object)
	require.NoError(t, err)
	var got struct {
		Spec struct {
			Template corev1.PodTemplateSpec `json:"template"`
		} `json:"spec"`
	}
	require.NoError(t, yaml.Unmarshal(out, &got))
	assert.Equal(t, corev1.PodTemplateSpec{ObjectMeta: wantPod.ObjectMeta, Spec: wantPod.Spec}, got.Spec.Template)
	assert.Equal(t, wantWarnings, results[0].Warnings)

	assert.Equal(t, []any{1, "Deployment", "web"}, []any{results[0].Doc, results[0].Kind, results[0].Name})
	assert.Equal(t, Result{Doc: 2, Kind: "Service", Name: "web", Object: map[string]any{
		"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": "web"},
		"spec": map[string]any{"selector": map[string]any{"app": "web"}, "ports": []any{map[string]any{"port": float64(80)}}},
	}}, results[1])
	// The CronJob's template is not opted in: unchanged, with a warning; the
	// empty document before it is not counted.
	assert.Equal(t, []any{3, "CronJob", "report", []string{`label hotreload/enable is not "true": pod left unchanged`}},
		[]any{results[2].Doc, results[2].Kind, results[2].Name, results[2].Warnings})

	var stdout, stderr bytes.Buffer
	require.NoError(t, Write(&stdout, results))
	require.NoError(t, WriteWarnings(&stderr, results))
	docs := strings.Split(stdout.String(), "---\n")
	require.Len(t, docs, 3)
	assert.Contains(t, docs[0], "name: hotreload-reloader")
	assert.Contains(t, docs[0], "hotreload/injected: test")
	assert.NotContains(t, docs[2], "hotreload")
	assert.Equal(t, "document 1 (Deployment \"web\"): shareProcessNamespace is turned on so that the reloader can send SIGHUP to the process; "+
		"the pod's containers see each other's processes (and, running as one user, their environments and files); set hotreload/signal to none, or a URL in hotreload/url, to avoid it\n"+
		"document 3 (CronJob \"report\"): label hotreload/enable is not \"true\": pod left unchanged\n", stderr.String())
}

func TestMutateJSONPod(t *testing.T) {
	results, err := mutateFile(t, "pod.json")
	require.NoError(t, err)
	require.Len(t, results, 1)
	pod, ok := results[0].Object.(*corev1.Pod)
	require.True(t, ok)
	raw, err := os.ReadFile("testdata/pod.json")
	require.NoError(t, err)
	var in corev1.Pod
	require.NoError(t, yaml.Unmarshal(raw, &in))
	want, warnings, err := mutate.Mutate(&in, options())
	require.NoError(t, err)
	assert.Equal(t, want, pod)
	assert.Equal(t, warnings, results[0].Warnings)
	assert.Equal(t, "v1", pod.APIVersion)
}

func TestMutateBadInput(t *testing.T) {
	tests := []struct {
		name, file, err string
	}{
		{"names the document with an unknown field", "bad-second-doc.yaml",
			`document 2 (Deployment "typo"): invalid manifest: json: unknown field "containerz"`},
		{"names the document that is not YAML", "not-yaml.yaml",
			"document 1: invalid manifest: error converting YAML to JSON: yaml: line 3: did not find expected ',' or ']'"},
		{"requires a kind", "no-kind.yaml",
			"document 1: invalid manifest: apiVersion and kind are required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			results, err := mutateFile(t, tt.file)
			assert.Nil(t, results)
			require.ErrorIs(t, err, ErrInvalid)
			assert.Equal(t, tt.err, err.Error())
		})
	}
}

// The ConfigMaps and Secrets of the manifest say, as the webhook would read
// them, which sources hotreload leaves alone, for the pods of their
// namespace, wherever they are in the manifest; the options' sources (the
// preview's --ignore) are laid over them.
func TestMutateTakesSourceAnnotationsFromTheManifest(t *testing.T) {
	results, err := mutateFile(t, "ignored.yaml")
	require.NoError(t, err)
	require.Len(t, results, 3)
	pod := templateOf(t, results[0])
	assert.Equal(t, []corev1.VolumeMount{
		{Name: "hotreload-live", MountPath: "/etc/web", SubPath: "config", ReadOnly: true},
		{Name: "flags", MountPath: "/etc/flags/flags.yaml", SubPath: "flags.yaml"},
	}, pod.Spec.Containers[0].VolumeMounts, "flags left as written; web-config of another namespace is not this one")
	assert.Equal(t, []string{`volume "flags" is left as written: ConfigMap "flags" is annotated hotreload/ignore: "true"`}, results[0].Warnings)

	f, err := os.Open("testdata/ignored.yaml")
	require.NoError(t, err)
	defer f.Close()
	opts := options()
	opts.SourceAnnotations = map[release.Source]map[string]string{{Kind: v1alpha1.SourceConfigMap, Name: "web-config"}: {annotations.Ignore: "true"}}
	results, err = Mutate(f, opts)
	require.NoError(t, err)
	assert.NotContains(t, templateOf(t, results[0]).Annotations, annotations.Injected, "nothing left to reload")
	assert.Equal(t, []string{
		`volume "config" is left as written: ConfigMap "web-config" is annotated hotreload/ignore: "true"`,
		`volume "flags" is left as written: ConfigMap "flags" is annotated hotreload/ignore: "true"`,
		"no config volume of the reloaded containers can be reloaded: pod left unchanged",
	}, results[0].Warnings)
}

// templateOf returns the pod template of a Deployment result.
func templateOf(t *testing.T, r Result) corev1.PodTemplateSpec {
	t.Helper()
	d, ok := r.Object.(*appsv1.Deployment)
	require.True(t, ok, "a Deployment: %T", r.Object)
	return d.Spec.Template
}
