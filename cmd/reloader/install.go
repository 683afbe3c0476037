package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/hotreload/hotreload/internal/cli"
	"github.com/hotreload/hotreload/pkg/contract"
	"github.com/hotreload/hotreload/pkg/reload"
)

const installSynopsis = "--to DIR [--validator] [--src-dir DIR --live-dir DIR --volume V ...]"

const installDescription = `Copies this binary to DIR/reloader (atomically, mode 0755) for the link step,
and with --validator the validator binary beside it to DIR/validator,
then writes the first live copy of each volume from its mounted source, so the
app starts on complete config even where the sidecar is a plain container. An
existing live copy is repaired and kept. A volume whose source is not mounted
fails the step at once.`

func parseInstall(fs *flag.FlagSet, args []string) (contract.Install, error) {
	f := contract.NewInstallFlags(fs)
	if err := contract.CheckVersion(args); err != nil {
		return contract.Install{}, err
	}
	if err := cli.Parse(fs, args, installSynopsis, installDescription); err != nil {
		return contract.Install{}, err
	}
	in, err := f.Install()
	if err != nil {
		fs.Usage()
	}
	return in, err
}

func installCommand(ctx context.Context, fs *flag.FlagSet, args []string) error {
	in, err := parseInstall(fs, args)
	if err != nil {
		return err
	}
	return install(ctx, in)
}

func install(ctx context.Context, in contract.Install) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("install: %w", err)
	}
	dst, err := reload.InstallBinary(self, in.To, contract.BinaryName)
	if err != nil {
		return err
	}
	slog.Info("installed the reloader binary", "path", dst)
	if in.Validator {
		// The image holds the validator beside the reloader.
		src := filepath.Join(filepath.Dir(self), contract.ValidatorBinaryName)
		if dst, err = reload.InstallBinary(src, in.To, contract.ValidatorBinaryName); err != nil {
			return fmt.Errorf("the pod asks for validation (hotreload/validate), and the reloader image has no validator: %w", err)
		}
		slog.Info("installed the validator binary", "path", dst)
	}
	if len(in.Volumes) == 0 {
		return nil
	}
	live := liveOf(in.Sources, in.Version)
	if err := live.FirstCopy(ctx, in.Timeout); err != nil {
		return err
	}
	slog.Info("live copy ready", "volumes", in.Volumes)
	return nil
}
