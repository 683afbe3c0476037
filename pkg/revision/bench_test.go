package revision_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hotreload/hotreload/internal/kubeletdir"
	"github.com/hotreload/hotreload/pkg/revision"
)

// BenchmarkRevisionFromDir hashes a kubelet-style volume of 20 files of 4 KiB.
func BenchmarkRevisionFromDir(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "config")
	payload := map[string]kubeletdir.File{}
	for i := range 20 {
		data := make([]byte, 4096)
		data[0] = byte(i)
		payload[fmt.Sprintf("conf.d/file-%02d.conf", i)] = kubeletdir.File{Data: data, Mode: 0o644}
	}
	require.NoError(b, kubeletdir.Write(dir, payload))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := revision.ForDir(dir); err != nil {
			b.Fatal(err)
		}
	}
}
