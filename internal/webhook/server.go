package webhook

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/version"
	"k8s.io/client-go/discovery"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/leaderelection"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/internal/access"
	"github.com/hotreload/hotreload/internal/identity"
	"github.com/hotreload/hotreload/pkg/mutate"
	"github.com/hotreload/hotreload/pkg/notify"
	"github.com/hotreload/hotreload/pkg/rollout"
)

// Native sidecar modes of ServerOptions.NativeSidecar.
const (
	NativeSidecarAuto  = "auto" // native when the API server is 1.29 or later
	NativeSidecarTrue  = "true"
	NativeSidecarFalse = "false"
)

// ServerOptions configures `webhook serve`.
type ServerOptions struct {
	// Host and Port the admission server listens on over TLS.
	Host string
	Port int
	// ExchangePort serves the reloaders' token exchange over TLS, and is the
	// only port that does, so that a NetworkPolicy can admit only enabled
	// namespaces to it (the admission port takes the API server's requests,
	// from any address). Default DefaultExchangePort.
	ExchangePort int
	// CertDir holds tls.crt and tls.key; rotated files are picked up without a restart.
	CertDir string
	// MetricsAddr serves Prometheus metrics ("0" disables).
	MetricsAddr string
	// MetricsSecure serves them over TLS (CertDir's certificate), to callers
	// the API server authenticates and allows GET on /metrics (a TokenReview
	// and a SubjectAccessReview per new token), within Scrapes; else over
	// plain HTTP to anyone.
	MetricsSecure bool
	// Scrapes bound the reviews a caller of the metrics port costs (default
	// DefaultScrapeLimits).
	Scrapes ScrapeLimits
	// HealthAddr serves /healthz and /readyz.
	HealthAddr string
	// LeaderElection elects one replica to run the rollout controller;
	// admission is served by every replica.
	LeaderElection          bool
	LeaderElectionNamespace string
	// ControllerQPS and ControllerBurst bound the rollout controller's client
	// (default rollout.DefaultQPS and DefaultBurst).
	ControllerQPS   float32
	ControllerBurst int
	// ReloaderTokenTTL is the lifetime of the reloader tokens the exchange
	// issues (default identity.DefaultTTL).
	ReloaderTokenTTL time.Duration
	// InstallNamespace is the namespace hotreload is installed in; it owns
	// what the controller makes in enabled namespaces, so that uninstalling
	// deletes those too (access.Options.InstallNamespace). Empty: no owner.
	InstallNamespace string
	// NativeSidecar is auto, true or false.
	NativeSidecar string
	// Mutate are the options every admission uses.
	Mutate mutate.Options
	// Registry receives hotreload's metrics. Default: controller-runtime's
	// registry, served on MetricsAddr.
	Registry prometheus.Registerer
	// Admission and Exchange bound each request of the admission port and
	// of the exchange's (default AdmissionLimits, ExchangeLimits).
	Admission, Exchange Limits
	// NotificationsSecret names the Secret, in InstallNamespace, that says
	// where the controller sends a release's outcomes; empty, or no
	// InstallNamespace: none are sent.
	NotificationsSecret string
}

// DefaultExchangePort is the token exchange's port: the container port the
// Service's port exchange leads to (contract.DefaultExchangeURL).
const DefaultExchangePort = 9444

