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

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/hotreload/hotreload/internal/version"
)

// Run runs the plugin with args (the command line without the program's
// name) and returns its exit code: 0 when done, 1 when the command failed
// (an API error, a refusal), 2 on a usage error.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	a := &app{
		IOStreams:      genericiooptions.IOStreams{In: os.Stdin, Out: stdout, ErrOut: stderr},
		stdoutTerminal: isTerminal(stdout), stdinTerminal: isTerminal(os.Stdin),
		noColorEnv: os.Getenv("NO_COLOR") != "",
		connect:    connect, now: time.Now,
	}
	return a.run(ctx, args)
}

// app is the plugin's surroundings: its streams, how it connects, its clock.
type app struct {
	genericiooptions.IOStreams
	stdoutTerminal bool
	stdinTerminal  bool
	noColorEnv     bool
	connect        func(*genericclioptions.ConfigFlags) (*session, error)
	now            func() time.Time
}

func isTerminal(w any) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

// options holds a command's flags; each command binds those it takes.
type options struct {
	allNamespaces, watch, noColor, full, yes bool
	output, reason, revision, against, toRev string
	wait                                     time.Duration
}

// invocation is one command's parsed command line.
type invocation struct {
	args []string
	opts *options
	kube *genericclioptions.ConfigFlags
}

// commandFunc is what a command does with its parsed command line.
type commandFunc func(context.Context, *app, *invocation) error

const sourceHelp = "SOURCE is configmap/NAME (or cm/NAME) or secret/NAME, in the namespace of -n or of the kubeconfig's context."

// The groups of the commands in the plugin's help.
const (
	groupShow    = "show"
	groupOperate = "operate"
)

// run runs the command line args and returns its exit code.
func (a *app) run(ctx context.Context, args []string) int {
	root := a.rootCommand()
	root.SetArgs(append([]string{}, args...)) // never nil: cobra would read os.Args
	cmd, err := root.ExecuteContextC(ctx)
	var usage *usageError
	var failed *commandError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errNoCommand):
		return 2
	case errors.As(err, &usage):
		printf(a.ErrOut, "error: %v\n", usage)
		return 2
	case errors.As(err, &failed):
		printf(a.ErrOut, "error: %v\n", failed.err)
		return 1
	}
	// cobra refused the command line before any command ran: an unknown
	// flag, a flag's bad value, arguments a command does not take.
	printf(a.ErrOut, "error: %v (see '%s --help')\n", err, cmd.CommandPath())
	return 2
}

// rootCommand returns the plugin's commands, run in a's surroundings.
func (a *app) rootCommand() *cobra.Command {
	kube := genericclioptions.NewConfigFlags(true)
	// The plugin keeps no discovery cache: --cache-dir would do nothing.
	kube.CacheDir = nil
	root := &cobra.Command{
		Use:   "kubectl-hotreload COMMAND [SOURCE] [flags]",
		Short: "operate hotreload's config releases",
		Long: `kubectl hotreload operates hotreload's config releases: the ConfigMap and Secret changes
released to the pods that reload them, in canary steps.

` + sourceHelp,
		Annotations: map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl hotreload"},
		// Every word that names no command reaches RunE, which says so.
		Args:          cobra.ArbitraryArgs,
		RunE:          noCommand,
		SilenceErrors: true,
		SilenceUsage:  true,
		// cobra's own distance for its suggestions, which SuggestionsFor needs told
		SuggestionsMinimumDistance: 2,
	}
	kube.AddFlags(root.PersistentFlags())
	root.SetIn(a.In)
	root.SetOut(a.Out)
	root.SetErr(a.ErrOut)
	root.SetUsageTemplate(usageTemplate)
	root.AddGroup(&cobra.Group{ID: groupShow, Title: "Show a release:"}, &cobra.Group{ID: groupOperate, Title: "Operate a release:"})
	root.AddCommand(
		statusCommand(a, kube), historyCommand(a, kube), diffCommand(a, kube),
		releaseCommand(a, kube, "promote", "release each workload's next step now (--full: every remaining pod)", promoteHelp),
		releaseCommand(a, kube, "pause", "hold a release at the step each workload reached", pauseHelp),
		releaseCommand(a, kube, "resume", "let a paused release go on", resumeHelp),
		releaseCommand(a, kube, "abort", "halt a release now and put every pod back on stable", abortHelp),
		releaseCommand(a, kube, "retry", "release a halted candidate again from step 1", retryHelp),
		undoCommand(a, kube),
		optionsCommand(a),
		versionCommand(a),
	)
	completeConnectionFlags(a, kube, root)
	return root
}

