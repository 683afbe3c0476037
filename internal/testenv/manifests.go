package testenv

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Kustomize builds a kustomization with the assets' kubectl, as
// `kubectl kustomize DIR` does for an admin, and returns its objects.
func (e *Env) Kustomize(t testing.TB, dir string) []*unstructured.Unstructured {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(filepath.Join(e.Assets, "kubectl"), "kustomize", dir)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kubectl kustomize %s: %v: %s", dir, err, stderr.String())
	}
	return Decode(t, out)
}

// Decode reads YAML or JSON documents into objects, skipping empty ones.
func Decode(t testing.TB, data []byte) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	d := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		u := &unstructured.Unstructured{}
		err := d.Decode(&u.Object)
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatalf("decoding manifests: %v", err)
		}
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
}

// Apply server-side applies the objects as an admin would, waits for each
// CustomResourceDefinition to be established, and returns "Kind ns/name" of
// each object, sorted.
func (e *Env) Apply(t testing.TB, objs []*unstructured.Unstructured) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var names []string
	for _, u := range objs {
		err := e.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u.DeepCopy()),
			client.FieldOwner("hotreload-install"), client.ForceOwnership)
		if err != nil {
			t.Fatalf("applying %s %s/%s: %v", u.GetKind(), u.GetNamespace(), u.GetName(), err)
		}
		names = append(names, u.GetKind()+" "+u.GetNamespace()+"/"+u.GetName())
		if u.GetKind() == "CustomResourceDefinition" {
			e.waitEstablished(ctx, t, u.GetName())
		}
	}
	sort.Strings(names)
	return names
}

func (e *Env) waitEstablished(ctx context.Context, t testing.TB, name string) {
	t.Helper()
	for {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("apiextensions.k8s.io/v1")
		u.SetKind("CustomResourceDefinition")
		if err := e.Client.Get(ctx, client.ObjectKey{Name: name}, u); err == nil {
			conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
			for _, c := range conds {
				if m, ok := c.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
					return
				}
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("CustomResourceDefinition %s not established: %v", name, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
