package mutate

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

// BenchmarkMutate mutates realistic pods (target: at most 100 µs and 200
// allocations each). Mutate copies its input, so every iteration does the
// whole work.
func BenchmarkMutate(b *testing.B) {
	for _, name := range []string{"nginx-subpath-link", "prometheus-url", "statefulset-several-containers"} {
		b.Run(name, func(b *testing.B) {
			raw, err := os.ReadFile("testdata/" + name + ".yaml")
			require.NoError(b, err)
			var c goldenCase
			require.NoError(b, yaml.Unmarshal(raw, &c))
			opts := testOptions()
			b.ReportAllocs()
			for b.Loop() {
				out, _, err := Mutate(c.Pod, opts)
				if err != nil || out == c.Pod {
					b.Fatalf("not mutated: %v", err)
				}
			}
		})
	}
}