// usageTemplate is cobra's, but for the flags: a command's own are listed,
// and the connection flags every command takes are left to `kubectl
// hotreload options`, as kubectl leaves its own to `kubectl options`.
const usageTemplate = `Usage:
  {{if .Runnable}}{{.UseLine}}{{else}}{{.CommandPath}} COMMAND{{end}}{{if .HasAvailableSubCommands}}{{$cmds := .Commands}}{{if eq (len .Groups) 0}}

Available Commands:{{range $cmds}}{{if (or .IsAvailableCommand (eq .Name "help"))}}
  {{rpad .Name .NamePadding }} {{.Short}}{{end}}{{end}}{{else}}{{range $group := .Groups}}

{{.Title}}{{range $cmds}}{{if (and (eq .GroupID $group.ID) (or .IsAvailableCommand (eq .Name "help")))}}
  {{rpad .Name .NamePadding }} {{.Short}}{{end}}{{end}}{{end}}{{if not .AllChildCommandsHaveGroup}}

Additional Commands:{{range $cmds}}{{if (and (eq .GroupID "") (or .IsAvailableCommand (eq .Name "help")))}}
  {{rpad .Name .NamePadding }} {{.Short}}{{end}}{{end}}{{end}}{{end}}{{end}}{{if .LocalNonPersistentFlags.HasAvailableFlags}}

Flags:
{{.LocalNonPersistentFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}

Connection flags (-n, --context, --kubeconfig, ...): kubectl hotreload options{{if .HasAvailableSubCommands}}

Use "{{.CommandPath}} COMMAND --help" for more information about a command.{{end}}
`

// errNoCommand means the command line names no command: the help, printed
// on stderr, says what to give.
var errNoCommand = errors.New("no command")

// noCommand is the RunE of the plugin itself: the command line named no
// command, or one it does not have.
func noCommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		cmd.SetOut(cmd.ErrOrStderr())
		if err := cmd.Help(); err != nil {
			return err
		}
		return errNoCommand
	}
	msg := fmt.Sprintf("unknown command %q", args[0])
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(s, " or "))
	}
	return usageErrorf("%s: run 'kubectl hotreload --help' for the commands", msg)
}

// runE is the cobra RunE of a command that does run with its options o and
// the connection flags kube. What run returns is the command's failure (exit
// code 1), or a usage error (exit code 2).
func (a *app) runE(run commandFunc, o *options, kube *genericclioptions.ConfigFlags) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		err := run(cmd.Context(), a, &invocation{args: args, opts: o, kube: kube})
		var usage *usageError
		if err == nil || errors.As(err, &usage) {
			return err
		}
		return &commandError{err: err}
	}
}

func optionsCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:                   "options",
		Short:                 "list the connection flags every command takes",
		Long:                  "Lists the connection flags every command takes, as kubectl's: which kubeconfig, context, cluster, user and namespace.",
		Args:                  cobra.NoArgs,
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(a.Out, "Connection flags of every command (as kubectl's):\n%s", cmd.InheritedFlags().FlagUsages())
			return nil
		},
	}
}

func versionCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:                   "version",
		Short:                 "print the plugin's version and platform",
		Long:                  "Prints the hotreload release the plugin was built from and the platform it was built for; it does not connect to the cluster.",
		Args:                  cobra.NoArgs,
		DisableFlagsInUseLine: true,
		RunE: func(*cobra.Command, []string) error {
			fmt.Fprintln(a.Out, versionLine())
			return nil
		},
	}
}

// versionLine is what `kubectl hotreload version` prints: the release the
// plugin was built from (make build and make dist stamp it) and its platform.
func versionLine() string {
	return fmt.Sprintf("kubectl-hotreload %s %s/%s", version.Version, runtime.GOOS, runtime.GOARCH)
}

// usageError is an error in the command line: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// commandError is the error of a command that ran and failed: exit code 1.
type commandError struct{ err error }

func (e *commandError) Error() string { return e.err.Error() }

func (e *commandError) Unwrap() error { return e.err }

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
