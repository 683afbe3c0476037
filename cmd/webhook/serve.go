package main

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/hotreload/hotreload/internal/cli"
	"github.com/hotreload/hotreload/internal/identity"
	"github.com/hotreload/hotreload/internal/version"
	"github.com/hotreload/hotreload/internal/webhook"
	"github.com/hotreload/hotreload/pkg/contract"
	"github.com/hotreload/hotreload/pkg/mutate"
	"github.com/hotreload/hotreload/pkg/rollout"
)

const serveHelp = `Serves the mutating admission webhook for pods over TLS and runs the
leader-elected canary controller. Every replica serves admission; one reconciles.
A failure inside hotreload never blocks a pod: it is admitted unchanged, with a
warning the client sees.

Endpoints: admission on --port (HTTPS, path ` + webhook.Path + `), the reloaders'
token exchange on --exchange-port (HTTPS, path ` + identity.Path + `), /healthz and
/readyz on --health-probe-bind-address, Prometheus metrics on
--metrics-bind-address.`

func serveCommand(ctx context.Context, fs *flag.FlagSet, args []string) error {
	var (
		o          webhook.ServerOptions
		kubeconfig string
		liveLimit  string
		logLevel   slog.Level
		qps        float64
		burst      int
	)
	fs.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file (default: in-cluster config, else $KUBECONFIG)")
	fs.StringVar(&o.Host, "host", "", "address to serve admission on (default all)")
	fs.IntVar(&o.Port, "port", 9443, "HTTPS port for admission")
	fs.IntVar(&o.ExchangePort, "exchange-port", webhook.DefaultExchangePort, "HTTPS port for the reloaders' token exchange, its only port (--port answers its path 410 Gone)")
	fs.StringVar(&o.CertDir, "cert-dir", "/etc/hotreload/tls", "directory with tls.crt and tls.key; reloaded when they change")
	fs.StringVar(&o.MetricsAddr, "metrics-bind-address", ":8443", `address for Prometheus metrics ("0" disables)`)
	fs.BoolVar(&o.MetricsSecure, "metrics-secure", true, "serve metrics over HTTPS (the --cert-dir certificate) to callers allowed GET on /metrics (nonResourceURLs), not over HTTP to anyone")
	fs.StringVar(&o.HealthAddr, "health-probe-bind-address", ":8081", "address for /healthz and /readyz")
	fs.BoolVar(&o.LeaderElection, "leader-elect", true, "elect one replica to run the rollout controller")
	fs.StringVar(&o.LeaderElectionNamespace, "leader-election-namespace", "", "namespace of the leader election Lease (default: the pod's own)")
	fs.DurationVar(&o.ReloaderTokenTTL, "reloader-token-ttl", identity.DefaultTTL, "lifetime of the reloader tokens the exchange issues; each costs its pod one patch, at 80% of it (at least 10m)")
	fs.StringVar(&o.NotificationsSecret, "notifications-secret", "hotreload-notifications", "Secret, in --install-namespace, that says where to send each release's halts, rollbacks, completions and commands (keys webhook-url, webhook-authorization, slack-url, events, cluster, ca.crt); read when there is something to send; absent: nothing is sent; empty: notifications off")
	fs.StringVar(&o.InstallNamespace, "install-namespace", os.Getenv("POD_NAMESPACE"), "namespace hotreload is installed in: it owns the ServiceAccounts, RoleBindings and CA bundles made in enabled namespaces, so deleting it (uninstalling) deletes them (default $POD_NAMESPACE; empty: no owner)")
	fs.StringVar(&o.NativeSidecar, "native-sidecar", webhook.NativeSidecarAuto, "run the reloader as a native sidecar: auto (API server >= 1.29), true or false")
	fs.StringVar(&o.Mutate.ReloaderImage, "reloader-image", version.ReloaderImage(), "image of the reloader sidecar and install step")
	fs.StringVar(&o.Mutate.ExchangeURL, "exchange-url", contract.DefaultExchangeURL, "where sidecars trade their pod token for the reloader's (this server's Service)")
	fs.StringVar(&liveLimit, "live-size-limit", mutate.DefaultLiveSizeLimit, "size limit of the in-memory live copy volume")
	var port int
	fs.IntVar(&port, "reloader-health-port", int(contract.DefaultHealthPort), "preferred port of the sidecar's health endpoint (the next free one if the pod uses it)")
	fs.Float64Var(&qps, "kube-api-qps", 50, "requests per second to the API server (admission and namespace access; the controller has its own limit)")
	fs.IntVar(&burst, "kube-api-burst", 100, "burst of requests to the API server")
	var controllerQPS float64
	fs.Float64Var(&controllerQPS, "controller-api-qps", rollout.DefaultQPS, "requests per second of the rollout controller's own client: a release patches each pod once, so this bounds how fast a step reaches its pods")
	fs.IntVar(&o.ControllerBurst, "controller-api-burst", rollout.DefaultBurst, "burst of the rollout controller's requests")
	fs.TextVar(&logLevel, "log-level", slog.LevelInfo, "log level: debug, info, warn, error")
	if err := cli.Parse(fs, args, "[flags]", serveHelp); err != nil {
		return err
	}

	q, err := resource.ParseQuantity(liveLimit)
	if err != nil || q.Sign() <= 0 {
		return fmt.Errorf("--live-size-limit=%q: want a positive quantity such as 16Mi", liveLimit)
	}
	o.Mutate.LiveSizeLimit = &q
	if controllerQPS <= 0 {
		return fmt.Errorf("--controller-api-qps=%v: want a positive rate", controllerQPS)
	}
	o.ControllerQPS = float32(controllerQPS)
	if o.ReloaderTokenTTL < 10*time.Minute {
		return fmt.Errorf("--reloader-token-ttl=%v: the API server issues no token of less than 10m", o.ReloaderTokenTTL)
	}
	o.Mutate.HealthPort = int32(port)
	o.Mutate.Version = version.Version

	log := logr.FromSlogHandler(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel}))
	ctrl.SetLogger(log)
	// Sidecars reach the token exchange on this server: they trust the CA
	// that signed its certificate (cert-manager and certs/ both write ca.crt).
	caFile := filepath.Join(o.CertDir, "ca.crt")
	if o.Mutate.ExchangeCA, err = os.ReadFile(caFile); err != nil {
		log.Info("no CA bundle for the sidecars' token exchange; they will trust the system roots", "file", caFile, "error", err.Error())
	} else if !x509.NewCertPool().AppendCertsFromPEM(o.Mutate.ExchangeCA) {
		log.Error(errors.New("no PEM certificate"), "the CA bundle for the sidecars' token exchange is unusable; they will trust the system roots", "file", caFile)
		o.Mutate.ExchangeCA = nil
	}
	cfg, err := restConfig(kubeconfig)
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = float32(qps), burst
	mgr, err := webhook.NewManager(cfg, o, log)
	if err != nil {
		return err
	}
	log.Info("starting", "version", version.Version, "port", o.Port, "certDir", o.CertDir)
	return mgr.Start(ctx)
}

// restConfig loads the kubeconfig flag; without it, the in-cluster config
// when running in a pod (never reading $HOME, which a non-root image may not
// let it read), else $KUBECONFIG or ~/.kube/config.
func restConfig(path string) (*rest.Config, error) {
	if path == "" && os.Getenv("KUBERNETES_SERVICE_HOST") != "" {
		cfg, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("loading the in-cluster config: %w", err)
		}
		return cfg, nil
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = path
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, nil).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("loading the API server's address and credentials (--kubeconfig, $KUBECONFIG or ~/.kube/config): %w", err)
	}
	return cfg, nil
}
