// Command imagebuild builds container images from static binaries, or from
// root filesystem directories, without a registry or a Docker engine, for the
// local cluster (make images-local).
//
// Each image is a minimal base layer (/etc/passwd and /etc/group with root,
// nonroot 65532 and nobody 65534, and a /tmp), then one layer per rootfs
// directory, then one with the binary when there is one. Every image is
// written as a docker-archive tarball, the format `ctr images import` reads:
//
//	imagebuild --out bin/cluster/images \
//	  --image 'hotreload/webhook:dev=bin/webhook,cmd=serve,user=65532' \
//	  --image 'hotreload/nginx:dev=rootfs=bin/cluster/nginx/rootfs,path=/usr/sbin/nginx,user=33'
//
// An --image value is REF=BINARY or REF=rootfs=DIR, then comma-separated
// options:
//
//   - path=/in/image: the entrypoint; with a binary, also where it goes (default
//     /<binary's name>); without one, required, and a file of a rootfs.
//   - rootfs=DIR (repeatable): a layer with DIR's tree as the image's /, owned
//     by root, modes and symlinks kept; its files replace the base layer's (an
//     /etc/passwd with more users, say).
//   - cmd=arg (repeatable): the image's default arguments.
//   - user=UID: the image's user and group (default 65532).
//
// Timestamps are fixed, so the same inputs give the same image digests.
package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

type imageSpec struct {
	ref    string
	binary string   // empty: the entrypoint comes from a rootfs
	rootfs []string // directories, one layer each
	path   string
	cmd    []string
	user   int
}

type imageFlags []imageSpec

func (f *imageFlags) String() string { return fmt.Sprint(len(*f), " images") }

func (f *imageFlags) Set(v string) error {
	ref, rest, ok := strings.Cut(v, "=")
	if !ok || ref == "" || rest == "" {
		return fmt.Errorf("want REF=BINARY or REF=rootfs=DIR, then [,path=/p][,rootfs=DIR][,cmd=arg][,user=UID], got %q", v)
	}
	parts := strings.Split(rest, ",")
	s := imageSpec{ref: ref, user: 65532}
	opts := parts
	if !strings.HasPrefix(parts[0], "rootfs=") {
		s.binary, opts = parts[0], parts[1:]
		s.path = "/" + filepath.Base(s.binary)
	}
	for _, p := range opts {
		k, val, _ := strings.Cut(p, "=")
		switch k {
		case "path":
			s.path = path.Clean("/" + val)
		case "rootfs":
			if val == "" {
				return fmt.Errorf("image %s: rootfs= needs a directory", ref)
			}
			s.rootfs = append(s.rootfs, val)
		case "cmd":
			s.cmd = append(s.cmd, val)
		case "user":
			uid, err := strconv.Atoi(val)
			if err != nil {
				return fmt.Errorf("image %s: user %q is not a UID", ref, val)
			}
			s.user = uid
		default:
			return fmt.Errorf("image %s: unknown option %q (want path, rootfs, cmd or user)", ref, k)
		}
	}
	if s.binary == "" && (s.path == "" || s.path == "/") {
		return fmt.Errorf("image %s: without a binary, path=/entrypoint names a file of the rootfs", ref)
	}
	*f = append(*f, s)
	return nil
}

// epoch is every file's and the image's creation time: reproducible digests.
var epoch = time.Unix(0, 0).UTC()

func main() {
	var images imageFlags
	out := flag.String("out", "", "directory for the tarballs (one per image, named after the image)")
	flag.Var(&images, "image", "REF=BINARY or REF=rootfs=DIR, then [,path=/in/image][,rootfs=DIR...][,cmd=arg...][,user=UID] (repeatable)")
	flag.Parse()
	if *out == "" || len(images) == 0 {
		fmt.Fprintln(os.Stderr, "usage: imagebuild --out DIR --image REF=BINARY[,options] --image REF=rootfs=DIR,path=/entrypoint[,options] ...")
		os.Exit(2)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "imagebuild:", err)
		os.Exit(1)
	}
	base, err := baseLayer()
	if err != nil {
		fmt.Fprintln(os.Stderr, "imagebuild: base layer:", err)
		os.Exit(1)
	}
	for _, s := range images {
		file, err := build(s, base, *out)
		if err != nil {
			fmt.Fprintf(os.Stderr, "imagebuild: %s: %v\n", s.ref, err)
			os.Exit(1)
		}
		fmt.Printf("imagebuild: %s -> %s\n", s.ref, file)
	}
}

func build(s imageSpec, base v1.Layer, out string) (string, error) {
	ref, err := name.NewTag(s.ref)
	if err != nil {
		return "", fmt.Errorf("image name: %w", err)
	}
	layers := []v1.Layer{base}
	for _, dir := range s.rootfs {
		l, err := dirLayer(dir)
		if err != nil {
			return "", fmt.Errorf("rootfs %s: %w", dir, err)
		}
		layers = append(layers, l)
	}
	if s.binary != "" {
		bin, err := os.ReadFile(s.binary)
		if err != nil {
			return "", fmt.Errorf("read the binary (build it first): %w", err)
		}
		app, err := layer([]entry{{name: s.path, mode: 0o755, body: bin}})
		if err != nil {
			return "", err
		}
		layers = append(layers, app)
	} else if !inRootfs(s.rootfs, s.path) {
		return "", fmt.Errorf("entrypoint %s is in no rootfs (%s)", s.path, strings.Join(s.rootfs, ", "))
	}
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		return "", err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return "", err
	}
	cf = cf.DeepCopy()
	cf.Architecture = "amd64"
	cf.OS = "linux"
	cf.Created = v1.Time{Time: epoch}
	cf.Config.Entrypoint = []string{s.path}
	cf.Config.Cmd = s.cmd
	cf.Config.User = fmt.Sprintf("%d:%d", s.user, s.user)
	cf.Config.WorkingDir = "/"
	cf.Config.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin"}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return "", err
	}
	file := filepath.Join(out, strings.NewReplacer("/", "_", ":", "_").Replace(s.ref)+".tar")
	if err := tarball.WriteToFile(file, ref, img); err != nil {
		return "", fmt.Errorf("write %s: %w", file, err)
	}
	return file, nil
}

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
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	})
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
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	})
}
