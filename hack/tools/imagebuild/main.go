// Command imagebuild builds container images from static binaries, or from
// root filesystem directories, without a Docker engine: as docker-archive
// tarballs for the local cluster (make images-local), as multi-platform OCI
// image layouts (make images), or pushed to a registry (make push).
//
// Each image is a minimal base layer (/etc/passwd and /etc/group with root,
// nonroot 65532 and nobody 65534, and a /tmp), then one layer per rootfs
// directory, then one with the binary when there is one:
//
//	imagebuild --out bin/cluster/images \
//	  --image 'hotreload/webhook:dev=bin/webhook,cmd=serve,user=65532' \
//	  --image 'hotreload/nginx:dev=rootfs=bin/cluster/nginx/rootfs,path=/usr/sbin/nginx,user=33'
//
//	imagebuild --push --platforms linux/amd64,linux/arm64 --digests bin/images/digests \
//	  --label org.opencontainers.image.version=v0.3.0 \
//	  --image 'registry.example.com/hotreload/webhook:v0.3.0=bin/platforms/{os}_{arch}/webhook,cmd=serve'
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
//   - label=KEY=VALUE (repeatable): a label of this image, over --label's.
//
// {os} and {arch} in BINARY and DIR stand for each platform's: with more than
// one platform, every file an image takes must name its platform so.
//
// Outputs, one of:
//
//   - --out DIR (--format docker-archive, the default): one tarball per
//     image, named after it, the format `ctr images import` reads; one
//     platform only.
//   - --out DIR --format oci: per image, an OCI image layout DIR/<last element
//     of the repository> holding one image index (one image per platform).
//   - --push: the image index pushed to REF, with the default keychain's
//     credentials (docker's config.json and credential helpers); plain HTTP for
//     a registry on loopback or a private network, or for any with --insecure.
//
// With --format oci and --push, each image's REF@DIGEST is printed on its own
// line, and written to the --digests file when there is one.
//
// The images carry the --label labels (the org.opencontainers.image ones,
// say) and org.opencontainers.image.created, the time of --created; the
// indexes carry them as annotations. Timestamps are fixed (every file's is
// 1970-01-01, the image's is --created's), so the same inputs give the same
// image digests.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// config is one run's outputs and what goes into every image.
type config struct {
	out       string // directory for tarballs or layouts; empty with push
	format    string // "docker-archive" or "oci"
	push      bool
	insecure  bool // plain HTTP to any registry
	digests   string
	platforms []v1.Platform
	created   time.Time
	labels    map[string]string
	images    []imageSpec
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "imagebuild:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "imagebuild:", err)
		os.Exit(1)
	}
}

