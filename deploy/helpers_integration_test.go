//go:build integration

package deploy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hotreload/hotreload/internal/testenv"
)

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// build runs `kubectl kustomize dir` and decodes the objects it prints.
func build(t *testing.T, env *testenv.Env, dir string) []*unstructured.Unstructured {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(filepath.Join(env.Assets, "kubectl"), "kustomize", dir)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "kubectl kustomize %s: %s", dir, stderr.String())
	return decode(t, out)
}

func decode(t *testing.T, data []byte) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	d := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		u := &unstructured.Unstructured{}
		err := d.Decode(&u.Object)
		if errors.Is(err, io.EOF) {
			return objs
		}
		require.NoError(t, err)
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
}

// apply server-side applies each object, as `kubectl apply --server-side` would,
// and returns "Kind namespace/name" of each, sorted.
func apply(t *testing.T, env *testenv.Env, objs []*unstructured.Unstructured) []string {
	t.Helper()
	ctx := ctxFor(t)
	var names []string
	for _, u := range objs {
		err := env.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u.DeepCopy()),
			client.FieldOwner("hotreload-install"), client.ForceOwnership)
		require.NoError(t, err, "applying %s %s/%s", u.GetKind(), u.GetNamespace(), u.GetName())
		names = append(names, u.GetKind()+" "+u.GetNamespace()+"/"+u.GetName())
		if u.GetKind() == "CustomResourceDefinition" {
			waitEstablished(t, env, u.GetName())
		}
	}
	sort.Strings(names)
	return names
}

func waitEstablished(t *testing.T, env *testenv.Env, name string) {
	t.Helper()
	require.Eventually(t, func() bool {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("apiextensions.k8s.io/v1")
		u.SetKind("CustomResourceDefinition")
		if err := env.Client.Get(context.Background(), client.ObjectKey{Name: name}, u); err != nil {
			return false
		}
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		for _, c := range conds {
			if m, ok := c.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
				return true
			}
		}
		return false
	}, time.Minute, 100*time.Millisecond, "CRD %s established", name)
}

// token mints a token for namespace/sa through TokenRequest, bound to pod when
// one is given, for the API server's audiences unless others are given.
func token(t *testing.T, env *testenv.Env, namespace, sa string, pod *corev1.Pod, audiences ...string) string {
	t.Helper()
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{Audiences: audiences}}
	if pod != nil {
		req.Spec.BoundObjectRef = &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID}
	}
	tr, err := env.Clientset.CoreV1().ServiceAccounts(namespace).CreateToken(ctxFor(t), sa, req, metav1.CreateOptions{})
	require.NoError(t, err, "requesting a token for %s/%s", namespace, sa)
	return tr.Status.Token
}

// as returns clients authenticated with tok only.
func as(t *testing.T, env *testenv.Env, tok string) (client.Client, kubernetes.Interface) {
	t.Helper()
	cfg := rest.AnonymousClientConfig(env.Config)
	cfg.BearerToken = tok
	c, err := client.New(cfg, client.Options{Scheme: scheme.Scheme})
	require.NoError(t, err)
	cs, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	return c, cs
}

func newPod(name, sa string, labels, annotations map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, Annotations: annotations},
		Spec: corev1.PodSpec{
			ServiceAccountName: sa,
			Containers:         []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10"}},
		},
	}
}

// copyTree copies the deploy directory's manifests into a temporary directory, so
// a test can add generated files without touching the source tree.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			if rel == filepath.Join("selfsigned", "certs") {
				return filepath.SkipDir // generated by the test instead
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if filepath.Ext(path) != ".yaml" {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	require.NoError(t, err)
	return dst
}

// applyMergePatch applies a JSON merge patch of metadata to pod in memory: the
// expected result of an allowed patch.
func applyMergePatch(t *testing.T, pod *corev1.Pod, patch string) {
	t.Helper()
	orig, err := json.Marshal(pod)
	require.NoError(t, err)
	out, err := strategicpatch.StrategicMergePatch(orig, []byte(patch), corev1.Pod{})
	require.NoError(t, err)
	*pod = corev1.Pod{}
	require.NoError(t, json.Unmarshal(out, pod))
}
