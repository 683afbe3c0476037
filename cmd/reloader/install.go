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
existing live copy is repaired and kept.`

func installCommand(ctx context.Context, fs *flag.FlagSet, args []string) error {
	var (
		to      string
		vols    volumeFlags
		timeout time.Duration
	)
	fs.StringVar(&to, "to", "", "`DIR` to copy the reloader binary into (required)")
	fs.DurationVar(&timeout, "timeout", time.Minute, "how long to wait for readable sources")
	vols.register(fs)
	if err := cli.Parse(fs, args, installSynopsis, installDescription); err != nil {
		return err
	}
	if to == "" {
		fs.Usage()
		return errors.New("--to is required")
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("install: %w", err)
	}
	dst, err := reload.InstallBinary(self, to)
	if err != nil {
		return err
	}
	slog.Info("installed the reloader binary", "path", dst)
	if len(vols.volumes) == 0 {
		return nil
	}
	live := &reload.Live{SrcRoot: vols.srcDir, LiveRoot: vols.liveDir, Volumes: vols.volumes}
	rev, err := firstLiveCopy(ctx, live, timeout)
	if err != nil {
		return err
	}
	slog.Info("live copy ready", "revision", rev, "volumes", vols.volumes)
	return nil
}

// firstLiveCopy makes sure every volume has a live copy: it repairs what a
// crash may have left, keeps a complete live copy, and otherwise copies the
// mounted sources. It returns the live revision.
func firstLiveCopy(ctx context.Context, live *reload.Live, timeout time.Duration) (string, error) {
	if err := live.Repair(); err != nil {
		return "", err
	}
	if !live.Exists() {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		s, err := live.Stage(ctx, "")
		if err != nil {
			return "", fmt.Errorf("first live copy: %w", err)
		}
		if err := s.Swap(); err != nil {
			return "", fmt.Errorf("first live copy: %w", err)
		}
	}
	return live.LiveRevision()
}