// parseFlags reads the command line into a config and checks that its
// options go together.
func parseFlags(args []string) (config, error) {
	cfg := config{labels: map[string]string{}}
	var images imageFlags
	fs := flag.NewFlagSet("imagebuild", flag.ContinueOnError)
	fs.StringVar(&cfg.out, "out", "", "directory for the tarballs or OCI layouts (one per image, named after the image)")
	fs.StringVar(&cfg.format, "format", "docker-archive", "what --out holds: docker-archive (tarballs) or oci (image layouts)")
	fs.BoolVar(&cfg.push, "push", false, "push each image index to its REF instead of writing it")
	fs.BoolVar(&cfg.insecure, "insecure", false, "with --push: plain HTTP to the registry (loopback and private addresses always get it)")
	fs.StringVar(&cfg.digests, "digests", "", "file to write each image's REF@DIGEST to, a line each (oci and push)")
	platforms := fs.String("platforms", "linux/"+runtime.GOARCH, "comma-separated OS/ARCH platforms to build each image for")
	created := fs.String("created", epoch.Format(time.RFC3339), "the images' creation time, RFC 3339 (the commit's, say)")
	fs.Var(labelFlags(cfg.labels), "label", "KEY=VALUE label of every image (repeatable)")
	fs.Var(&images, "image", "REF=BINARY or REF=rootfs=DIR, then [,path=/in/image][,rootfs=DIR...][,cmd=arg...][,user=UID][,label=KEY=VALUE...] (repeatable)")
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(os.Stderr)
		fs.PrintDefaults()
		return cfg, err
	}
	if err != nil {
		return cfg, err
	}
	cfg.images = images
	if cfg.platforms, err = parsePlatforms(*platforms); err != nil {
		return cfg, err
	}
	if cfg.created, err = time.Parse(time.RFC3339, *created); err != nil {
		return cfg, fmt.Errorf("--created: %w", err)
	}
	switch {
	case len(cfg.images) == 0:
		return cfg, errors.New("no --image (usage: imagebuild --out DIR [--format oci] | --push, then --image REF=BINARY[,options] for each image)")
	case cfg.push == (cfg.out != ""):
		return cfg, errors.New("give one of --out DIR and --push")
	case cfg.format != "docker-archive" && cfg.format != "oci":
		return cfg, fmt.Errorf("--format %q: want docker-archive or oci", cfg.format)
	case cfg.insecure && !cfg.push:
		return cfg, errors.New("--insecure goes with --push")
	case !cfg.push && cfg.format == "docker-archive" && len(cfg.platforms) > 1:
		return cfg, errors.New("a docker-archive holds one platform: use --format oci or --push for several")
	case !cfg.push && cfg.format == "docker-archive" && cfg.digests != "":
		return cfg, errors.New("--digests goes with --format oci or --push")
	}
	return cfg, nil
}

// run builds every image of cfg and writes or pushes it, telling what it did
// on log and each image's REF@DIGEST on out (oci and push).
func run(ctx context.Context, cfg config, out, log io.Writer) error {
	b, err := newBuilder(cfg.created, cfg.labels)
	if err != nil {
		return err
	}
	if cfg.out != "" {
		if err := os.MkdirAll(cfg.out, 0o755); err != nil {
			return err
		}
	}
	var opts []name.Option
	if cfg.insecure {
		opts = append(opts, name.Insecure)
	}
	var lines []string
	dirs := map[string]string{}
	for _, s := range cfg.images {
		ref, err := name.NewTag(s.ref, opts...)
		if err != nil {
			return fmt.Errorf("%s: image name: %w", s.ref, err)
		}
		if !cfg.push && cfg.format == "docker-archive" {
			img, err := b.image(s.forPlatform(cfg.platforms[0]), cfg.platforms[0])
			if err != nil {
				return fmt.Errorf("%s: %w", s.ref, err)
			}
			file := archiveFile(cfg.out, s.ref)
			if err := writeArchive(file, ref, img); err != nil {
				return fmt.Errorf("%s: %w", s.ref, err)
			}
			fmt.Fprintf(log, "imagebuild: %s -> %s\n", s.ref, file)
			continue
		}
		idx, err := b.index(s, cfg.platforms)
		if err != nil {
			return fmt.Errorf("%s: %w", s.ref, err)
		}
		digest, err := idx.Digest()
		if err != nil {
			return fmt.Errorf("%s: %w", s.ref, err)
		}
		if cfg.push {
			fmt.Fprintf(log, "imagebuild: pushing %s (%d platforms)\n", s.ref, len(cfg.platforms))
			if digest, err = push(ctx, ref, idx); err != nil {
				return err
			}
		} else {
			dir := layoutDir(cfg.out, ref)
			if other, ok := dirs[dir]; ok {
				return fmt.Errorf("%s and %s would share the layout %s: their repositories end alike", other, s.ref, dir)
			}
			dirs[dir] = s.ref
			if err := writeLayout(dir, ref, idx); err != nil {
				return fmt.Errorf("%s: %w", s.ref, err)
			}
			fmt.Fprintf(log, "imagebuild: %s (%d platforms) -> %s\n", s.ref, len(cfg.platforms), dir)
		}
		line := s.ref + "@" + digest.String()
		fmt.Fprintln(out, line)
		lines = append(lines, line)
	}
	if cfg.digests != "" {
		return writeDigests(cfg.digests, lines)
	}
	return nil
}
