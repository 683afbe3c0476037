package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/mutate"
)

// namespaces answers Get for Namespaces from a map, or with err.
type namespaces struct {
	client.Reader
	byName map[string]*corev1.Namespace
	err    error
}

func (n namespaces) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	if n.err != nil {
		return n.err
	}
	ns, ok := n.byName[key.Name]
	if !ok {
		return errors.New("namespace not found")
	}
	ns.DeepCopyInto(obj.(*corev1.Namespace))
	return nil
}

func newInjector(t *testing.T, ns namespaces, image string) *Injector {
	t.Helper()
	scheme := runtime.NewScheme()
	require.NoError(t, clientgoscheme.AddToScheme(scheme))
	return &Injector{
		Namespaces: ns,
		Options:    mutate.Options{ReloaderImage: image, Version: "v1.0.0", NativeSidecar: true},
		Decoder:    admission.NewDecoder(scheme),
	}
}

func podRequest(t *testing.T, namespace string, pod *corev1.Pod) admission.Request {
	t.Helper()
	raw, err := json.Marshal(pod)
	require.NoError(t, err)
	return admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID:       "req-1",
		Namespace: namespace,
		Operation: admissionv1.Create,
		Object:    runtime.RawExtension{Raw: raw},
	}}
}

func webPod() *corev1.Pod {
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{GenerateName: "web-", Labels: map[string]string{annotations.EnableLabel: "true"}},
		Spec: corev1.PodSpec{
			ServiceAccountName: "default",
			SecurityContext:    &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](1000)},
			Containers:         []corev1.Container{{Name: "app", Image: "app:1", VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: "/etc/app"}}}},
			Volumes:            []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "app"}}}}},
		},
	}
}

// patched applies resp's patches to the request's pod.
func patched(t *testing.T, req admission.Request, resp admission.Response) *corev1.Pod {
	t.Helper()
	pod := &corev1.Pod{}
	require.NoError(t, json.Unmarshal(applyOps(t, string(req.Object.Raw), resp.Patches), pod))
	return pod
}

