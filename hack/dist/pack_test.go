package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var mtime = time.Date(2026, 12, 7, 10, 30, 0, 0, time.UTC)

// file is an archive's entry as a test reads it back.
type file struct {
	Name     string
	Mode     fs.FileMode
	UID, GID int
	ModTime  time.Time
	Data     string
}

func readTarGz(t *testing.T, b []byte) []file {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(b))
	require.NoError(t, err)
	assert.Equal(t, gzip.Header{OS: 255}, gz.Header, "the gzip header names no file and no time")
	tr := tar.NewReader(gz)
	var files []file
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return files
		}
		require.NoError(t, err)
		assert.Equal(t, byte(tar.TypeReg), hdr.Typeflag)
		assert.Empty(t, hdr.Uname+hdr.Gname)
		data, err := io.ReadAll(tr)
		require.NoError(t, err)
		files = append(files, file{hdr.Name, hdr.FileInfo().Mode(), hdr.Uid, hdr.Gid, hdr.ModTime.UTC(), string(data)})
	}
}

func readZip(t *testing.T, b []byte) []file {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err)
	var files []file
	for _, f := range zr.File {
		assert.Equal(t, zip.Deflate, f.Method)
		rc, err := f.Open()
		require.NoError(t, err)
		data, err := io.ReadAll(rc)
		require.NoError(t, err)
		require.NoError(t, rc.Close())
		files = append(files, file{f.Name, f.Mode(), 0, 0, f.Modified.UTC(), string(data)})
	}
	return files
}

func TestPackWritesTheSameBytesForTheSameEntries(t *testing.T) {
	readme := entry{name: "README.md", mode: 0o644, data: []byte("# hotreload\n")}
	tests := []struct {
		name     string
		platform platform
		bin      entry
		read     func(*testing.T, []byte) []file
	}{
		{"packs a gzipped tarball whose binary keeps its mode", platform{"linux", "amd64"},
			entry{name: "kubectl-hotreload", mode: 0o755, data: []byte("\x7fELF binary")}, readTarGz},
		{"packs a zip file for windows", platform{"windows", "arm64"},
			entry{name: "kubectl-hotreload.exe", mode: 0o755, data: []byte("MZ binary")}, readZip},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var first, second bytes.Buffer
			require.NoError(t, pack(&first, tt.platform, []entry{tt.bin, readme}, mtime))
			// The other order, and the same time in another zone and with nanoseconds.
			require.NoError(t, pack(&second, tt.platform, []entry{readme, tt.bin}, mtime.Add(time.Millisecond).In(time.FixedZone("CET", 3600))))
			assert.Equal(t, first.Bytes(), second.Bytes())

			assert.Equal(t, []file{
				{Name: "README.md", Mode: 0o644, ModTime: mtime, Data: "# hotreload\n"},
				{Name: tt.bin.name, Mode: 0o755, ModTime: mtime, Data: string(tt.bin.data)},
			}, tt.read(t, first.Bytes()))
		})
	}
}

// writeBinaries writes a fake binary for each platform under dir, as make dist
// cross-compiles them.
func writeBinaries(t *testing.T, dir string, platforms []platform) {
	t.Helper()
	for _, p := range platforms {
		d := filepath.Join(dir, p.os+"_"+p.arch)
		require.NoError(t, os.MkdirAll(d, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(d, p.bin()), []byte("binary for "+p.String()), 0o755))
	}
}

