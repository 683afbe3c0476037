package mutate

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hotreload/hotreload/pkg/mutate/mutatetest"
)

// BenchmarkMutate mutates realistic pods (target: at most 100 µs and 200
// allocations each). Mutate copies its input, so every iteration does the
// whole work.
func BenchmarkMutate(b *testing.B) {
	for _, name := range []string{"nginx-subpath-link", "prometheus-url", "statefulset-several-containers"} {
		b.Run(name, func(b *testing.B) {
			c, err := mutatetest.ReadCase(filepath.Join(mutatetest.Dir(), name+".yaml"))
			require.NoError(b, err)
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
