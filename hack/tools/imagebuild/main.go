// Command imagebuild builds container images from static binaries without a
// registry or a Docker engine, for the local cluster (make images-local).
//
// Each image is a minimal base layer (/etc/passwd and /etc/group with root,
// nonroot 65532 and nobody 65534, and a /tmp) and one layer with the binary.
// Every image is written as a docker-archive tarball, the format
// `ctr images import` reads:
//
//	imagebuild --out bin/cluster/images \
//	  --image 'hotreload/webhook:dev=bin/webhook,cmd=serve,user=65532'
//
// An --image value is REF=BINARY followed by comma-separated options:
// path=/in/image (default /<binary's name>, also the entrypoint),
// cmd=arg (repeatable: the image's default arguments), user=UID (default 65532).
// Timestamps are fixed, so the same binaries give the same image digests.
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
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
	binary string
	path   string
	cmd    []string
	user   int
}

type imageFlags []imageSpec

func (f *imageFlags) String() string { return fmt.Sprint(len(*f), " images") }

func (f *imageFlags) Set(v string) error {
	ref, rest, ok := strings.Cut(v, "=")
	if !ok || ref == "" || rest == "" {
		return fmt.Errorf("want REF=BINARY[,path=/p][,cmd=arg][,user=UID], got %q", v)
	}
	parts := strings.Split(rest, ",")
	s := imageSpec{ref: ref, binary: parts[0], user: 65532}
	s.path = "/" + filepath.Base(s.binary)
	for _, p := range parts[1:] {
		k, val, _ := strings.Cut(p, "=")
		switch k {
		case "path":
			s.path = path.Clean("/" + val)
		case "cmd":
			s.cmd = append(s.cmd, val)
		case "user":
			uid, err := strconv.Atoi(val)
			if err != nil {
				return fmt.Errorf("image %s: user %q is not a UID", ref, val)
			}
			s.user = uid
		default:
			return fmt.Errorf("image %s: unknown option %q (want path, cmd or user)", ref, k)
		}
	}
	*f = append(*f, s)
	return nil
}

// epoch is every file's and the image's creation time: reproducible digests.
var epoch = time.Unix(0, 0).UTC()

func main() {
	var images imageFlags
	out := flag.String("out", "", "directory for the tarballs (one per image, named after the image)")
	flag.Var(&images, "image", "REF=BINARY[,path=/in/image][,cmd=arg...][,user=UID] (repeatable)")
	flag.Parse()
	if *out == "" || len(images) == 0 {
		fmt.Fprintln(os.Stderr, "usage: imagebuild --out DIR --image REF=BINARY[,options] ...")
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
	bin, err := os.ReadFile(s.binary)
	if err != nil {
		return "", fmt.Errorf("read the binary (build it first): %w", err)
	}
	app, err := layer([]entry{{name: s.path, mode: 0o755, body: bin}})
	if err != nil {
		return "", err
	}
	img, err := mutate.AppendLayers(empty.Image, base, app)
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
