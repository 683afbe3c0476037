package main

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/hotreload/hotreload/internal/cli"
	"github.com/hotreload/hotreload/internal/reloadertoken"
	"github.com/hotreload/hotreload/pkg/contract"
	"github.com/hotreload/hotreload/pkg/reload"
)

const runSynopsis = "--volume V ... --container C ... [--signal SIG | --url URL | --signal none] [--process REGEXP] [--confirm HOW] [--signal-for C=SIG | --url-for C=URL] [--process-for C=REGEXP] [--confirm-for C=HOW] ... [--wait-release] [flags]"

const runDescription = `The sidecar. Keeps the live copy of each volume at the newest released revision
(or, without --wait-release, the newest mounted one): waits until the mounted
sources hash to it, swaps the live copy atomically, tells the app (signal to
the container's main process, or a loopback HTTP POST; a container named by
--signal-for, --url-for, --process-for or --confirm-for in its own way),
confirms that the app runs it (--confirm: the process alive, new workers, a
URL or a metric; a refusal puts the previous files back), and reports
hotreload/applied or hotreload/failed on its own pod, named by POD_NAME and
POD_NAMESPACE. Serves /healthz and /readyz (ready once the live copies exist).
A volume whose source is not mounted fails the command at once. A signal, URL
or process regexp it cannot use is replaced by its default, with a warning in
the log: a value never keeps the app from starting.`

// errNoPod means run does not know its own pod.
var errNoPod = errors.New("POD_NAME and POD_NAMESPACE (or --pod-name, --pod-namespace) are required")

// parseRun parses run's command line; getenv supplies POD_NAME and
// POD_NAMESPACE, which the pod sets from the downward API, and the CA bundle
// of the token exchange. It returns the warnings about values it replaced.
func parseRun(fs *flag.FlagSet, args []string, getenv func(string) string) (contract.Run, []string, error) {
	f := contract.NewRunFlags(fs, getenv)
	if err := contract.CheckVersion(args); err != nil {
		return contract.Run{}, nil, err
	}
	if err := cli.Parse(fs, args, runSynopsis, runDescription); err != nil {
		return contract.Run{}, nil, err
	}
	r, warnings, err := f.Run()
	if err == nil && (r.PodName == "" || r.PodNamespace == "") {
		err = errNoPod
	}
	if err != nil {
		fs.Usage()
	}
	return r, warnings, err
}

func runCommand(ctx context.Context, fs *flag.FlagSet, args []string) error {
	if err := reload.HideFromApp(); err != nil {
		return err
	}
	r, warnings, err := parseRun(fs, args, os.Getenv)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		slog.Warn("argument replaced by its default", "warning", w)
	}
	return run(ctx, r, os.Getenv(contract.ExchangeCAEnv))
}

// newReloader builds the sidecar's parts from its command line: everything
// that can fail before it starts.
func newReloader(r contract.Run, exchangeCA string) (*reload.Reloader, error) {
	cfg, err := restConfig(r.Kubeconfig)
	if err != nil {
		return nil, err
	}
	if r.ExchangeURL != "" {
		if cfg, err = exchangeConfig(cfg, r.ExchangeURL, exchangeCA); err != nil {
			return nil, err
		}
	}
	client, err := reload.NewAPI(cfg)
	if err != nil {
		return nil, err
	}
	d, err := reload.NewDeliverer(r.Delivery, r.Timing)
	if err != nil {
		return nil, err
	}
	var each map[string]*reload.Deliverer
	for c, cd := range r.Deliveries {
		if each == nil {
			each = map[string]*reload.Deliverer{}
		}
		if each[c], err = reload.NewDeliverer(cd, r.Timing); err != nil {
			return nil, fmt.Errorf("container %s: %w", c, err)
		}
	}
	return reload.New(reload.Options{
		Client: client, Namespace: r.PodNamespace, PodName: r.PodName,
		Live:        liveOf(r.Sources, r.Version),
		Containers:  r.Containers,
		Deliverer:   d,
		Deliverers:  each,
		Validators:  validatorsOf(r.Validation),
		WaitRelease: r.WaitRelease, VerifyTimeout: r.Timing.VerifyTimeout, Resync: r.Timing.Resync,
	}), nil
}

// validatorsOf is the reloader's side of the validators a command line
// names; nil for none.
func validatorsOf(v contract.Validation) *reload.Validators {
	if len(v.Containers) == 0 {
		return nil
	}
	out := &reload.Validators{StagedRoot: v.StagedDir, CandidateRoot: v.CandidateDir}
	for _, c := range v.Containers {
		out.Sockets = append(out.Sockets, reload.ContainerSocket{Container: c, Socket: v.Socket(c)})
	}
	return out
}

// liveOf is the Live of the sources a command line names, laid out as its
// contract version says.
func liveOf(s contract.Sources, version int) *reload.Live {
	l := &reload.Live{SrcRoot: s.SrcDir, LiveRoot: s.LiveDir, Volumes: s.Volumes}
	if version >= 2 {
		l.Layout = s.Layout(version)
	}
	return l
}

func run(ctx context.Context, r contract.Run, exchangeCA string) error {
	rl, err := newReloader(r, exchangeCA)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", r.HealthAddr)
	if err != nil {
		return fmt.Errorf("--health-addr: %w", err)
	}
	srv := &http.Server{Handler: healthHandler(rl), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	slog.Info("reloader starting", "pod", r.PodNamespace+"/"+r.PodName, "contract", r.Version, "volumes", r.Volumes,
		"containers", r.Containers, "validate", r.Validation.Containers, "delivery", fmt.Sprintf("%+v", r.Delivery), "deliveries", fmt.Sprintf("%+v", r.Deliveries), "waitRelease", r.WaitRelease, "healthAddr", ln.Addr().String())
	return rl.Run(ctx)
}

// exchangeConfig returns base authenticated with the reloader token that the
// pod token (contract.TokenFile) is traded for at url, trusting the CA bundle
// of contract.ExchangeCAFile, read at each exchange, and caPEM (the system
// roots when neither holds a certificate).
func exchangeConfig(base *rest.Config, url, caPEM string) (*rest.Config, error) {
	if caPEM != "" && !x509.NewCertPool().AppendCertsFromPEM([]byte(caPEM)) {
		// Never fatal: the app runs on its live copy whatever the exchange does.
		slog.Warn("the token exchange's CA bundle holds no usable certificate", "env", contract.ExchangeCAEnv)
	}
	ex := &reloadertoken.Exchange{
		URL:          url,
		CAFile:       contract.ExchangeCAFile,
		CA:           []byte(caPEM),
		PodTokenFile: contract.TokenFile,
	}
	return reloadertoken.Config(base, reloadertoken.Source(ex)), nil
}

func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		return clientcmd.BuildConfigFromFlags("", kubeconfig)
	}
	return rest.InClusterConfig()
}
