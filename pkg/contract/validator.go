package contract

import (
	"errors"
	"flag"
	"fmt"
	"time"
)

// ValidateDir is where the validators' sockets live: an emptyDir mounted in
// the reloader and the validators only, never in an app container.
const ValidateDir = Root + "/validate"

// DefaultValidateTimeout bounds one run of an app's check.
const DefaultValidateTimeout = 10 * time.Second

// Validator is the command line of a validator, in the app's image: it
// answers the reloader's checks on Socket by running Command, the pod's
// hotreload/validate, fixed here.
type Validator struct {
	Version int
	Socket  string
	Timeout time.Duration
	Command []string
}

// ValidatorCommand returns a validator's command: the binary install copied,
// in the app's image.
func ValidatorCommand() []string { return []string{ReloaderBinary, "validator"} }

// ErrNoCheck means a validator's command line names no command after "--".
var ErrNoCheck = errors.New("no command to run after --")

// Args returns the validator container's args (its command is
// ValidatorCommand): its flags, "--", then the app's check.
func (v Validator) Args() []string {
	args := append(versionArgs(v.Version), "--socket", v.Socket)
	if v.Timeout != 0 && v.Timeout != DefaultValidateTimeout {
		args = append(args, "--timeout", v.Timeout.String())
	}
	return append(append(args, "--"), v.Command...)
}

// ValidatorFlags parses validator's flags; see RunFlags.
type ValidatorFlags struct {
	v Validator
}

// NewValidatorFlags defines validator's flags on fs.
func NewValidatorFlags(fs *flag.FlagSet) *ValidatorFlags {
	f := &ValidatorFlags{}
	fs.IntVar(&f.v.Version, versionFlag, 1, "contract `VERSION` the webhook wrote this command line with")
	fs.StringVar(&f.v.Socket, "socket", "", "the Unix socket `PATH` the reloader asks on")
	fs.DurationVar(&f.v.Timeout, "timeout", DefaultValidateTimeout, "kill the check, and refuse the revision, when it runs longer than this")
	return f
}

// Validator returns the parsed command line, given the arguments left after
// the flags (the check). Call it after the flag set parsed.
func (f *ValidatorFlags) Validator(rest []string) (Validator, error) {
	v := f.v
	if err := checkVersion(v.Version); err != nil {
		return v, err
	}
	if v.Socket == "" {
		return v, errors.New("--socket is required")
	}
	if v.Timeout <= 0 {
		return v, fmt.Errorf("--timeout %s: must be positive", v.Timeout)
	}
	if len(rest) == 0 || rest[0] == "" {
		return v, ErrNoCheck
	}
	v.Command = rest
	return v, nil
}

// ParseValidator parses a validator's args (after ValidatorCommand).
func ParseValidator(args []string) (Validator, error) {
	if err := CheckVersion(args); err != nil {
		return Validator{}, err
	}
	fs := quiet("validator")
	f := NewValidatorFlags(fs)
	if err := fs.Parse(args); err != nil {
		return Validator{}, fmt.Errorf("reloader validator: %w", err)
	}
	return f.Validator(fs.Args())
}
