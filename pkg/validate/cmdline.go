package validate

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/hotreload/hotreload/pkg/contract/version"
)

// DefaultTimeout bounds one run of an app's check.
const DefaultTimeout = 10 * time.Second

// CommandLine is the command line of a validator, in the app's image: it
// answers the reloader's checks on Socket by running Command, the pod's
// hotreload/validate, fixed here.
type CommandLine struct {
	Version int
	Socket  string
	Timeout time.Duration
	Command []string
}

// ErrNoCheck means a validator's command line names no command after "--".
var ErrNoCheck = errors.New("no command to run after --")

// Args returns the validator container's args (its command is the validator
// binary): its flags, "--", then the app's check.
func (c CommandLine) Args() []string {
	args := append(version.Args(c.Version), "--socket", c.Socket)
	if c.Timeout != 0 && c.Timeout != DefaultTimeout {
		args = append(args, "--timeout", c.Timeout.String())
	}
	return append(append(args, "--"), c.Command...)
}

// Flags parses a validator's flags.
type Flags struct {
	c CommandLine
}

// NewFlags defines a validator's flags on fs.
func NewFlags(fs *flag.FlagSet) *Flags {
	f := &Flags{}
	fs.IntVar(&f.c.Version, version.Flag, 1, version.Usage)
	fs.StringVar(&f.c.Socket, "socket", "", "the Unix socket `PATH` the reloader asks on")
	fs.DurationVar(&f.c.Timeout, "timeout", DefaultTimeout, "kill the check, and refuse the revision, when it runs longer than this")
	return f
}

// CommandLine returns the parsed command line, given the arguments left after
// the flags (the check). Call it after the flag set parsed.
func (f *Flags) CommandLine(rest []string) (CommandLine, error) {
	c := f.c
	if err := version.Check(c.Version); err != nil {
		return c, err
	}
	if c.Socket == "" {
		return c, errors.New("--socket is required")
	}
	if c.Timeout <= 0 {
		return c, fmt.Errorf("--timeout %s: must be positive", c.Timeout)
	}
	if len(rest) == 0 || rest[0] == "" {
		return c, ErrNoCheck
	}
	c.Command = rest
	return c, nil
}

// Parse parses a validator's args, as the webhook wrote them.
func Parse(args []string) (CommandLine, error) {
	if err := version.CheckArgs(args); err != nil {
		return CommandLine{}, err
	}
	fs := flag.NewFlagSet("validator", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := NewFlags(fs)
	if err := fs.Parse(args); err != nil {
		return CommandLine{}, fmt.Errorf("validator: %w", err)
	}
	return f.CommandLine(fs.Args())
}
