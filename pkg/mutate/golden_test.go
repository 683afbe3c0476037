package mutate

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite the golden files of pkg/mutate/testdata")

// goldenCase is a testdata/<case>.yaml file: the pod and the options that differ
// from the tests' defaults.
type goldenCase struct {
	// Options that differ from testOptions.
	Options struct {
		PlainSidecar         bool              `json:"plainSidecar,omitempty"`
		NamespaceAnnotations map[string]string `json:"namespaceAnnotations,omitempty"`
		HealthPort           int32             `json:"healthPort,omitempty"`
		LiveSizeLimit        string            `json:"liveSizeLimit,omitempty"`
		ExchangeCA           string            `json:"exchangeCA,omitempty"`
	} `json:"options"`
	Pod *corev1.Pod `json:"pod"`
}

// goldenResult is a testdata/<case>.golden.yaml file.
type goldenResult struct {
	Warnings []string    `json:"warnings"`
	Pod      *corev1.Pod `json:"pod"`
}

func testOptions() Options {
	return Options{ReloaderImage: "ghcr.io/hotreload/reloader:v1.0.0", Version: "v1.0.0", NativeSidecar: true}
}

func TestMutateGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/*.yaml")
	require.NoError(t, err)
	used := map[string]bool{}
	for _, in := range inputs {
		if strings.HasSuffix(in, ".golden.yaml") {
			continue
		}
		name := strings.TrimSuffix(filepath.Base(in), ".yaml")
		golden := strings.TrimSuffix(in, ".yaml") + ".golden.yaml"
		used[golden] = true
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(in)
			require.NoError(t, err)
			var c goldenCase
			require.NoError(t, yaml.UnmarshalStrict(raw, &c))
			require.NotNil(t, c.Pod, "%s has no pod", in)
			opts := testOptions()
			opts.NativeSidecar = !c.Options.PlainSidecar
			opts.NamespaceAnnotations = c.Options.NamespaceAnnotations
			opts.HealthPort = c.Options.HealthPort
			opts.ExchangeCA = []byte(c.Options.ExchangeCA)
			if c.Options.LiveSizeLimit != "" {
				q := resource.MustParse(c.Options.LiveSizeLimit)
				opts.LiveSizeLimit = &q
			}
			before := c.Pod.DeepCopy()

			got, warnings, err := Mutate(c.Pod, opts)
			require.NoError(t, err)
			assert.Equal(t, before, c.Pod, "Mutate modified its input")
			assert.Empty(t, invalid(got), "the mutated pod is invalid")
			again, againWarnings, err := Mutate(got, opts)
			require.NoError(t, err)
			assert.Equal(t, got, again, "mutating twice differs from mutating once")
			if got != c.Pod {
				assert.Empty(t, againWarnings, "mutating an injected pod warns")
			} else {
				assert.Equal(t, warnings, againWarnings)
			}

			out, err := yaml.Marshal(goldenResult{Warnings: append([]string{}, warnings...), Pod: got})
			require.NoError(t, err)
			if *update {
				require.NoError(t, os.WriteFile(golden, out, 0o644))
				return
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test ./pkg/mutate -update to write it")
			assert.Equal(t, string(want), string(out))
		})
	}
	goldens, err := filepath.Glob("testdata/*.golden.yaml")
	require.NoError(t, err)
	for _, g := range goldens {
		assert.True(t, used[g], "%s has no testdata input: delete it", g)
	}
}
