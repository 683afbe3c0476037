package charts_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/hotreload/hotreload/internal/testenv"
)

// chartDir is the chart the tests render.
const chartDir = "hotreload"

// helmEnv names the helm binary; the Makefile sets it to bin/tools/helm, which
// make helm builds.
const helmEnv = "HOTRELOAD_HELM"

// helmBin is the helm binary the Makefile names.
func helmBin(t testing.TB) string {
	t.Helper()
	bin := os.Getenv(helmEnv)
	if bin == "" {
		t.Fatalf("%s is not set: run the chart's tests with `make unit` (it builds bin/tools/helm), or `make helm` and export %s=$PWD/bin/tools/helm", helmEnv, helmEnv)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s=%s: %v: run `make helm`", helmEnv, bin, err)
	}
	return bin
}

// kubectlBin is the kubectl of the assets the Makefile names, which builds
// deploy/'s overlays as `kubectl kustomize` does for an admin.
func kubectlBin(t testing.TB) string {
	t.Helper()
	dir := os.Getenv(testenv.AssetsEnv)
	if dir == "" {
		t.Fatalf("%s is not set: run the chart's tests with `make unit`, or build kubectl with `%s` and export %s=$PWD/bin/k8s/<version>", testenv.AssetsEnv, testenv.BuildCommand, testenv.AssetsEnv)
	}
	bin := filepath.Join(dir, "kubectl")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%v: run `%s`", err, testenv.BuildCommand)
	}
	return bin
}

// run runs a command and returns its stdout, or its stderr and false when it fails.
func run(t testing.TB, bin string, args ...string) (string, bool) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("%s %s: %v", bin, strings.Join(args, " "), err)
		}
		return stderr.String(), false
	}
	return stdout.String(), true
}

// helmTemplate renders chart (a directory or a packaged chart) as `helm
// template hotreload CHART ARGS...` does, and returns its objects.
func helmTemplate(t testing.TB, chart string, args ...string) []*unstructured.Unstructured {
	t.Helper()
	args = append([]string{"template", "hotreload", chart}, args...)
	out, ok := run(t, helmBin(t), args...)
	require.True(t, ok, "helm %s:\n%s", strings.Join(args, " "), out)
	return testenv.Decode(t, []byte(out))
}

// helmTemplateFails renders chart with args, which must fail, and returns
// helm's error.
func helmTemplateFails(t testing.TB, chart string, args ...string) string {
	t.Helper()
	args = append([]string{"template", "hotreload", chart}, args...)
	out, ok := run(t, helmBin(t), args...)
	require.False(t, ok, "helm %s succeeded:\n%s", strings.Join(args, " "), out)
	return out
}

// kustomize builds the kustomization dir and returns its objects.
func kustomize(t testing.TB, dir string) []*unstructured.Unstructured {
	t.Helper()
	out, ok := run(t, kubectlBin(t), "kustomize", dir)
	require.True(t, ok, "kubectl kustomize %s:\n%s", dir, out)
	return testenv.Decode(t, []byte(out))
}

// key names an object as `Kind namespace/name`.
func key(o *unstructured.Unstructured) string {
	return o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName()
}

// byKey indexes objects by key; a key twice fails the test.
func byKey(t testing.TB, objs []*unstructured.Unstructured) map[string]*unstructured.Unstructured {
	t.Helper()
	m := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		_, dup := m[key(o)]
		require.False(t, dup, "%s twice", key(o))
		m[key(o)] = o
	}
	return m
}

// keys are the sorted keys of objects.
func keys(objs map[string]*unstructured.Unstructured) []string {
	out := make([]string, 0, len(objs))
	for k := range objs {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// object is the one object of objs with key k.
func object(t testing.TB, objs []*unstructured.Unstructured, k string) *unstructured.Unstructured {
	t.Helper()
	o, ok := byKey(t, objs)[k]
	require.True(t, ok, "no %s among %v", k, keys(byKey(t, objs)))
	return o
}
