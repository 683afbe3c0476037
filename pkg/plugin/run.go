package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/hotreload/hotreload/internal/version"
)

// Run runs the plugin with args (the command line without the program's
// name) and returns its exit code: 0 when done, 1 when the command failed
// (an API error, a refusal), 2 on a usage error.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	a := &app{
		stdout: stdout, stderr: stderr, stdin: os.Stdin,
		stdoutTerminal: isTerminal(stdout), stdinTerminal: isTerminal(os.Stdin),
		noColorEnv: os.Getenv("NO_COLOR") != "",
		connect:    connect, now: time.Now,
	}
	return a.run(ctx, args)
}

// app is the plugin's surroundings: its streams, how it connects, its clock.
type app struct {
	stdout, stderr io.Writer
	stdin          io.Reader
	stdoutTerminal bool
	stdinTerminal  bool
	noColorEnv     bool
	connect        func(*kubeFlags) (*session, error)
	now            func() time.Time
}

func isTerminal(w any) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

// options holds every command's flags; each command binds those it takes.
type options struct {
	allNamespaces, watch, noColor, full, yes bool
	output, reason, revision, against, toRev string
	wait                                     time.Duration
}

// invocation is one command's parsed command line.
type invocation struct {
	args []string
	opts *options
	kube *kubeFlags
}

// command is one of the plugin's commands.
type command struct {
	name, synopsis, short, long string
	flags                       func(*pflag.FlagSet, *options)
	run                         func(context.Context, *app, *invocation) error
}

const sourceHelp = "SOURCE is configmap/NAME (or cm/NAME) or secret/NAME, in the namespace of -n or of the kubeconfig's context."

func commands() []command {
	return []command{
		statusCommand(),
		releaseCommand("promote", "release each workload's next step now (--full: every remaining pod)", promoteHelp),
		releaseCommand("pause", "hold a release at the step each workload reached", pauseHelp),
		releaseCommand("resume", "let a paused release go on", resumeHelp),
		releaseCommand("abort", "halt a release now and put every pod back on stable", abortHelp),
		releaseCommand("retry", "release a halted candidate again from step 1", retryHelp),
		historyCommand(),
		diffCommand(),
		undoCommand(),
		{name: "options", short: "list the connection flags every command takes", synopsis: "options",
			long: "Lists the connection flags every command takes, as kubectl's: which kubeconfig, context, cluster, user and namespace.",
			run: func(_ context.Context, a *app, _ *invocation) error {
				fmt.Fprintf(a.stdout, "Connection flags of every command (as kubectl's):\n%s", newKubeFlags().fs.FlagUsages())
				return nil
			}},
		{name: "version", short: "print the plugin's version and platform", synopsis: "version",
			long: "Prints the hotreload release the plugin was built from and the platform it was built for; it does not connect to the cluster.",
			run: func(_ context.Context, a *app, _ *invocation) error {
				fmt.Fprintln(a.stdout, versionLine())
				return nil
			}},
	}
}

// versionLine is what `kubectl hotreload version` prints: the release the
// plugin was built from (make build and make dist stamp it) and its platform.
func versionLine() string {
	return fmt.Sprintf("kubectl-hotreload %s %s/%s", version.Version, runtime.GOOS, runtime.GOARCH)
}

func (a *app) usage(w io.Writer) {
	fmt.Fprintf(w, "kubectl hotreload operates hotreload's config releases: the ConfigMap and Secret changes\nreleased to the pods that reload them, in canary steps.\n\nUsage:\n  kubectl hotreload COMMAND [SOURCE] [flags]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.short)
	}
	fmt.Fprintf(w, "\n%s\nRun 'kubectl hotreload COMMAND --help' for a command's flags.\n", sourceHelp)
}

func (a *app) run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		a.usage(a.stderr)
		return 2
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		a.usage(a.stdout)
		return 0
	}
	args = commandFirst(args)
	var cmd *command
	for _, c := range commands() {
		if c.name == args[0] {
			cmd = &c
		}
	}
	if cmd == nil {
		fmt.Fprintf(a.stderr, "error: unknown command %q: run 'kubectl hotreload --help' for the commands\n", args[0])
		return 2
	}
	var o options
	own := pflag.NewFlagSet(cmd.name, pflag.ContinueOnError)
	own.SortFlags = false
	if cmd.flags != nil {
		cmd.flags(own, &o)
	}
	kube := newKubeFlags()
	fs := pflag.NewFlagSet("kubectl hotreload "+cmd.name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.AddFlagSet(own)
	fs.AddFlagSet(kube.fs)
	switch err := fs.Parse(args[1:]); {
	case errors.Is(err, pflag.ErrHelp):
		fmt.Fprintf(a.stdout, "Usage:\n  kubectl hotreload %s\n\n%s\n", cmd.synopsis, strings.TrimSpace(cmd.long))
		if own.HasFlags() {
			fmt.Fprintf(a.stdout, "\nFlags:\n%s", own.FlagUsages())
		}
		fmt.Fprintln(a.stdout, "\nConnection flags (-n, --context, --kubeconfig, ...): kubectl hotreload options")
		return 0
	case err != nil:
		printf(a.stderr, "error: %v (see 'kubectl hotreload %s --help')\n", err, cmd.name)
		return 2
	}
	err := cmd.run(ctx, a, &invocation{args: fs.Args(), opts: &o, kube: kube})
	if err == nil {
		return 0
	}
	printf(a.stderr, "error: %v\n", err)
	var u *usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

// commandFirst moves connection flags given before the command (kubectl
// hotreload -n shop status ...) after it, where they are parsed.
func commandFirst(args []string) []string {
	if !strings.HasPrefix(args[0], "-") {
		return args
	}
	lead := newKubeFlags().fs
	lead.SetInterspersed(false)
	lead.SetOutput(io.Discard)
	if err := lead.Parse(args); err != nil || lead.NArg() == 0 {
		return args // the command's parse says what is wrong
	}
	n := len(args) - lead.NArg()
	return append(append([]string{args[n]}, args[:n]...), args[n+1:]...)
}

// usageError is an error in the command line: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// oneSource parses the single SOURCE a command takes.
func oneSource(name string, args []string) (source, error) {
	if len(args) != 1 {
		return source{}, usageErrorf("%s takes one SOURCE (configmap/NAME or secret/NAME), not %d arguments", name, len(args))
	}
	return parseSource(args[0])
}

// useColour reports whether to colour stdout: a terminal, NO_COLOR unset, no --no-color.
func (a *app) useColour(o *options) bool {
	return a.stdoutTerminal && !a.noColorEnv && !o.noColor
}
