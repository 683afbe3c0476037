package main

import (
	"context"
	"flag"
	"log/slog"

	"github.com/hotreload/hotreload/internal/cli"
	"github.com/hotreload/hotreload/pkg/contract"
	"github.com/hotreload/hotreload/pkg/reload"
)

const linkSynopsis = "--copy D=DIR ... --link FILE=TARGET ... [--max-copy-bytes N]"

const linkDescription = `Runs in the app's image, as the app's user. Copies each image directory D into
the emptyDir mounted at DIR (regular files with their modes, symlinks as
symlinks, nested directories; what DIR held is removed first, so a run again
gives the same copy), then makes each subPath FILE (a path under one of the D)
a symlink to TARGET in the live copy. The emptyDir is then mounted at
D in the app container, so the app sees the image's files and the live config.`

func parseLink(fs *flag.FlagSet, args []string) (contract.Link, error) {
	f := contract.NewLinkFlags(fs)
	if err := contract.CheckVersion(args); err != nil {
		return contract.Link{}, err
	}
	if err := cli.Parse(fs, args, linkSynopsis, linkDescription); err != nil {
		return contract.Link{}, err
	}
	return f.Link()
}

func linkCommand(_ context.Context, fs *flag.FlagSet, args []string) error {
	l, err := parseLink(fs, args)
	if err != nil {
		return err
	}
	return link(l)
}

func link(l contract.Link) error {
	for _, c := range l.Copies {
		if err := reload.CopyDir(c.From, c.To, l.MaxCopyBytes); err != nil {
			return err
		}
		slog.Info("copied image directory", "from", c.From, "to", c.To)
	}
	for _, f := range l.Links {
		if err := reload.LinkFile(l.Copies, f); err != nil {
			return err
		}
		slog.Info("linked subPath file to the live copy", "file", f.File, "target", f.Target)
	}
	return nil
}
