package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// options are the command line's.
type options struct {
	version   string
	binaries  string // DIR/OS_ARCH/kubectl-hotreload[.exe]
	out       string // where the archives and plugins/hotreload.yaml go
	url       string // where the archives are downloaded from: URL/NAME
	platforms []platform
	files     []string  // put in every archive beside the binary
	mtime     time.Time // every entry's
}

func main() {
	var o options
	var platforms, files string
	var mtime int64
	flag.StringVar(&o.version, "version", "", "the plugin's version (make dist: VERSION), which names the archives")
	flag.StringVar(&o.binaries, "binaries", "", "the directory holding OS_ARCH/kubectl-hotreload[.exe] for each platform")
	flag.StringVar(&o.out, "out", "dist", "where the archives and plugins/hotreload.yaml go")
	flag.StringVar(&o.url, "url", "", "the URL the archives are downloaded from, as URL/NAME")
	flag.StringVar(&platforms, "platforms", "", "the platforms, OS/ARCH, separated by commas or spaces")
	flag.StringVar(&files, "files", "", "files put in every archive beside the binary, separated by commas or spaces")
	flag.Int64Var(&mtime, "mtime", 315532800, "every entry's modification time, in seconds since 1970 (the default is 1980-01-01, the earliest a zip file holds)")
	flag.Parse()
	o.mtime = time.Unix(mtime, 0)
	o.files = strings.FieldsFunc(files, isSeparator)
	for _, s := range strings.FieldsFunc(platforms, isSeparator) {
		p, err := parsePlatform(s)
		if err != nil {
			fail(err)
		}
		o.platforms = append(o.platforms, p)
	}
	if err := run(o, os.Stdout); err != nil {
		fail(err)
	}
}

func isSeparator(r rune) bool { return r == ',' || r == ' ' }

func fail(err error) {
	fmt.Fprintf(os.Stderr, "dist: %v\n", err)
	os.Exit(1)
}

// run packs each platform's archive into o.out, writes the manifest naming
// them, and prints each archive's sha256 and name to w.
func run(o options, w io.Writer) error {
	switch {
	case o.version == "", o.binaries == "", o.url == "", len(o.platforms) == 0:
		return errors.New("-version, -binaries, -url and -platforms are required (make dist sets them)")
	case o.mtime.Before(time.Unix(315532800, 0)):
		return fmt.Errorf("-mtime %d is before 1980, which a zip file cannot hold", o.mtime.Unix())
	}
	if _, err := pluginVersion(o.version); err != nil {
		return err
	}
	var extra []entry
	for _, f := range o.files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		extra = append(extra, entry{name: filepath.Base(f), mode: 0o644, data: data})
	}
	var archives []archive
	for _, p := range o.platforms {
		a, err := packPlatform(o, p, extra)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s  %s\n", a.sha256, filepath.Join(o.out, a.name))
		archives = append(archives, a)
	}
	m, err := manifest(o.version, o.url, archives)
	if err != nil {
		return err
	}
	path := filepath.Join(o.out, manifestPath)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(path, m, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(w, "krew manifest: %s\n", path)
	return nil
}

// packPlatform packs p's binary and the extra files into its archive in o.out.
func packPlatform(o options, p platform, extra []entry) (archive, error) {
	bin := filepath.Join(o.binaries, p.os+"_"+p.arch, p.bin())
	data, err := os.ReadFile(bin)
	if err != nil {
		return archive{}, fmt.Errorf("the binary for %s: %w (make dist cross-compiles it)", p, err)
	}
	entries := append([]entry{{name: p.bin(), mode: 0o755, data: data}}, extra...)
	a := archive{platform: p, name: archiveName(o.version, p)}
	for _, e := range entries {
		a.files = append(a.files, e.name)
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return archive{}, err
	}
	f, err := os.Create(filepath.Join(o.out, a.name))
	if err != nil {
		return archive{}, err
	}
	h := sha256.New()
	err = pack(io.MultiWriter(f, h), p, entries, o.mtime)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return archive{}, fmt.Errorf("%s: %w", a.name, err)
	}
	a.sha256 = hex.EncodeToString(h.Sum(nil))
	return a, nil
}
