// Command validator runs in an app's image, as the app's user, beside the
// reloader: for each check the reloader asks for on its Unix socket, it runs
// the app's own check (the pod's hotreload/validate) against the staged
// revision, which is mounted at the app's own paths in its container, and
// answers with the exit status and the last lines of the output. It links
// the standard library alone, so that it idles in little memory
// (docs/design/2026-12-07-verified-apply.md).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/hotreload/hotreload/internal/cli"
	"github.com/hotreload/hotreload/pkg/contract/version"
	"github.com/hotreload/hotreload/pkg/validate"
)

const synopsis = "--socket PATH [--timeout D] -- COMMAND [ARG...]"

const description = `Runs in the app's image, as the app's user, beside the reloader. For each
check the reloader asks for on the Unix socket, runs COMMAND (the pod's
hotreload/validate, fixed here: nothing sent on the socket changes it) against
the staged revision, which is mounted at the app's own paths in this
container, and answers with its exit status and the last lines of its output.
A check that runs longer than --timeout is killed with everything it started.`

// defaultPath is the PATH a check's command is looked up in, and runs with,
// when the container has none: an image may set no PATH, and the container
// runtime adds none, while the check is written as for a shell ("nginx -t").
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

func main() {
	if os.Getenv("PATH") == "" {
		os.Setenv("PATH", defaultPath)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fs := flag.NewFlagSet("validator", flag.ContinueOnError)
	err := serve(ctx, fs, os.Args[1:])
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, cli.ErrUsage):
		os.Exit(2)
	default:
		fmt.Fprintf(os.Stderr, "validator: %v\n", err)
		os.Exit(1)
	}
}

func parse(fs *flag.FlagSet, args []string) (validate.CommandLine, error) {
	f := validate.NewFlags(fs)
	if err := version.CheckArgs(args); err != nil {
		return validate.CommandLine{}, err
	}
	if err := cli.Parse(fs, args, synopsis, description); err != nil {
		return validate.CommandLine{}, err
	}
	return f.CommandLine(fs.Args())
}

// serve answers checks until ctx ends.
func serve(ctx context.Context, fs *flag.FlagSet, args []string) error {
	c, err := parse(fs, args)
	if err != nil {
		return err
	}
	ln, err := validate.Listen(c.Socket)
	if err != nil {
		return err
	}
	slog.Info("validator ready", "socket", c.Socket, "command", c.Command, "timeout", c.Timeout)
	v := &validate.Checker{Command: c.Command, Timeout: c.Timeout, Log: slog.Default()}
	return v.Serve(ctx, ln)
}
