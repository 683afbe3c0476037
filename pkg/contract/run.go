package contract

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"time"

	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/contract/version"
)

// Run is the sidecar's command line: `reloader run`.
type Run struct {
	// Version is the contract version it was written with.
	Version int
	Sources
	// Containers are the app containers told about a new revision.
	Containers []string
	// Delivery is how the containers are told, but those in Deliveries.
	Delivery Delivery
	// Deliveries are the containers told otherwise than by Delivery, each
	// in its own way (from contract version 3); nil when all are told alike.
	Deliveries map[string]Delivery
	// Validation names the app containers whose own check runs on a staged
	// revision before the swap (hotreload/validate).
	Validation Validation
	// WaitRelease makes the reloader apply only the revision released to its
	// pod; without it (rollout 100% in contract version 1) it applies what is
	// mounted. From version 2 it always waits.
	WaitRelease bool
	// HealthAddr serves HealthPath and ReadyPath, e.g. ":9440".
	HealthAddr string
	// ExchangeURL is where the pod token is traded for the reloader's; empty
	// uses the in-cluster credentials as they are.
	ExchangeURL string

	// Settings the webhook leaves at their defaults; tests and development set them.
	Timing     Timing
	Kubeconfig string
	// PodName and PodNamespace default to $POD_NAME and $POD_NAMESPACE.
	PodName, PodNamespace string
}

// Validation is where the reloader shows a staged revision to the
// validators and asks them.
type Validation struct {
	// Containers are the app containers with a validator, in pod order.
	Containers []string
	// SocketDir holds each validator's socket, SocketDir/CONTAINER.sock.
	SocketDir string
	// StagedDir is where the reloader writes the staged view.
	StagedDir string
	// CandidateDir is where the validators mount the live copy of each volume.
	CandidateDir string
}

// Socket is the validator socket of app container c.
func (v Validation) Socket(c string) string {
	return cmp.Or(v.SocketDir, ValidateDir) + "/" + c + ".sock"
}

func (v Validation) args() []string {
	var args []string
	for _, c := range v.Containers {
		args = append(args, "--validate", c)
	}
	if len(v.Containers) == 0 {
		return args
	}
	for _, d := range []struct{ name, got, want string }{
		{"validate-dir", v.SocketDir, ValidateDir}, {"staged-dir", v.StagedDir, StagedDir}, {"candidate-dir", v.CandidateDir, CandidateDir},
	} {
		if d.got != "" && d.got != d.want {
			args = append(args, "--"+d.name, d.got)
		}
	}
	return args
}

// Timing bounds the sidecar's waits and retries.
type Timing struct {
	// VerifyTimeout bounds the wait for the mounted sources to reach a revision.
	VerifyTimeout time.Duration
	// Resync is the period of the safety-net re-hash of the sources.
	Resync time.Duration
	// Grace is how long the app must keep running after it is told.
	Grace time.Duration
	// Retries is how often a delivery that failed transiently is tried again.
	Retries int
	// ConfirmTimeout bounds a confirmation that waits for the app (workers,
	// a URL, a metric), from the delivery.
	ConfirmTimeout time.Duration
}

// DefaultConfirmTimeout bounds a confirmation that waits for the app.
const DefaultConfirmTimeout = 10 * time.Second

// DefaultTiming is what the sidecar uses when the command line says nothing.
var DefaultTiming = Timing{VerifyTimeout: 2 * time.Minute, Resync: time.Minute, Grace: time.Second, Retries: 3, ConfirmTimeout: DefaultConfirmTimeout}

// DefaultHealthAddr is the sidecar's health address when none is given.
var DefaultHealthAddr = ":" + strconv.Itoa(int(DefaultHealthPort))

// ErrNoVolume means a command line names no volume: there is nothing to reload.
var ErrNoVolume = errors.New("no --volume")

// Args returns the sidecar container's args: "run" and its flags. Zero fields
// are left out and take their defaults.
func (r Run) Args() []string {
	args := append([]string{"run"}, versionArgs(r.Version)...)
	args = append(args, r.Sources.args()...)
	for _, c := range r.Containers {
		args = append(args, "--container", c)
	}
	args = append(args, r.Delivery.args()...)
	args = append(args, r.deliveriesArgs()...)
	args = append(args, r.Validation.args()...)
	if r.WaitRelease && r.Version == 1 {
		args = append(args, "--wait-release")
	}
	args = append(args, "--health-addr", cmp.Or(r.HealthAddr, DefaultHealthAddr))
	if r.ExchangeURL != "" {
		args = append(args, "--exchange-url", r.ExchangeURL)
	}
	t, def := r.Timing, DefaultTiming
	for _, d := range []struct {
		name      string
		got, want time.Duration
	}{{"verify-timeout", t.VerifyTimeout, def.VerifyTimeout}, {"resync", t.Resync, def.Resync}, {"grace", t.Grace, def.Grace}, {"confirm-timeout", t.ConfirmTimeout, def.ConfirmTimeout}} {
		if d.got != 0 && d.got != d.want {
			args = append(args, "--"+d.name, d.got.String())
		}
	}
	if t.Retries != 0 && t.Retries != def.Retries {
		args = append(args, "--retries", strconv.Itoa(t.Retries))
	}
	for _, s := range []struct{ name, v string }{{"kubeconfig", r.Kubeconfig}, {"pod-name", r.PodName}, {"pod-namespace", r.PodNamespace}} {
		if s.v != "" {
			args = append(args, "--"+s.name, s.v)
		}
	}
	return args
}

