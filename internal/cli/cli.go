// Package cli dispatches a binary's subcommands and prints their help. It keeps
// the mains thin and gives both binaries the same --help shape.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// ErrNotImplemented is returned by a subcommand whose body has not been built.
var ErrNotImplemented = errors.New("not implemented")

// Command is one subcommand of a binary.
type Command struct {
	Name  string
	Short string // one line for the command list
	// Run parses args with fs (already carrying -h/--help) and runs the command.
	Run func(ctx context.Context, fs *flag.FlagSet, args []string) error
}

// Main runs the subcommand named by args[0] and returns the process exit code:
// 0 on success, 1 when the command failed, 2 on a usage error.
func Main(ctx context.Context, prog, summary string, cmds []Command, args []string, stderr io.Writer) int {
	usage := func() {
		fmt.Fprintf(stderr, "%s\n\nUsage:\n  %s <command> [flags]\n\nCommands:\n", summary, prog)
		for _, c := range cmds {
			fmt.Fprintf(stderr, "  %-10s %s\n", c.Name, c.Short)
		}
		fmt.Fprintf(stderr, "\nRun '%s <command> --help' for a command's flags.\n", prog)
	}
	if len(args) == 0 {
		usage()
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage()
		return 0
	}
	for _, c := range cmds {
		if c.Name != args[0] {
			continue
		}
		fs := flag.NewFlagSet(prog+" "+c.Name, flag.ContinueOnError)
		fs.SetOutput(stderr)
		err := c.Run(ctx, fs, args[1:])
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, ErrUsage):
			return 2
		}
		fmt.Fprintf(stderr, "%s %s: %v\n", prog, c.Name, err)
		return 1
	}
	fmt.Fprintf(stderr, "%s: unknown command %q\n\n", prog, args[0])
	usage()
	return 2
}

// ErrUsage is a usage error that the flag package has already printed: exit 2.
var ErrUsage = errors.New("usage")

// Parse parses args into fs with a usage line and description, turning a parse
// error into a usage error (exit 2) that the flag package has already printed.
func Parse(fs *flag.FlagSet, args []string, synopsis, description string) error {
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintf(out, "Usage:\n  %s %s\n\n%s\n", fs.Name(), synopsis, strings.TrimSpace(description))
		var any bool
		fs.VisitAll(func(*flag.Flag) { any = true })
		if any {
			fmt.Fprintf(out, "\nFlags:\n")
			fs.PrintDefaults()
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return ErrUsage
	}
	return nil
}

// NotImplemented is the body of a subcommand that has not been built yet: it
// answers --help and otherwise fails.
func NotImplemented(synopsis, description string) func(context.Context, *flag.FlagSet, []string) error {
	return func(_ context.Context, fs *flag.FlagSet, args []string) error {
		if err := Parse(fs, args, synopsis, description); err != nil {
			return err
		}
		return ErrNotImplemented
	}
}