func TestInjectorHandle(t *testing.T) {
	shop := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop", Annotations: map[string]string{annotations.Rollout: "1,100"}}}

	t.Run("patches the pod as Mutate does, with the namespace's rollout defaults", func(t *testing.T) {
		inj := newInjector(t, namespaces{byName: map[string]*corev1.Namespace{"shop": shop}}, "reloader:1")
		pod := webPod()
		req := podRequest(t, "shop", pod)

		resp := inj.Handle(context.Background(), req)

		opts := inj.Options
		opts.NamespaceAnnotations = shop.Annotations
		in := pod.DeepCopy()
		in.Namespace = "shop"
		want, warnings, err := mutate.Mutate(in, opts)
		require.NoError(t, err)
		want.Namespace = "" // left to the API server
		assert.True(t, resp.Allowed)
		assert.Equal(t, warnings, resp.Warnings)
		assert.Equal(t, want, patched(t, req, resp))
		assert.Contains(t, resp.Warnings, `namespace annotation hotreload/rollout: invalid rollout "1,100": the last step must be 100%; using 100%`,
			"the namespace's annotations reached the mutation")
	})

	t.Run("uses the built-in defaults, with a warning, when the namespace cannot be read", func(t *testing.T) {
		inj := newInjector(t, namespaces{err: errors.New("cache not synced")}, "reloader:1")
		resp := inj.Handle(context.Background(), podRequest(t, "shop", webPod()))
		assert.True(t, resp.Allowed)
		assert.NotEmpty(t, resp.Patches)
		assert.Equal(t, []string{`hotreload: could not read namespace "shop" for its rollout defaults (cache not synced); using the built-in defaults`,
			"shareProcessNamespace is turned on so that the reloader can send SIGHUP to the process; the pod's containers see each other's processes " +
				"(and, running as one user, their environments and files); set hotreload/signal to none, or a URL in hotreload/url, to avoid it"}, resp.Warnings)
	})

	t.Run("allows the pod unchanged, with a warning, when Mutate fails", func(t *testing.T) {
		inj := newInjector(t, namespaces{byName: map[string]*corev1.Namespace{"shop": shop}}, "")
		resp := inj.Handle(context.Background(), podRequest(t, "shop", webPod()))
		assert.True(t, resp.Allowed)
		assert.Empty(t, resp.Patches)
		require.Len(t, resp.Warnings, 1)
		assert.Regexp(t, `^hotreload: pod admitted without hotreload: .*reloader image`, resp.Warnings[0])
	})

	t.Run("allows a request it cannot decode, with a warning", func(t *testing.T) {
		inj := newInjector(t, namespaces{byName: map[string]*corev1.Namespace{"shop": shop}}, "reloader:1")
		req := podRequest(t, "shop", webPod())
		req.Object.Raw = []byte(`{"kind":"Pod","apiVersion":"v1","spec":{"containers":"nope"}}`)
		resp := inj.Handle(context.Background(), req)
		assert.True(t, resp.Allowed)
		assert.Empty(t, resp.Patches)
		require.Len(t, resp.Warnings, 1)
		assert.Regexp(t, `^hotreload: pod admitted without hotreload: decoding the pod: `, resp.Warnings[0])
	})

	t.Run("allows the pod, with a warning, when the handler panics", func(t *testing.T) {
		inj := newInjector(t, namespaces{}, "reloader:1")
		inj.Namespaces = nil // a nil reader panics on use
		resp := inj.Handle(context.Background(), podRequest(t, "shop", webPod()))
		assert.True(t, resp.Allowed)
		assert.Empty(t, resp.Patches)
		require.Len(t, resp.Warnings, 1)
		assert.Regexp(t, `^hotreload: pod admitted without hotreload: internal error: `, resp.Warnings[0])
	})

	t.Run("leaves an injected pod unchanged", func(t *testing.T) {
		inj := newInjector(t, namespaces{byName: map[string]*corev1.Namespace{"shop": shop}}, "reloader:1")
		pod := webPod()
		pod.Annotations = map[string]string{annotations.Injected: "v0.9.0"}
		resp := inj.Handle(context.Background(), podRequest(t, "shop", pod))
		assert.True(t, resp.Allowed)
		assert.Empty(t, resp.Patches)
		assert.Empty(t, resp.Warnings)
	})
}

// futurePod is the JSON of a pod as an API server newer than our k8s.io/api
// sends it: fields our types do not know, each named futureField, on the pod
// spec, the user's init container, the app container (whose mounts Mutate
// redirects), a mount of it that is kept, and a volume. metadata is the pod's
// metadata object.
func futurePod(metadata string) []byte {
	return []byte(`{
  "apiVersion": "v1", "kind": "Pod",
  "metadata": ` + metadata + `,
  "spec": {
    "futureField": {"a": 1},
    "serviceAccountName": "default",
    "securityContext": {"runAsUser": 1000},
    "initContainers": [{"name": "setup", "image": "setup:1", "futureField": true}],
    "containers": [{
      "name": "app", "image": "app:1", "futureField": "app",
      "volumeMounts": [
        {"name": "cache", "mountPath": "/var/cache/app", "futureField": "kept"},
        {"name": "config", "mountPath": "/etc/app/app.conf", "subPath": "app.conf"},
        {"name": "config", "mountPath": "/etc/conf.d"}
      ]
    }],
    "volumes": [
      {"name": "config", "configMap": {"name": "app"}, "futureField": {"b": [1, 2]}},
      {"name": "cache", "emptyDir": {}}
    ]
  }
}`)
}

// futureFields finds every futureField in the JSON doc: its JSON pointer and
// its value.
func futureFields(t *testing.T, doc []byte) map[string]any {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal(doc, &v))
	found := map[string]any{}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				if k == "futureField" {
					found[path+"/"+k] = e
					continue
				}
				walk(path+"/"+escape(k), e)
			}
		case []any:
			for i, e := range v {
				walk(fmt.Sprintf("%s/%d", path, i), e)
			}
		}
	}
	walk("", v)
	return found
}

