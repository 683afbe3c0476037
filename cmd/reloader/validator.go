package main

import (
	"context"
	"flag"
	"log/slog"

	"github.com/hotreload/hotreload/internal/cli"
	"github.com/hotreload/hotreload/pkg/contract"
	"github.com/hotreload/hotreload/pkg/reload"
)

const validatorSynopsis = "--socket PATH [--timeout D] -- COMMAND [ARG...]"

const validatorDescription = `Runs in the app's image, as the app's user, beside the reloader. For each
check the reloader asks for on the Unix socket, runs COMMAND (the pod's
hotreload/validate, fixed here: nothing sent on the socket changes it) against
the staged revision, which is mounted at the app's own paths in this
container, and answers with its exit status and the last lines of its output.
A check that runs longer than --timeout is killed with everything it started.`

func parseValidator(fs *flag.FlagSet, args []string) (contract.Validator, error) {
	f := contract.NewValidatorFlags(fs)
	if err := contract.CheckVersion(args); err != nil {
		return contract.Validator{}, err
	}
	if err := cli.Parse(fs, args, validatorSynopsis, validatorDescription); err != nil {
		return contract.Validator{}, err
	}
	return f.Validator(fs.Args())
}

func validatorCommand(ctx context.Context, fs *flag.FlagSet, args []string) error {
	c, err := parseValidator(fs, args)
	if err != nil {
		return err
	}
	ln, err := reload.Listen(c.Socket)
	if err != nil {
		return err
	}
	slog.Info("validator ready", "socket", c.Socket, "command", c.Command, "timeout", c.Timeout)
	v := &reload.Validator{Command: c.Command, Timeout: c.Timeout, Log: slog.Default()}
	return v.Serve(ctx, ln)
}