// RunFlags parses run's flags: register them with NewRunFlags, parse the flag
// set, then read the result with Run.
type RunFlags struct {
	r                             Run
	containers, validate          listFlag
	signal, url, process, confirm string
	// per holds --signal-for, --url-for, --process-for and --confirm-for.
	per perContainerFlags
}

// NewRunFlags defines run's flags on fs. getenv supplies the defaults of
// --pod-name and --pod-namespace ($POD_NAME, $POD_NAMESPACE); nil for none.
func NewRunFlags(fs *flag.FlagSet, getenv func(string) string) *RunFlags {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	f := &RunFlags{}
	r := &f.r
	fs.IntVar(&r.Version, versionFlag, 1, version.Usage)
	r.Sources.register(fs)
	fs.Var(&f.containers, "container", "an app `CONTAINER` to tell about new config (repeatable, or comma-separated)")
	fs.StringVar(&f.signal, "signal", string(annotations.DefaultSignal), "`SIGNAL` to send the app (SIGHUP, USR1, ...), or none")
	fs.StringVar(&f.url, "url", "", "loopback `URL` to POST instead of a signal")
	fs.StringVar(&f.process, "process", "", "`REGEXP` on the command line picking the process to signal (default: the container's main process)")
	fs.StringVar(&f.confirm, "confirm", "", "how to know the app runs the new config: process (alive after --grace), workers (the signalled process forks new children), a loopback `URL` answering 2xx, or \"URL NAME VALUE\" (the Prometheus-text sample NAME there equals VALUE) (default: process for a signal, the answer of --url)")
	f.per.register(fs)
	fs.Var(&f.validate, "validate", "an app `CONTAINER` whose validator checks a staged revision before the swap, on its socket in --validate-dir (repeatable, or comma-separated)")
	fs.StringVar(&r.Validation.SocketDir, "validate-dir", ValidateDir, "`DIR` holding the validators' sockets, CONTAINER.sock")
	fs.StringVar(&r.Validation.StagedDir, "staged-dir", StagedDir, "`DIR` where the staged revision is shown to the validators")
	fs.StringVar(&r.Validation.CandidateDir, "candidate-dir", CandidateDir, "`DIR` where the validators mount the live copy of each volume")
	fs.BoolVar(&r.WaitRelease, "wait-release", false, "apply only the revision the controller released in "+annotations.Released+" (always so from contract version 2)")
	fs.StringVar(&r.HealthAddr, "health-addr", DefaultHealthAddr, "`ADDR` serving "+HealthPath+" and "+ReadyPath)
	fs.StringVar(&r.ExchangeURL, "exchange-url", "", "`URL` where the pod token is traded for the reloader's (default: use the in-cluster token as it is)")
	t, def := &r.Timing, DefaultTiming
	fs.DurationVar(&t.VerifyTimeout, "verify-timeout", def.VerifyTimeout, "how long to wait for the mounted sources to reach a released revision")
	fs.DurationVar(&t.Resync, "resync", def.Resync, "period of the safety-net re-hash of the sources")
	fs.DurationVar(&t.Grace, "grace", def.Grace, "how long the app must keep running after it is told")
	fs.DurationVar(&t.ConfirmTimeout, "confirm-timeout", def.ConfirmTimeout, "how long, from the delivery, --confirm waits for new workers, a 2xx answer or the metric's value")
	fs.IntVar(&t.Retries, "retries", def.Retries, "how often a delivery that failed transiently (app not listening, 502/503/504, 429) is tried again")
	fs.StringVar(&r.Kubeconfig, "kubeconfig", "", "kubeconfig `FILE` (default: in-cluster)")
	fs.StringVar(&r.PodName, "pod-name", getenv(PodNameEnv), "this pod's name (default $"+PodNameEnv+")")
	fs.StringVar(&r.PodNamespace, "pod-namespace", getenv(PodNamespaceEnv), "this pod's namespace (default $"+PodNamespaceEnv+")")
	return f
}

// Run returns the parsed command line, and warnings for values it replaced
// by their defaults. Call it after the flag set parsed.
func (f *RunFlags) Run() (Run, []string, error) {
	r := f.r
	if err := checkVersion(r.Version); err != nil {
		return r, nil, err
	}
	if err := r.Sources.check(); err != nil {
		return r, nil, err
	}
	if r.Version >= 2 {
		r.WaitRelease = true // every release is verified, 100% too
	}
	r.Containers = f.containers
	r.Validation.Containers = f.validate
	if len(f.validate) == 0 {
		r.Validation = Validation{} // its directories mean nothing without one
	}
	base := rawDelivery{signal: flagValue{"--signal", f.signal}, url: flagValue{"--url", f.url},
		process: flagValue{"--process", f.process}, confirm: flagValue{"--confirm", f.confirm}}
	var ws []string
	r.Delivery, ws = base.check()
	var err error
	if r.Deliveries, ws, err = f.per.deliveries(r.Containers, base, ws); err != nil {
		return r, nil, err
	}
	return r, ws, nil
}

// ParseRun parses the flags of run (its args without the word "run"), with no
// environment: what a pod's spec says.
func ParseRun(args []string) (Run, []string, error) {
	if err := CheckVersion(args); err != nil {
		return Run{}, nil, err
	}
	fs := quiet("run")
	f := NewRunFlags(fs, nil)
	if err := fs.Parse(args); err != nil {
		return Run{}, nil, fmt.Errorf("reloader run: %w", err)
	}
	if fs.NArg() > 0 {
		return Run{}, nil, fmt.Errorf("reloader run: unexpected argument %q", fs.Arg(0))
	}
	return f.Run()
}