func TestInjectorHandleKeepsUnknownFields(t *testing.T) {
	shop := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}
	tests := []struct {
		name     string
		metadata string
		mutated  bool // whether Mutate changes the pod
	}{
		{
			name:     "keeps the fields it does not know, each on the element it belongs to",
			metadata: `{"generateName": "web-", "labels": {"hotreload/enable": "true"}}`,
			mutated:  true,
		},
		{
			name:     "returns no patch for a pod that is not opted in, whatever fields it carries",
			metadata: `{"generateName": "web-", "labels": {"app": "web"}}`,
		},
		{
			name:     "returns no patch for an injected pod, whatever fields it carries",
			metadata: `{"generateName": "web-", "labels": {"hotreload/enable": "true"}, "annotations": {"hotreload/injected": "v0.9.0"}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inj := newInjector(t, namespaces{byName: map[string]*corev1.Namespace{"shop": shop}}, "reloader:1")
			req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
				UID:       "req-1",
				Namespace: "shop",
				Operation: admissionv1.Create,
				Object:    runtime.RawExtension{Raw: futurePod(tt.metadata)},
			}}

			resp := inj.Handle(context.Background(), req)

			in := &corev1.Pod{}
			require.NoError(t, json.Unmarshal(req.Object.Raw, in))
			in.Namespace = "shop"
			want, warnings, err := mutate.Mutate(in, inj.Options)
			require.NoError(t, err)
			require.Equal(t, tt.mutated, !assert.ObjectsAreEqual(in, want), "whether Mutate changes the pod")
			want.Namespace = "" // left to the API server
			assert.True(t, resp.Allowed)
			assert.Equal(t, warnings, resp.Warnings)
			if !tt.mutated {
				assert.Nil(t, resp.Patches, "patch operations for a pod Mutate leaves unchanged")
			}

			out := applyOps(t, string(req.Object.Raw), resp.Patches)
			got := &corev1.Pod{}
			require.NoError(t, json.Unmarshal(out, got))
			assert.Equal(t, want, got)
			// Where the elements that carry unknown fields are in the result.
			spec := want.Spec
			setup := slices.IndexFunc(spec.InitContainers, func(c corev1.Container) bool { return c.Name == "setup" })
			app := slices.IndexFunc(spec.Containers, func(c corev1.Container) bool { return c.Name == "app" })
			require.GreaterOrEqual(t, app, 0)
			cache := slices.IndexFunc(spec.Containers[app].VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == "/var/cache/app" })
			config := slices.IndexFunc(spec.Volumes, func(v corev1.Volume) bool { return v.Name == "config" })
			assert.Equal(t, map[string]any{
				"/spec/futureField": map[string]any{"a": 1.0},
				fmt.Sprintf("/spec/initContainers/%d/futureField", setup):                  true,
				fmt.Sprintf("/spec/containers/%d/futureField", app):                        "app",
				fmt.Sprintf("/spec/containers/%d/volumeMounts/%d/futureField", app, cache): "kept",
				fmt.Sprintf("/spec/volumes/%d/futureField", config):                        map[string]any{"b": []any{1.0, 2.0}},
			}, futureFields(t, out), "the unknown fields after the patch")
		})
	}
}

func TestSupportsNativeSidecar(t *testing.T) {
	tests := []struct {
		major, minor, git string
		want              bool
	}{
		{"1", "37", "v1.37.2", true},
		{"1", "29", "v1.29.0", true},
		{"1", "28", "v1.28.9", false},
		{"1", "29+", "v1.29.3-eks-1234", true},
		{"1", "30+", "garbage", true},
		{"1", "28+", "garbage", false},
		{"", "", "", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, SupportsNativeSidecar(tt.major, tt.minor, tt.git), "%s.%s %s", tt.major, tt.minor, tt.git)
	}
}
