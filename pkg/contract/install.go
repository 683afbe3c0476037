package contract

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/hotreload/hotreload/pkg/contract/version"
)

// Install is the first init step's command line: `reloader install`.
type Install struct {
	// Version is the contract version it was written with.
	Version int
	// To is the directory to copy the reloader binary into.
	To string
	// Validator copies the validator binary too: the pod has validators.
	Validator bool
	// Timeout bounds the wait for readable sources; DefaultInstallTimeout when zero.
	Timeout time.Duration
	// Sources are the live copies to write before the app starts; none for a
	// step that only copies the binary.
	Sources
}

// DefaultInstallTimeout bounds install's wait for readable sources.
const DefaultInstallTimeout = time.Minute

// ErrNoTarget means install has no --to directory.
var ErrNoTarget = errors.New("--to is required")

// Args returns the install container's args: "install" and its flags.
func (in Install) Args() []string {
	args := append([]string{"install"}, versionArgs(in.Version)...)
	args = append(args, "--to", cmp.Or(in.To, BinDir))
	if in.Validator {
		args = append(args, "--validator")
	}
	if in.Timeout != 0 && in.Timeout != DefaultInstallTimeout {
		args = append(args, "--timeout", in.Timeout.String())
	}
	if len(in.Volumes) > 0 {
		args = append(args, in.Sources.args()...)
	}
	return args
}

// InstallFlags parses install's flags; see RunFlags.
type InstallFlags struct{ in Install }

// NewInstallFlags defines install's flags on fs.
func NewInstallFlags(fs *flag.FlagSet) *InstallFlags {
	f := &InstallFlags{}
	fs.IntVar(&f.in.Version, versionFlag, 1, version.Usage)
	fs.StringVar(&f.in.To, "to", "", "`DIR` to copy the reloader binary into (required)")
	fs.BoolVar(&f.in.Validator, "validator", false, "copy the validator binary, found beside this one, into DIR too (the pod has validators)")
	fs.DurationVar(&f.in.Timeout, "timeout", DefaultInstallTimeout, "how long to wait for readable sources")
	f.in.Sources.register(fs)
	return f
}

// Install returns the parsed command line. Call it after the flag set parsed.
func (f *InstallFlags) Install() (Install, error) {
	if err := checkVersion(f.in.Version); err != nil {
		return f.in, err
	}
	if f.in.To == "" {
		return f.in, ErrNoTarget
	}
	if len(f.in.Volumes) > 0 {
		if err := f.in.Sources.check(); err != nil {
			return f.in, err
		}
	}
	return f.in, nil
}

// ParseInstall parses the flags of install (its args without the word "install").
func ParseInstall(args []string) (Install, error) {
	if err := CheckVersion(args); err != nil {
		return Install{}, err
	}
	fs := quiet("install")
	f := NewInstallFlags(fs)
	if err := fs.Parse(args); err != nil {
		return Install{}, fmt.Errorf("reloader install: %w", err)
	}
	if fs.NArg() > 0 {
		return Install{}, fmt.Errorf("reloader install: unexpected argument %q", fs.Arg(0))
	}
	return f.Install()
}
