package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

// AssetsEnv is the variable that names the directory holding kube-apiserver,
// etcd and kubectl. The Makefile sets it.
const AssetsEnv = "KUBEBUILDER_ASSETS"

// BuildCommand is what a developer runs to build the control-plane binaries.
const BuildCommand = "make envtest-assets"

// Env is a running control plane.
type Env struct {
	// Config reaches the API server as a cluster admin.
	Config *rest.Config
	// Client is a controller-runtime client for Config.
	Client client.Client
	// Clientset is a client-go clientset for Config.
	Clientset kubernetes.Interface
	// Assets is the directory of the control-plane binaries.
	Assets string
	// ServerVersion is the API server's version, as it reports it.
	ServerVersion string

	env *envtest.Environment
}

// Option adjusts the control plane before it starts.
type Option func(*envtest.Environment)

// WithAPIServerArg sets a kube-apiserver flag, e.g. to enable an admission plugin.
func WithAPIServerArg(name string, values ...string) Option {
	return func(e *envtest.Environment) {
		e.ControlPlane.GetAPIServer().Configure().Set(name, values...)
	}
}

// WithCRDs installs the CustomResourceDefinitions in dirs when the control
// plane starts, and waits for them to be served.
func WithCRDs(dirs ...string) Option {
	return func(e *envtest.Environment) {
		e.CRDDirectoryPaths = append(e.CRDDirectoryPaths, dirs...)
		e.ErrorIfCRDPathMissing = true
	}
}

var (
	mu      sync.Mutex
	options []Option
	started *Env
	failure error
)

// Main runs a package's tests, then stops the control plane if a test started
// it. Call it from TestMain: `func TestMain(m *testing.M) { testenv.Main(m) }`.
//
// It sets controller-runtime's global logger to discard: the tests give each
// manager a logger of their own, and what is logged through the global one
// (the managers' clients, before they are given theirs) was dropped anyway,
// with a warning and a goroutine's stack 30 s into the run.
func Main(m *testing.M, opts ...Option) {
	ctrllog.SetLogger(logr.Discard())
	options = opts
	code := m.Run()
	if started != nil {
		if err := started.env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "testenv: stopping the control plane: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	os.Exit(code)
}

// Get returns the package's control plane, starting it on first use. It fails
// the test if the binaries are missing or the control plane does not start.
func Get(t testing.TB) *Env {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if started == nil && failure == nil {
		started, failure = start()
		if failure == nil {
			t.Logf("control plane: kube-apiserver %s, %s (from %s)", started.ServerVersion, etcdVersion(started.Assets), started.Assets)
		}
	}
	if failure != nil {
		t.Fatalf("testenv: %v", failure)
	}
	return started
}

func start() (*Env, error) {
	assets, err := findAssets()
	if err != nil {
		return nil, err
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory:    assets,
		ControlPlaneStartTimeout: 2 * time.Minute,
		ControlPlaneStopTimeout:  time.Minute,
	}
	for _, o := range options {
		o(env)
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting kube-apiserver and etcd from %s: %w", assets, err)
	}
	cfg.QPS, cfg.Burst = 500, 1000
	e := &Env{Config: cfg, Assets: assets, env: env}
	if e.Client, err = client.New(cfg, client.Options{Scheme: scheme.Scheme}); err != nil {
		return nil, err
	}
	// The clientset speaks protobuf, as the controller's client does for
	// built-in types, so that what a test watches costs the API server no
	// JSON encoding on top of what is measured.
	pb := rest.CopyConfig(cfg)
	pb.ContentType = runtime.ContentTypeProtobuf
	pb.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
	cs, err := kubernetes.NewForConfig(pb)
	if err != nil {
		return nil, err
	}
	e.Clientset = cs
	v, err := cs.Discovery().ServerVersion()
	if err != nil {
		return nil, fmt.Errorf("asking the API server its version: %w", err)
	}
	e.ServerVersion = v.GitVersion
	return e, nil
}

// findAssets checks that KUBEBUILDER_ASSETS names a directory with the binaries.
func findAssets() (string, error) {
	dir := os.Getenv(AssetsEnv)
	if dir == "" {
		return "", fmt.Errorf("%s is not set: run the integration tests with `make test`, or build the binaries with `%s` and export %s=bin/k8s/<version>", AssetsEnv, BuildCommand, AssetsEnv)
	}
	for _, b := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			return "", fmt.Errorf("%s not found in %s=%s: run `%s`", b, AssetsEnv, dir, BuildCommand)
		}
	}
	return dir, nil
}

func etcdVersion(assets string) string {
	out, err := exec.Command(filepath.Join(assets, "etcd"), "--version").Output()
	if err != nil {
		return "etcd (version unknown: " + err.Error() + ")"
	}
	first, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(first)
}

// Namespace creates a namespace with the given labels for one test and deletes
// it when the test ends. It returns the namespace's name.
func (e *Env) Namespace(t testing.TB, labels map[string]string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "test-", Labels: labels}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.Client.Create(ctx, ns); err != nil {
		t.Fatalf("creating a namespace: %v", err)
	}
	t.Cleanup(func() {
		// envtest runs no namespace controller: the namespace stays Terminating,
		// which keeps tests from seeing each other's objects all the same.
		_ = e.Client.Delete(context.Background(), ns)
	})
	return ns.Name
}
