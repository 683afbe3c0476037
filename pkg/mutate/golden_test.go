package mutate

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"

	"github.com/hotreload/hotreload/pkg/mutate/mutatetest"
)

var update = flag.Bool("update", false, "rewrite the golden files of pkg/mutate/testdata")

func testOptions() Options {
	return Options{ReloaderImage: "ghcr.io/hotreload/reloader:v1.0.0", Version: "v1.0.0", NativeSidecar: true}
}

func TestMutateGolden(t *testing.T) {
	inputs, err := mutatetest.Inputs()
	require.NoError(t, err)
	used := map[string]bool{}
	for _, in := range inputs {
		golden := mutatetest.GoldenPath(in)
		used[filepath.Base(golden)] = true
		t.Run(mutatetest.Name(in), func(t *testing.T) {
			c, err := mutatetest.ReadCase(in)
			require.NoError(t, err)
			opts := caseOptions(c.Options)
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

			out, err := yaml.Marshal(mutatetest.Result{Warnings: append([]string{}, warnings...), Pod: got})
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
	goldens, err := filepath.Glob(filepath.Join(mutatetest.Dir(), "*.golden.yaml"))
	require.NoError(t, err)
	for _, g := range goldens {
		assert.True(t, used[filepath.Base(g)], "%s has no testdata input: delete it", g)
	}
}

// caseOptions are the tests' default options with a case's settings.
func caseOptions(s mutatetest.Settings) Options {
	opts := testOptions()
	opts.NativeSidecar = !s.PlainSidecar
	opts.NamespaceAnnotations = s.NamespaceAnnotations
	opts.HealthPort = s.HealthPort
	opts.ExchangeCA = []byte(s.ExchangeCA)
	opts.SourceAnnotations, _ = s.Sources() // checked by ReadCase
	opts.Releases, _ = s.ReleaseStatuses()
	if s.LiveSizeLimit != "" {
		q := resource.MustParse(s.LiveSizeLimit)
		opts.LiveSizeLimit = &q
	}
	return opts
}
