package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/hotreload/hotreload/internal/cli"
	"github.com/hotreload/hotreload/pkg/reload"
)

const installSynopsis = "--to DIR [--src-dir DIR --live-dir DIR --volume V ...]"

const installDescription = `Copies this binary to DIR/reloader (atomically, mode 0755) for the link step,
then writes the first live copy of each volume from its mounted source, so the
app starts on complete config even where the sidecar is a plain container. An
existing live copy is repaired and kept. A volume whose source is not mounted
fails the step at once.`

// installOptions is the parsed command line of install.
type installOptions struct {
	To      string
	Timeout time.Duration
	volumeOptions
}

func parseInstall(fs *flag.FlagSet, args []string) (installOptions, error) {
	o := installOptions{}
	fs.StringVar(&o.To, "to", "", "`DIR` to copy the reloader binary into (required)")
	fs.DurationVar(&o.Timeout, "timeout", time.Minute, "how long to wait for readable sources")
	o.register(fs)
	if err := cli.Parse(fs, args, installSynopsis, installDescription); err != nil {
		return o, err
	}
	if o.To == "" {
		fs.Usage()
		return o, errors.New("--to is required")
	}
	return o, nil
}

func installCommand(ctx context.Context, fs *flag.FlagSet, args []string) error {
	o, err := parseInstall(fs, args)
	if err != nil {
		return err
	}
	return install(ctx, o)
}

func install(ctx context.Context, o installOptions) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("install: %w", err)
	}
	dst, err := reload.InstallBinary(self, o.To)
	if err != nil {
		return err
	}
	slog.Info("installed the reloader binary", "path", dst)
	if len(o.Volumes) == 0 {
		return nil
	}
	live := &reload.Live{SrcRoot: o.SrcDir, LiveRoot: o.LiveDir, Volumes: o.Volumes}
	if err := live.FirstCopy(ctx, o.Timeout); err != nil {
		return err
	}
	slog.Info("live copy ready", "volumes", o.Volumes)
	return nil
}
