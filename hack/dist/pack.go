package main

import (
	"archive/tar"
	"archive/zip"
	"compress/flate"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"time"
)

// pluginBin is the plugin's binary: kubectl finds kubectl-hotreload on the PATH
// as `kubectl hotreload`.
const pluginBin = "kubectl-hotreload"

// platform is one OS and architecture the plugin is released for.
type platform struct{ os, arch string }

// parsePlatform parses OS/ARCH, as GOOS/GOARCH spell them.
func parsePlatform(s string) (platform, error) {
	goos, goarch, ok := strings.Cut(s, "/")
	if !ok || !platformRE.MatchString(goos) || !platformRE.MatchString(goarch) {
		return platform{}, fmt.Errorf("platform %q is not OS/ARCH, e.g. linux/amd64", s)
	}
	return platform{goos, goarch}, nil
}

var platformRE = regexp.MustCompile(`^[a-z0-9]+$`)

func (p platform) String() string { return p.os + "/" + p.arch }

// bin is the binary's name on p: Windows runs only .exe files.
func (p platform) bin() string {
	if p.os == "windows" {
		return pluginBin + ".exe"
	}
	return pluginBin
}

// zipped reports whether p's archive is a zip file (Windows', which its users
// open without tools) rather than a gzipped tarball, which keeps the binary's
// mode.
func (p platform) zipped() bool { return p.os == "windows" }

// archiveName is the file name of the archive of version for p.
func archiveName(version string, p platform) string {
	ext := ".tar.gz"
	if p.zipped() {
		ext = ".zip"
	}
	return fmt.Sprintf("%s_%s_%s_%s%s", pluginBin, version, p.os, p.arch, ext)
}

// entry is one file of an archive.
type entry struct {
	name string
	mode fs.FileMode
	data []byte
}

// pack writes the archive of entries for p to w: a zip file or a gzipped
// tarball, its entries sorted by name, each owned by uid and gid 0 and
// modified at mtime, so that the same entries give the same bytes.
func pack(w io.Writer, p platform, entries []entry, mtime time.Time) error {
	entries = slices.SortedFunc(slices.Values(entries), func(a, b entry) int { return strings.Compare(a.name, b.name) })
	mtime = mtime.UTC().Truncate(time.Second)
	if p.zipped() {
		return writeZip(w, entries, mtime)
	}
	return writeTarGz(w, entries, mtime)
}

func writeTarGz(w io.Writer, entries []entry, mtime time.Time) error {
	// No name nor time in the gzip header: both would vary with the machine.
	gz, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		hdr := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     e.name,
			Mode:     int64(e.mode.Perm()),
			Size:     int64(len(e.data)),
			ModTime:  mtime,
			Format:   tar.FormatUSTAR,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("tar %s: %w", e.name, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return fmt.Errorf("tar %s: %w", e.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

func writeZip(w io.Writer, entries []entry, mtime time.Time) error {
	zw := zip.NewWriter(w)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(w, flate.BestCompression)
	})
	for _, e := range entries {
		hdr := &zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: mtime}
		hdr.SetMode(e.mode.Perm())
		f, err := zw.CreateHeader(hdr)
		if err != nil {
			return fmt.Errorf("zip %s: %w", e.name, err)
		}
		if _, err := f.Write(e.data); err != nil {
			return fmt.Errorf("zip %s: %w", e.name, err)
		}
	}
	return zw.Close()
}
