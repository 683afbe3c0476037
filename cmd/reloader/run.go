package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"regexp"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/hotreload/hotreload/internal/cli"
	"github.com/hotreload/hotreload/pkg/reload"
)

const runSynopsis = "--volume V ... --container C ... [--signal SIG | --url URL | --signal none] [--process REGEXP] [--wait-release] [flags]"

const runDescription = `The sidecar. Keeps the live copy of each volume at the newest released revision
(or, without --wait-release, the newest mounted one): waits until the mounted
sources hash to it, swaps the live copy atomically, tells the app (signal to
the container's main process, or a loopback HTTP POST), and reports
hotreload/applied or hotreload/failed on its own pod, named by POD_NAME and
POD_NAMESPACE. Serves /healthz and /readyz (ready once the live copies exist).`

func runCommand(ctx context.Context, fs *flag.FlagSet, args []string) error {
	var (
		vols                            volumeFlags
		containers                      listFlag
		signal, url, process, addr, kcf string
		podName, podNamespace           string
		waitRelease                     bool
		verify, resync, grace           time.Duration
	)
	vols.register(fs)
	fs.Var(&containers, "container", "an app container to tell about new config (repeatable, or comma-separated)")
	fs.StringVar(&signal, "signal", "SIGHUP", "signal to send the app, or none")
	fs.StringVar(&url, "url", "", "loopback `URL` to POST instead of a signal")
	fs.StringVar(&process, "process", "", "`REGEXP` on the command line picking the process to signal (default: the container's main process)")
	fs.BoolVar(&waitRelease, "wait-release", false, "apply only the revision the controller released in hotreload/released")
	fs.StringVar(&addr, "health-addr", ":8081", "`ADDR` serving /healthz and /readyz")
	fs.DurationVar(&verify, "verify-timeout", 2*time.Minute, "how long to wait for the mounted sources to reach a released revision")
	fs.DurationVar(&resync, "resync", time.Minute, "period of the safety-net re-hash of the sources")
	fs.DurationVar(&grace, "grace", time.Second, "how long the process must survive the signal")
	fs.StringVar(&kcf, "kubeconfig", "", "kubeconfig `FILE` (default: in-cluster)")
	fs.StringVar(&podName, "pod-name", os.Getenv("POD_NAME"), "this pod's name (default $POD_NAME)")
	fs.StringVar(&podNamespace, "pod-namespace", os.Getenv("POD_NAMESPACE"), "this pod's namespace (default $POD_NAMESPACE)")
	if err := cli.Parse(fs, args, runSynopsis, runDescription); err != nil {
		return err
	}
	if podName == "" || podNamespace == "" || len(vols.volumes) == 0 {
		fs.Usage()
		return errors.New("--volume, and POD_NAME and POD_NAMESPACE (or --pod-name, --pod-namespace) are required")
	}
	method, err := reload.ParseMethod(signal, url)
	if err != nil {
		return err
	}
	var re *regexp.Regexp
	if process != "" {
		if re, err = regexp.Compile(process); err != nil {
			return fmt.Errorf("--process: %w", err)
		}
	}
	cfg, err := restConfig(kcf)
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	r := reload.New(reload.Options{
		Client: client, Namespace: podNamespace, PodName: podName,
		Live:        &reload.Live{SrcRoot: vols.srcDir, LiveRoot: vols.liveDir, Volumes: vols.volumes},
		Containers:  containers,
		Deliverer:   &reload.Deliverer{Method: method, Process: re, Grace: grace},
		WaitRelease: waitRelease, VerifyTimeout: verify, Resync: resync,
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--health-addr: %w", err)
	}
	srv := &http.Server{Handler: healthHandler(r), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	slog.Info("reloader starting", "pod", podNamespace+"/"+podName, "volumes", vols.volumes,
		"containers", containers, "method", method.String(), "waitRelease", waitRelease, "healthAddr", ln.Addr().String())
	return r.Run(ctx)
}

func healthHandler(r *reload.Reloader) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !r.Ready() {
			http.Error(w, "live copy not written yet", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	return mux
}

func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		return clientcmd.BuildConfigFromFlags("", kubeconfig)
	}
	return rest.InClusterConfig()
}
