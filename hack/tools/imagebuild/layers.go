package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// entry is one file or directory of a layer built from memory.
type entry struct {
	name string
	mode int64
	uid  int // owner (and group); root when 0
	dir  bool
	body []byte
}

// baseLayer is what a distroless static base gives a static binary: users and
// groups (so a UID has a name) and a world-writable /tmp.
func baseLayer() (v1.Layer, error) {
	passwd := "root:x:0:0:root:/root:/sbin/nologin\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n" +
		"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	group := "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n"
	return layer([]entry{
		{name: "/etc", mode: 0o755, dir: true},
		{name: "/etc/passwd", mode: 0o644, body: []byte(passwd)},
		{name: "/etc/group", mode: 0o644, body: []byte(group)},
		{name: "/tmp", mode: 0o1777, dir: true},
		// Owned by nonroot as in distroless: clients look for $HOME/.kube/config,
		// and a home they cannot enter is an error, not an absent file.
		{name: "/home/nonroot", mode: 0o700, uid: 65532, dir: true},
	})
}

// inRootfs reports whether p (a path in the image) is in one of dirs.
func inRootfs(dirs []string, p string) bool {
	for _, dir := range dirs {
		if _, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(p))); err == nil {
			return true
		}
	}
	return false
}

// dirLayer is a layer with the tree under dir as the image's root: directories,
// regular files (a hard link becomes a copy) and symlinks (their targets as
// they are), in lexical order, owned by root, with their permission bits
// (setuid, setgid and sticky included) and the fixed timestamp.
func dirLayer(dir string) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	n := 0
	err := filepath.WalkDir(dir, func(file string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, file)
		if err != nil || rel == "." {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		h := &tar.Header{Name: filepath.ToSlash(rel), Mode: tarMode(fi.Mode()), ModTime: epoch}
		var body []byte
		switch m := fi.Mode(); {
		case m.IsDir():
			h.Typeflag, h.Name = tar.TypeDir, h.Name+"/"
		case m&fs.ModeSymlink != 0:
			if h.Linkname, err = os.Readlink(file); err != nil {
				return err
			}
			h.Typeflag = tar.TypeSymlink
		case m.IsRegular():
			if body, err = os.ReadFile(file); err != nil {
				return err
			}
			h.Typeflag, h.Size = tar.TypeReg, int64(len(body))
		default:
			return fmt.Errorf("%s: %v is neither a directory, a regular file nor a symlink", file, m.Type())
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		n++
		_, err = tw.Write(body)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, errors.New("empty directory")
	}
	return tarLayer(buf.Bytes())
}

// tarMode is m's permission bits with setuid, setgid and sticky as tar has them.
func tarMode(m fs.FileMode) int64 {
	mode := int64(m.Perm())
	if m&fs.ModeSetuid != 0 {
		mode |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	return mode
}

// layer is a layer with entries, each preceded by its parent directories (mode
// 0755, owned by root) unless an entry named them before.
func layer(entries []entry) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	seen := map[string]bool{}
	for _, e := range entries {
		// Parent directories first, as a tar from a real filesystem has them.
		dir := path.Dir(e.name)
		var parents []string
		for dir != "/" && !seen[dir] {
			parents = append([]string{dir}, parents...)
			dir = path.Dir(dir)
		}
		for _, p := range parents {
			seen[p] = true
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: p[1:] + "/", Mode: 0o755, ModTime: epoch}); err != nil {
				return nil, err
			}
		}
		h := &tar.Header{Name: e.name[1:], Mode: e.mode, Uid: e.uid, Gid: e.uid, ModTime: epoch}
		if e.dir {
			if seen[e.name] {
				continue
			}
			seen[e.name] = true
			h.Typeflag, h.Name = tar.TypeDir, h.Name+"/"
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return tarLayer(buf.Bytes())
}

// tarLayer is the layer of an uncompressed tar, gzipped when read, of the OCI
// layer media type.
func tarLayer(data []byte) (v1.Layer, error) {
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(types.OCILayer))
}