func TestRunPacksEachPlatformAndWritesTheManifestTwiceAlike(t *testing.T) {
	dir := t.TempDir()
	platforms := []platform{{"linux", "amd64"}, {"windows", "amd64"}}
	writeBinaries(t, filepath.Join(dir, "bin"), platforms)
	readme := filepath.Join(dir, "README.md")
	require.NoError(t, os.WriteFile(readme, []byte("# hotreload\n"), 0o600))
	o := options{
		version: "v0.3.0", binaries: filepath.Join(dir, "bin"), url: "https://example.com/v0.3.0",
		platforms: platforms, files: []string{readme}, mtime: mtime,
	}

	// readOut reads every file run wrote into out.
	readOut := func(out string) map[string]string {
		files := map[string]string{}
		require.NoError(t, filepath.WalkDir(out, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			rel, _ := filepath.Rel(out, path)
			files[rel] = string(b)
			return err
		}))
		return files
	}
	var outputs []string
	var written []map[string]string
	for _, out := range []string{"first", "second"} {
		o.out = filepath.Join(dir, out)
		var stdout bytes.Buffer
		require.NoError(t, run(o, &stdout))
		outputs = append(outputs, strings.ReplaceAll(stdout.String(), o.out, "OUT"))
		written = append(written, readOut(o.out))
	}
	assert.Equal(t, written[0], written[1], "a second run writes the same bytes")
	assert.Equal(t, outputs[0], outputs[1])

	files := written[0]
	require.ElementsMatch(t, []string{
		"kubectl-hotreload_v0.3.0_linux_amd64.tar.gz", "kubectl-hotreload_v0.3.0_windows_amd64.zip", "plugins/hotreload.yaml",
	}, keys(files))
	assert.Equal(t, []file{
		{Name: "README.md", Mode: 0o644, ModTime: mtime, Data: "# hotreload\n"},
		{Name: "kubectl-hotreload", Mode: 0o755, ModTime: mtime, Data: "binary for linux/amd64"},
	}, readTarGz(t, []byte(files["kubectl-hotreload_v0.3.0_linux_amd64.tar.gz"])))
	assert.Equal(t, []file{
		{Name: "README.md", Mode: 0o644, ModTime: mtime, Data: "# hotreload\n"},
		{Name: "kubectl-hotreload.exe", Mode: 0o755, ModTime: mtime, Data: "binary for windows/amd64"},
	}, readZip(t, []byte(files["kubectl-hotreload_v0.3.0_windows_amd64.zip"])))

	// The manifest names each archive by its sha256, as run prints it.
	linuxSum, windowsSum := sha256Hex(files["kubectl-hotreload_v0.3.0_linux_amd64.tar.gz"]), sha256Hex(files["kubectl-hotreload_v0.3.0_windows_amd64.zip"])
	assert.Equal(t, linuxSum+"  OUT/kubectl-hotreload_v0.3.0_linux_amd64.tar.gz\n"+
		windowsSum+"  OUT/kubectl-hotreload_v0.3.0_windows_amd64.zip\n"+
		"krew manifest: OUT/plugins/hotreload.yaml\n", outputs[0])
	want, err := manifest("v0.3.0", "https://example.com/v0.3.0", []archive{
		{platform: platforms[0], name: "kubectl-hotreload_v0.3.0_linux_amd64.tar.gz", sha256: linuxSum, files: []string{"kubectl-hotreload", "README.md"}},
		{platform: platforms[1], name: "kubectl-hotreload_v0.3.0_windows_amd64.zip", sha256: windowsSum, files: []string{"kubectl-hotreload.exe", "README.md"}},
	})
	require.NoError(t, err)
	assert.Equal(t, string(want), files["plugins/hotreload.yaml"])
}

func TestRunRefusesWhatItCannotPack(t *testing.T) {
	dir := t.TempDir()
	writeBinaries(t, dir, []platform{{"linux", "amd64"}})
	valid := options{version: "v0.3.0", binaries: dir, out: filepath.Join(dir, "out"), url: "https://example.com",
		platforms: []platform{{"linux", "amd64"}}, mtime: mtime}
	tests := []struct {
		name   string
		change func(*options)
		err    string
	}{
		{"refuses a missing flag", func(o *options) { o.url = "" }, "-version, -binaries, -url and -platforms are required (make dist sets them)"},
		{"refuses a time a zip file cannot hold", func(o *options) { o.mtime = time.Unix(0, 0) }, "-mtime 0 is before 1980, which a zip file cannot hold"},
		{"refuses a version that cannot name a file", func(o *options) { o.version = "v1/x" }, `VERSION "v1/x" is not a version: it may hold only letters, digits, '.', '_', '+' and '-', and names the archives (e.g. VERSION=v0.3.0)`},
		{"says how to build a missing binary", func(o *options) { o.platforms = append(o.platforms, platform{"darwin", "arm64"}) },
			"the binary for darwin/arm64: open " + filepath.Join(dir, "darwin_arm64", "kubectl-hotreload") + ": no such file or directory (make dist cross-compiles it)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := valid
			tt.change(&o)
			assert.EqualError(t, run(o, io.Discard), tt.err)
		})
	}
}

func TestParsePlatform(t *testing.T) {
	p, err := parsePlatform("darwin/arm64")
	require.NoError(t, err)
	assert.Equal(t, platform{"darwin", "arm64"}, p)
	for _, s := range []string{"linux", "linux/", "/amd64", "linux/amd64/v8", "Linux/amd64"} {
		_, err := parsePlatform(s)
		assert.EqualError(t, err, `platform "`+s+`" is not OS/ARCH, e.g. linux/amd64`)
	}
}

func keys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
