package kubeletdir_test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hotreload/hotreload/internal/kubeletdir"
)

// layout lists dir's entries: symlinks as "name -> target", directories with a
// trailing slash, files as "name mode content".
func layout(t *testing.T, dir string) map[string]string {
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		full := filepath.Join(dir, e.Name())
		fi, err := os.Lstat(full)
		require.NoError(t, err)
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(full)
			require.NoError(t, err)
			out[e.Name()] = "-> " + target
		case fi.IsDir():
			out[e.Name()+"/"] = ""
		}
	}
	return out
}

func TestWriteLaysOutAVolumeAsTheKubeletDoes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "vol")
	require.NoError(t, kubeletdir.Write(dir, map[string]kubeletdir.File{
		"app.conf":       {Data: []byte("a=1"), Mode: 0o600},
		"conf.d/x.conf":  {Data: []byte("x"), Mode: 0o644},
		"conf.d/y/z.txt": {Data: []byte("z"), Mode: 0o755},
	}))
	first, err := os.Readlink(filepath.Join(dir, "..data"))
	require.NoError(t, err)
	assert.Regexp(t, regexp.MustCompile(`^\.\.\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d\.\d+$`), first)
	assert.Equal(t, map[string]string{
		"..data": "-> " + first, first + "/": "", "app.conf": "-> ..data/app.conf", "conf.d": "-> ..data/conf.d",
	}, layout(t, dir))
	fi, err := os.Stat(filepath.Join(dir, "app.conf"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	b, err := os.ReadFile(filepath.Join(dir, "conf.d/y/z.txt"))
	require.NoError(t, err)
	assert.Equal(t, "z", string(b))

	// An update swaps ..data, adds the new top-level entry, drops the gone one
	// and removes the old version.
	require.NoError(t, kubeletdir.Write(dir, map[string]kubeletdir.File{
		"app.conf": {Data: []byte("a=2"), Mode: 0o600},
		"new.conf": {Data: []byte("n"), Mode: 0o644},
	}))
	second, err := os.Readlink(filepath.Join(dir, "..data"))
	require.NoError(t, err)
	assert.NotEqual(t, first, second)
	assert.Equal(t, map[string]string{
		"..data": "-> " + second, second + "/": "", "app.conf": "-> ..data/app.conf", "new.conf": "-> ..data/new.conf",
	}, layout(t, dir))

	// The same payload again writes nothing.
	require.NoError(t, kubeletdir.Write(dir, map[string]kubeletdir.File{
		"app.conf": {Data: []byte("a=2"), Mode: 0o600},
		"new.conf": {Data: []byte("n"), Mode: 0o644},
	}))
	third, err := os.Readlink(filepath.Join(dir, "..data"))
	require.NoError(t, err)
	assert.Equal(t, second, third)
}

func TestWriteRefusesInvalidPaths(t *testing.T) {
	for _, p := range []string{"", "/abs", "..x", "a/../../b"} {
		err := kubeletdir.Write(t.TempDir(), map[string]kubeletdir.File{p: {Data: []byte("x"), Mode: 0o644}})
		assert.Error(t, err, "path %q", p)
	}
}