// NewManager builds the manager that serves admission, the token exchange,
// metrics and health on every replica, and runs the controllers in a manager
// of their own (controllers): losing the lease stops them only
// (docs/design/2026-12-07-admission-without-leadership.md).
func NewManager(cfg *rest.Config, o ServerOptions, log logr.Logger) (manager.Manager, error) {
	if o.ExchangePort == 0 {
		o.ExchangePort = DefaultExchangePort
	}
	if o.ExchangePort == o.Port {
		return nil, fmt.Errorf("--exchange-port=%d is the admission port: give the token exchange a port of its own", o.ExchangePort)
	}
	native, err := nativeSidecar(cfg, o.NativeSidecar)
	if err != nil {
		return nil, err
	}
	o.Mutate.NativeSidecar = native
	log.Info("reloader sidecar", "native", native, "image", o.Mutate.ReloaderImage)

	if o.Registry == nil {
		o.Registry = metrics.Registry
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	mgr, err := manager.New(cfg, manager.Options{
		Scheme:                 scheme,
		Logger:                 log,
		Metrics:                metricsOptions(o),
		HealthProbeBindAddress: o.HealthAddr,
		Cache:                  cache.Options{DefaultTransform: cache.TransformStripManagedFields()},
		WebhookServer:          tlsServer(o, o.Port),
	})
	if err != nil {
		return nil, fmt.Errorf("creating the manager: %w", err)
	}

	injector := &Injector{
		Namespaces: mgr.GetClient(),
		Sources:    NewSourceReader(mgr.GetAPIReader()),
		Options:    o.Mutate,
		Decoder:    admission.NewDecoder(scheme),
		Metrics:    NewMetrics(o.Registry, o.CertDir),
	}
	mgr.GetWebhookServer().Register(Path, guard(o.Admission.orDefault(AdmissionLimits), &webhook.Admission{Handler: injector}))
	exchanger, err := identity.New(mgr, identity.Options{ReloaderImage: o.Mutate.ReloaderImage, TTL: o.ReloaderTokenTTL})
	if err != nil {
		return nil, fmt.Errorf("serving reloader tokens: %w", err)
	}
	exchange := guard(o.Exchange.orDefault(ExchangeLimits), exchanger)
	// Not ready while reloader tokens could reach beyond their pods.
	if err := mgr.AddReadyzCheck("reloader-policy", func(r *http.Request) error { return exchanger.PolicyInForce(r.Context()) }); err != nil {
		return nil, err
	}
	srv := tlsServer(o, o.ExchangePort)
	srv.Register(identity.Path, exchange)
	if err := mgr.Add(srv); err != nil {
		return nil, fmt.Errorf("serving reloader tokens on port %d: %w", o.ExchangePort, err)
	}
	if err := mgr.AddReadyzCheck("exchange", srv.StartedChecker()); err != nil {
		return nil, err
	}
	mgr.GetWebhookServer().Register(identity.Path, exchangeMoved(o.ExchangePort))
	ctrl := &controllers{cfg: cfg, o: o, scheme: scheme, log: log.WithName("controllers")}
	if o.LeaderElection {
		// One lock, made once, so one identity for every manager the
		// process makes (controllers.lock).
		ctrl.lock, err = leaderelection.NewResourceLock(cfg, mgr, leaderelection.Options{
			LeaderElection: true, LeaderElectionID: leaseName, LeaderElectionNamespace: o.LeaderElectionNamespace,
			RenewDeadline: renewDeadline,
		})
		if err != nil {
			return nil, fmt.Errorf("the controllers' lease: %w", err)
		}
	}
	if o.NotificationsSecret != "" && o.InstallNamespace != "" {
		// The process's, not the leader's: what it queued is sent after a
		// lost lease too.
		secret := types.NamespacedName{Namespace: o.InstallNamespace, Name: o.NotificationsSecret}
		n, err := notify.New(notify.Options{Reader: mgr.GetAPIReader(), Secret: secret, Registry: o.Registry, Log: log.WithName("notifications")})
		if err != nil {
			return nil, err
		}
		if err := mgr.Add(n); err != nil {
			return nil, err
		}
		ctrl.notifier = n
		log.Info("notifications", "secret", secret.String())
	}
	if _, err := ctrl.newManager(); err != nil { // fail now, not in the loop, on a bad option
		return nil, err
	}
	if err := mgr.Add(ctrl); err != nil {
		return nil, err
	}

	// Start the namespace informer with the manager rather than on the first
	// admission, so no request waits for a cache to fill.
	if _, err := mgr.GetCache().GetInformer(context.Background(), &corev1.Namespace{}); err != nil {
		return nil, fmt.Errorf("watching namespaces: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return nil, err
	}
	if err := mgr.AddReadyzCheck("webhook", mgr.GetWebhookServer().StartedChecker()); err != nil {
		return nil, err
	}
	return mgr, nil
}

// controllers runs the controllers (the access reconciler, the rollout
// controller) in a manager of their own, leader-elected: when it stops for a
// lost lease, another is made, which campaigns again. The serving manager
// runs it on every replica.
type controllers struct {
	cfg    *rest.Config
	o      ServerOptions
	scheme *runtime.Scheme
	log    logr.Logger
	// notifier, when set, sends the releases' outcomes.
	notifier rollout.Notifier
	// lock is the controller's lease, with the process's identity: every
	// manager the process makes campaigns as the same candidate, so that one
	// made after a lost lease that still names this process (the API server
	// came back) renews it at once instead of waiting out its term.
	lock resourcelock.Interface
}

// campaignAgain is how long a replica whose controllers stopped waits before
// it campaigns for the lease again.
const campaignAgain = time.Second

// Start runs the controllers until ctx ends. A manager that cannot be made
// (the API server away: the access reconciler asks who it is) is tried again
// as one that stopped: nothing here ends the process.
func (c *controllers) Start(ctx context.Context) error {
	for {
		mgr, err := c.newManager()
		if err == nil {
			err = mgr.Start(ctx)
		}
		if ctx.Err() != nil {
			return nil
		}
		c.log.Info("the controllers stopped; campaigning for the lease again", "reason", fmt.Sprint(err))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(campaignAgain):
		}
	}
}

// newManager builds the controllers' manager: no listener, leader election
// as o says, the access reconciler and the rollout controller. Their metrics
// are registered once per process; a later manager finds them in place.
func (c *controllers) newManager() (manager.Manager, error) {
	o := c.o
	mgr, err := manager.New(c.cfg, manager.Options{
		Scheme:                              c.scheme,
		Logger:                              c.log,
		Metrics:                             metricsserver.Options{BindAddress: "0"},
		LeaderElection:                      o.LeaderElection,
		LeaderElectionResourceLockInterface: c.lock,
		// The lease's name, also the name of controller-runtime's
		// leader_election_master_status that HotreloadNoLeader reads.
		LeaderElectionID: leaseName,
		// A leader that is stopped (a rollout, an upgrade, a drain) hands the
		// lease over at once rather than after its 15 s term.
		LeaderElectionReleaseOnCancel: true,
		Cache:                         cache.Options{DefaultTransform: cache.TransformStripManagedFields()},
		// The same controllers are made again after a lost lease.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return nil, fmt.Errorf("creating the controllers' manager: %w", err)
	}
	// The sidecars trust the CA that signed this server's certificate
	// (cert-manager and certs/ both write ca.crt), as it rotates.
	if err := access.Setup(mgr, access.Options{CAFile: filepath.Join(o.CertDir, "ca.crt"), InstallNamespace: o.InstallNamespace}); err != nil {
		return nil, fmt.Errorf("setting up the reloader's access per namespace: %w", err)
	}
	ro := rollout.Options{Registry: o.Registry, QPS: o.ControllerQPS, Burst: o.ControllerBurst, Notifier: c.notifier}
	if err := rollout.Setup(mgr, ro); err != nil {
		return nil, fmt.Errorf("adding the rollout controller: %w", err)
	}
	return mgr, nil
}

// exchangeMoved answers the token exchange's path on the admission port,
// where sidecars injected before the exchange had a port of its own look for
// it: 410 Gone, saying what to do, without reading the request.
func exchangeMoved(port int) http.Handler {
	msg := fmt.Sprintf("the token exchange is served on its own port only (%d, the Service's port named exchange), not on the admission port: "+
		"this pod's sidecar was injected by an older hotreload; recreate the pod (e.g. kubectl rollout restart) to inject a current one", port)
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { http.Error(w, msg, http.StatusGone) })
}

// tlsServer is an HTTPS server on o.Host and port with o.CertDir's
// certificate (reloaded as it rotates), TLS hardened (hardenTLS): the
// admission port and the exchange's.
func tlsServer(o ServerOptions, port int) webhook.Server {
	return webhook.NewServer(webhook.Options{Host: o.Host, Port: port, CertDir: o.CertDir, TLSOpts: []func(*tls.Config){hardenTLS}})
}

// metricsOptions serves metrics where o says: over TLS with the webhook's
// certificate, behind the API server's authentication and authorisation
// (controller-runtime's filter) within o.Scrapes, unless o.MetricsSecure is
// false.
func metricsOptions(o ServerOptions) metricsserver.Options {
	m := metricsserver.Options{BindAddress: o.MetricsAddr}
	if o.MetricsSecure {
		scrapes := o.Scrapes
		if scrapes == (ScrapeLimits{}) {
			scrapes = DefaultScrapeLimits
		}
		m.SecureServing, m.CertDir, m.TLSOpts = true, o.CertDir, []func(*tls.Config){hardenTLS}
		m.FilterProvider = limitScrapes(scrapes, filters.WithAuthenticationAndAuthorization)
	}
	return m
}

// nativeSidecar resolves the NativeSidecar mode against the API server.
func nativeSidecar(cfg *rest.Config, mode string) (bool, error) {
	switch mode {
	case NativeSidecarTrue:
		return true, nil
	case NativeSidecarFalse:
		return false, nil
	case NativeSidecarAuto, "":
	default:
		return false, fmt.Errorf("--native-sidecar=%q: want auto, true or false", mode)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return false, err
	}
	info, err := dc.ServerVersion()
	if err != nil {
		return false, fmt.Errorf("asking the API server its version (set --native-sidecar to skip): %w", err)
	}
	return SupportsNativeSidecar(info.Major, info.Minor, info.GitVersion), nil
}

// SupportsNativeSidecar reports whether an API server of this version runs init
// containers with restartPolicy Always as sidecars (1.29 and later).
func SupportsNativeSidecar(major, minor, gitVersion string) bool {
	if v, err := version.ParseGeneric(gitVersion); err == nil {
		return v.AtLeast(version.MajorMinor(1, 29))
	}
	maj, err1 := strconv.Atoi(major)
	min, err2 := strconv.Atoi(strings.TrimSuffix(minor, "+"))
	if err1 != nil || err2 != nil {
		return false
	}
	return maj > 1 || (maj == 1 && min >= 29)
}

// leaseName is the controller's lease.
const leaseName = "hotreload-controller"

// renewDeadline is the manager's default renewal deadline, which the
// controllers' manager keeps; the lock's requests are bounded below it.
const renewDeadline = 10 * time.Second
