package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strings"

	"github.com/hotreload/hotreload/internal/cli"
	"github.com/hotreload/hotreload/pkg/reload"
)

const linkSynopsis = "--copy D=DIR ... --link FILE=TARGET ... [--max-copy-bytes N]"

const linkDescription = `Runs in the app's image, as the app's user. Copies each image directory D into
the emptyDir mounted at DIR (regular files with their modes, symlinks as
symlinks, nested directories; what DIR held is removed first, so a run again
gives the same copy), then makes each subPath FILE (a path under one of the D)
a symlink to TARGET in the live copy. The emptyDir is then mounted at
D in the app container, so the app sees the image's files and the live config.`

const defaultMaxCopyBytes = 64 << 20

// linkOptions is the parsed command line of link.
type linkOptions struct {
	Copies       []reload.Copy
	Links        []reload.Link
	MaxCopyBytes int64
}

func parseLink(fs *flag.FlagSet, args []string) (linkOptions, error) {
	var (
		o             linkOptions
		copies, links listFlag
	)
	fs.Var(&copies, "copy", "`D=DIR`: copy image directory D into DIR (repeatable)")
	fs.Var(&links, "link", "`FILE=TARGET`: make FILE, under a copied D, a symlink to TARGET (repeatable)")
	fs.Int64Var(&o.MaxCopyBytes, "max-copy-bytes", defaultMaxCopyBytes, "fail when a directory to copy holds more than `N` bytes")
	if err := cli.Parse(fs, args, linkSynopsis, linkDescription); err != nil {
		return o, err
	}
	cs, err := pairs(copies, "--copy")
	if err != nil {
		return o, err
	}
	ls, err := pairs(links, "--link")
	if err != nil {
		return o, err
	}
	for _, p := range cs {
		o.Copies = append(o.Copies, reload.Copy{From: p[0], To: p[1]})
	}
	for _, p := range ls {
		o.Links = append(o.Links, reload.Link{File: p[0], Target: p[1]})
	}
	return o, nil
}

func linkCommand(_ context.Context, fs *flag.FlagSet, args []string) error {
	o, err := parseLink(fs, args)
	if err != nil {
		return err
	}
	return link(o)
}

func link(o linkOptions) error {
	for _, c := range o.Copies {
		if err := reload.CopyDir(c.From, c.To, o.MaxCopyBytes); err != nil {
			return err
		}
		slog.Info("copied image directory", "from", c.From, "to", c.To)
	}
	for _, l := range o.Links {
		if err := reload.LinkFile(o.Copies, l); err != nil {
			return err
		}
		slog.Info("linked subPath file to the live copy", "file", l.File, "target", l.Target)
	}
	return nil
}

var errPair = errors.New("want KEY=VALUE")

func pairs(values []string, flagName string) ([][2]string, error) {
	var out [][2]string
	for _, v := range values {
		k, val, ok := strings.Cut(v, "=")
		if !ok || k == "" || val == "" {
			return nil, fmt.Errorf("%s %q: %w", flagName, v, errPair)
		}
		out = append(out, [2]string{k, val})
	}
	return out, nil
}
