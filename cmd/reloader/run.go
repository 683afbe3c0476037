package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"regexp"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/hotreload/hotreload/internal/cli"
	"github.com/hotreload/hotreload/internal/reloadertoken"
	"github.com/hotreload/hotreload/pkg/mutate"
	"github.com/hotreload/hotreload/pkg/reload"
)

const runSynopsis = "--volume V ... --container C ... [--signal SIG | --url URL | --signal none] [--process REGEXP] [--wait-release] [flags]"

const runDescription = `The sidecar. Keeps the live copy of each volume at the newest released revision
(or, without --wait-release, the newest mounted one): waits until the mounted
sources hash to it, swaps the live copy atomically, tells the app (signal to
the container's main process, or a loopback HTTP POST), and reports
hotreload/applied or hotreload/failed on its own pod, named by POD_NAME and
POD_NAMESPACE. Serves /healthz and /readyz (ready once the live copies exist).
A volume whose source is not mounted fails the command at once.`

// runOptions is the parsed command line of run.
type runOptions struct {
	volumeOptions
	Containers []string
	Method     reload.Method
	// Process picks the process to signal; nil for the container's main process.
	Process     *regexp.Regexp
	WaitRelease bool
	HealthAddr  string
	// VerifyTimeout, Resync, Grace and Retries are passed to reload.Options
	// and reload.Deliverer.
	VerifyTimeout, Resync, Grace time.Duration
	Retries                      int
	Kubeconfig                   string
	PodName, PodNamespace        string
	// ExchangeURL is where the sidecar trades its pod token (audience
	// hotreload, in TokenDir) for a reloader token; "" uses the in-cluster
	// credentials as they are.
	ExchangeURL string
	// ExchangeCA is the PEM bundle trusted for ExchangeURL ($HOTRELOAD_EXCHANGE_CA);
	// empty for the system roots.
	ExchangeCA string
}

// parseRun parses run's command line; getenv supplies POD_NAME and
// POD_NAMESPACE, which the pod sets from the downward API.
func parseRun(fs *flag.FlagSet, args []string, getenv func(string) string) (runOptions, error) {
	var (
		o                    runOptions
		containers           listFlag
		signal, url, process string
	)
	o.register(fs)
	fs.Var(&containers, "container", "an app container to tell about new config (repeatable, or comma-separated)")
	fs.StringVar(&signal, "signal", "SIGHUP", "signal to send the app, or none")
	fs.StringVar(&url, "url", "", "loopback `URL` to POST instead of a signal")
	fs.StringVar(&process, "process", "", "`REGEXP` on the command line picking the process to signal (default: the container's main process)")
	fs.BoolVar(&o.WaitRelease, "wait-release", false, "apply only the revision the controller released in hotreload/released")
	fs.StringVar(&o.HealthAddr, "health-addr", fmt.Sprintf(":%d", mutate.DefaultHealthPort), "`ADDR` serving /healthz and "+mutate.ReadyPath)
	fs.DurationVar(&o.VerifyTimeout, "verify-timeout", 2*time.Minute, "how long to wait for the mounted sources to reach a released revision")
	fs.DurationVar(&o.Resync, "resync", time.Minute, "period of the safety-net re-hash of the sources")
	fs.DurationVar(&o.Grace, "grace", time.Second, "how long the app must keep running after it is told")
	fs.IntVar(&o.Retries, "retries", reload.DefaultRetries, "how often a delivery that failed transiently (app not listening, 502/503/504, 429) is tried again")
	fs.StringVar(&o.Kubeconfig, "kubeconfig", "", "kubeconfig `FILE` (default: in-cluster)")
	fs.StringVar(&o.ExchangeURL, "exchange-url", "", "`URL` where the pod token is traded for the reloader's (default: use the in-cluster token as it is)")
	fs.StringVar(&o.PodName, "pod-name", getenv("POD_NAME"), "this pod's name (default $POD_NAME)")
	fs.StringVar(&o.PodNamespace, "pod-namespace", getenv("POD_NAMESPACE"), "this pod's namespace (default $POD_NAMESPACE)")
	if err := cli.Parse(fs, args, runSynopsis, runDescription); err != nil {
		return o, err
	}
	o.Containers = containers
	o.ExchangeCA = getenv(mutate.ExchangeCAEnv)
	if o.PodName == "" || o.PodNamespace == "" || len(o.Volumes) == 0 {
		fs.Usage()
		return o, errors.New("--volume, and POD_NAME and POD_NAMESPACE (or --pod-name, --pod-namespace) are required")
	}
	var err error
	if o.Method, err = reload.ParseMethod(signal, url); err != nil {
		return o, err
	}
	if process != "" {
		if o.Process, err = regexp.Compile(process); err != nil {
			return o, fmt.Errorf("--process: %w", err)
		}
	}
	return o, nil
}

func runCommand(ctx context.Context, fs *flag.FlagSet, args []string) error {
	o, err := parseRun(fs, args, os.Getenv)
	if err != nil {
		return err
	}
	return run(ctx, o)
}

func run(ctx context.Context, o runOptions) error {
	cfg, err := restConfig(o.Kubeconfig)
	if err != nil {
		return err
	}
	if o.ExchangeURL != "" {
		if cfg, err = exchangeConfig(cfg, o.ExchangeURL, o.ExchangeCA); err != nil {
			return err
		}
	}
	client, err := reload.NewAPI(cfg)
	if err != nil {
		return err
	}
	r := reload.New(reload.Options{
		Client: client, Namespace: o.PodNamespace, PodName: o.PodName,
		Live:        &reload.Live{SrcRoot: o.SrcDir, LiveRoot: o.LiveDir, Volumes: o.Volumes},
		Containers:  o.Containers,
		Deliverer:   &reload.Deliverer{Method: o.Method, Process: o.Process, Grace: o.Grace, Retries: o.Retries},
		WaitRelease: o.WaitRelease, VerifyTimeout: o.VerifyTimeout, Resync: o.Resync,
	})
	ln, err := net.Listen("tcp", o.HealthAddr)
	if err != nil {
		return fmt.Errorf("--health-addr: %w", err)
	}
	srv := &http.Server{Handler: healthHandler(r), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	slog.Info("reloader starting", "pod", o.PodNamespace+"/"+o.PodName, "volumes", o.Volumes,
		"containers", o.Containers, "method", o.Method.String(), "waitRelease", o.WaitRelease, "healthAddr", ln.Addr().String())
	return r.Run(ctx)
}

// exchangeConfig returns base authenticated with the reloader token that the
// pod token (mutate.TokenDir/token) is traded for at url.
func exchangeConfig(base *rest.Config, url, caPEM string) (*rest.Config, error) {
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caPEM != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(caPEM)) {
			return nil, fmt.Errorf("$%s holds no PEM certificate", mutate.ExchangeCAEnv)
		}
		tlsCfg.RootCAs = pool
	}
	ts := &reloadertoken.Source{
		URL:          url,
		Client:       &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsCfg}},
		PodTokenFile: mutate.TokenDir + "/token",
	}
	return reloadertoken.Config(base, ts), nil
}

func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		return clientcmd.BuildConfigFromFlags("", kubeconfig)
	}
	return rest.InClusterConfig()
}
