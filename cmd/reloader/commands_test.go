package main

import (
	"bytes"
	"context"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hotreload/hotreload/internal/cli"
	"github.com/hotreload/hotreload/internal/kubeletdir"
	"github.com/hotreload/hotreload/pkg/reload"
	"github.com/hotreload/hotreload/pkg/revision"
)

// runCmd runs a reloader subcommand in-process and returns its exit code and
// error output.
func runCmd(name string, run func(context.Context, *flag.FlagSet, []string) error, args ...string) (int, string) {
	var stderr bytes.Buffer
	code := cli.Main(context.Background(), "reloader", "test", []cli.Command{{Name: name, Run: run}}, append([]string{name}, args...), &stderr)
	return code, stderr.String()
}

// tree describes dir: "path mode" for files and dirs, "path -> target" for
// symlinks, "path = content" appended for files.
func tree(t *testing.T, dir string) []string {
	var out []string
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		rel, _ := filepath.Rel(dir, p)
		fi, err := d.Info()
		require.NoError(t, err)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out = append(out, rel+" -> "+target)
		case d.IsDir():
			out = append(out, rel+"/ "+fi.Mode().Perm().String())
		default:
			b, _ := os.ReadFile(p)
			out = append(out, rel+" "+fi.Mode().Perm().String()+" = "+string(b))
		}
		return nil
	}))
	sort.Strings(out)
	return out
}

func TestInstallCopiesItselfAndWritesTheFirstLiveCopy(t *testing.T) {
	root := t.TempDir()
	bin, src, live := filepath.Join(root, "bin"), filepath.Join(root, "src"), filepath.Join(root, "live")
	require.NoError(t, os.Mkdir(bin, 0o777))
	require.NoError(t, kubeletdir.Write(filepath.Join(src, "config"), map[string]kubeletdir.File{
		"app.conf": {Data: []byte("a=1"), Mode: 0o644}, "conf.d/x.conf": {Data: []byte("x"), Mode: 0o600}}))
	require.NoError(t, kubeletdir.Write(filepath.Join(src, "tls"), map[string]kubeletdir.File{
		"tls.crt": {Data: []byte("CRT"), Mode: 0o644}}))

	code, stderr := runCmd("install", installCommand, "--to", bin, "--src-dir", src, "--live-dir", live, "--volume", "config", "--volume", "tls")
	require.Equal(t, 0, code, stderr)

	self, err := os.Executable()
	require.NoError(t, err)
	want, err := os.ReadFile(self)
	require.NoError(t, err)
	got, err := os.ReadFile(filepath.Join(bin, "reloader"))
	require.NoError(t, err)
	assert.True(t, bytes.Equal(want, got), "the binary is copied whole")
	fi, err := os.Stat(filepath.Join(bin, "reloader"))
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o755), fi.Mode().Perm())
	entries, err := os.ReadDir(bin)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file is left")

	srcRev, err := revision.ForDirs(src, []string{"config", "tls"})
	require.NoError(t, err)
	liveRev, err := revision.ForDirs(live, []string{"config", "tls"})
	require.NoError(t, err)
	assert.Equal(t, srcRev, liveRev)
	b, err := os.ReadFile(filepath.Join(live, "config", "conf.d", "x.conf"))
	require.NoError(t, err)
	assert.Equal(t, "x", string(b))

	// Run again (a restarted init container): the live copy is kept.
	before, err := os.Readlink(filepath.Join(live, "config", "..data"))
	require.NoError(t, err)
	code, stderr = runCmd("install", installCommand, "--to", bin, "--src-dir", src, "--live-dir", live, "--volume", "config,tls")
	require.Equal(t, 0, code, stderr)
	after, err := os.Readlink(filepath.Join(live, "config", "..data"))
	require.NoError(t, err)
	assert.Equal(t, before, after)
}

// TestInstallWithValidatorNeedsOne: a pod that asks for validation gets the
// validator binary from beside the reloader's, or its install step fails and
// says why (a reloader image without one), before a validator could crash.
func TestInstallWithValidatorNeedsOne(t *testing.T) {
	self, err := os.Executable()
	require.NoError(t, err)
	beside := filepath.Join(filepath.Dir(self), "validator")
	_, err = os.Stat(beside)
	require.ErrorIs(t, err, fs.ErrNotExist, "the test binary has no validator beside it")

	bin := t.TempDir()
	code, stderr := runCmd("install", installCommand, "--to", bin, "--validator")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "the pod asks for validation (hotreload/validate), and the reloader image has no validator: install: open "+beside+": no such file or directory")

	require.NoError(t, os.WriteFile(beside, []byte("#!validator"), 0o755))
	t.Cleanup(func() { os.Remove(beside) })
	code, stderr = runCmd("install", installCommand, "--to", bin, "--validator")
	require.Equal(t, 0, code, stderr)
	got, err := os.ReadFile(filepath.Join(bin, "validator"))
	require.NoError(t, err)
	assert.Equal(t, "#!validator", string(got))
}

func TestInstallNeedsTo(t *testing.T) {
	code, stderr := runCmd("install", installCommand)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "--to is required")
}

func TestLinkCopiesImageDirectoriesAndLinksSubPathFiles(t *testing.T) {
	root := t.TempDir()
	image := filepath.Join(root, "etc", "nginx")
	require.NoError(t, os.MkdirAll(filepath.Join(image, "conf.d"), 0o750))
	require.NoError(t, os.WriteFile(filepath.Join(image, "nginx.conf"), []byte("old"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(image, "mime.types"), []byte("types"), 0o640))
	require.NoError(t, os.WriteFile(filepath.Join(image, "conf.d", "default.conf"), []byte("default"), 0o600))
	require.NoError(t, os.Symlink("mime.types", filepath.Join(image, "types-link")))
	require.NoError(t, os.Chmod(filepath.Join(image, "conf.d"), 0o750))
	require.NoError(t, os.MkdirAll(filepath.Join(image, "snippets"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(image, "snippets", "ssl.conf"), []byte("ssl"), 0o444))
	require.NoError(t, os.Chmod(filepath.Join(image, "snippets"), 0o555)) // its copy's owner may not delete in it
	empty := filepath.Join(root, "link", "0")
	require.NoError(t, os.MkdirAll(empty, 0o777))
	t.Cleanup(func() { // so that the temporary directory can be removed by a non-root user
		_ = os.Chmod(filepath.Join(image, "snippets"), 0o755)
		_ = os.Chmod(filepath.Join(empty, "snippets"), 0o755)
	})

	want := []string{
		"./ -rwxr-x---", // the image directory's mode
		"conf.d/ -rwxr-x---",
		"conf.d/default.conf -rw------- = default",
		"conf.d/extra.conf -> /var/run/hotreload/live/config/extra.conf",
		"mime.types -rw-r----- = types",
		"nginx.conf -> /var/run/hotreload/live/config/nginx.conf",
		"snippets/ -r-xr-xr-x",
		"snippets/ssl.conf -r--r--r-- = ssl",
		"types-link -> mime.types",
	}
	args := []string{
		"--copy", image + "=" + empty,
		"--link", filepath.Join(image, "nginx.conf") + "=/var/run/hotreload/live/config/nginx.conf",
		"--link", filepath.Join(image, "conf.d", "extra.conf") + "=/var/run/hotreload/live/config/extra.conf",
	}
	code, stderr := runCmd("link", linkCommand, args...)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, want, tree(t, empty))

	// Run again (a restarted init container, its emptyDir as it left it): the
	// same copy, with what the image no longer has removed.
	require.NoError(t, os.WriteFile(filepath.Join(empty, "conf.d", "stale.conf"), []byte("stale"), 0o600))
	code, stderr = runCmd("link", linkCommand, args...)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, want, tree(t, empty))
}

func TestLinkFailsOverTheSizeLimitNamingTheDirectory(t *testing.T) {
	root := t.TempDir()
	image := filepath.Join(root, "usr", "share", "app")
	require.NoError(t, os.MkdirAll(image, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(image, "big"), make([]byte, 2048), 0o644))
	empty := t.TempDir()

	code, stderr := runCmd("link", linkCommand, "--max-copy-bytes", "1024", "--copy", image+"="+empty)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, image)
	assert.Contains(t, stderr, "2048 bytes")
	entries, err := os.ReadDir(empty)
	require.NoError(t, err)
	assert.Empty(t, entries, "nothing is copied")

	err = reload.CopyDir(image, empty, 1024)
	require.ErrorIs(t, err, reload.ErrTooLarge)
}

func TestLinkRefusesAFileOutsideTheCopiedDirectories(t *testing.T) {
	code, stderr := runCmd("link", linkCommand, "--copy", t.TempDir()+"="+t.TempDir(), "--link", "/etc/other/app.conf=/x")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "not inside a copied directory")
}
