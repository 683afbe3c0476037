//go:build integration

package rollout

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"
)

// controllerProcessEnv, set to a namespace, makes the test binary run the
// rollout controller alone, leader in that namespace, instead of the tests.
const controllerProcessEnv = "HOTRELOAD_TEST_CONTROLLER_NAMESPACE"

// runControllerProcess runs the rollout controller as the webhook binary
// sets it up (its caches without managed fields, its default client limits;
// the parent gives it the GOMEMLIMIT deploy/base gives the webhook),
// against the API server of $KUBECONFIG, until its stdin closes.
func runControllerProcess(ns string) int {
	ctrllog.SetLogger(logr.Discard())
	cfg, err := clientcmd.BuildConfigFromFlags("", os.Getenv("KUBECONFIG"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	mgr, err := manager.New(cfg, manager.Options{
		Scheme:                        testScheme,
		Logger:                        logr.Discard(),
		Metrics:                       metricsserver.Options{BindAddress: "0"},
		LeaderElection:                true,
		LeaderElectionID:              "hotreload-controller",
		LeaderElectionNamespace:       ns,
		LeaderElectionReleaseOnCancel: true,
		Cache:                         cache.Options{DefaultTransform: cache.TransformStripManagedFields()},
	})
	if err == nil {
		err = Setup(mgr, Options{Registry: prometheus.NewRegistry()})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	if err := mgr.Start(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// controllerProcess is the rollout controller running in a process of its
// own, so that its memory is its alone.
type controllerProcess struct {
	cmd  *exec.Cmd
	stop io.Closer
}

// startControllerProcess runs the controller in a child process, leader in
// c's namespace, until stop or the end of the test.
func (c *cluster) startControllerProcess() *controllerProcess {
	c.t.Helper()
	kubeconfig := c.kubeconfig()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), controllerProcessEnv+"="+c.ns, "KUBECONFIG="+kubeconfig)
	if limit := deployedEnv(c.t, "GOMEMLIMIT"); limit != "" && os.Getenv("HOTRELOAD_BENCH_NO_GOMEMLIMIT") == "" {
		cmd.Env = append(cmd.Env, "GOMEMLIMIT="+limit)
	}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(c.t, err)
	require.NoError(c.t, cmd.Start())
	p := &controllerProcess{cmd: cmd, stop: stdin}
	c.t.Cleanup(p.wait)
	return p
}

// deployedEnv returns the value deploy/base gives the webhook's variable
// name, "" when it gives none.
func deployedEnv(t testing.TB, name string) string {
	raw, err := os.ReadFile(filepath.Join("..", "..", "deploy", "base", "deployment.yaml"))
	require.NoError(t, err)
	var d appsv1.Deployment
	require.NoError(t, yaml.Unmarshal(raw, &d))
	for _, c := range d.Spec.Template.Spec.Containers {
		for _, e := range c.Env {
			if e.Name == name {
				return e.Value
			}
		}
	}
	return ""
}

// wait stops the controller and waits for its process to end.
func (p *controllerProcess) wait() {
	p.stop.Close()
	_ = p.cmd.Wait()
}

// memory returns the process's resident set size, and its peak, in bytes.
func (p *controllerProcess) memory(t testing.TB) (rss, peak uint64) {
	return memoryOf(t, strconv.Itoa(p.cmd.Process.Pid))
}

// memoryOf returns the resident set size of process pid ("self" for this
// one), and its peak, in bytes.
func memoryOf(t testing.TB, pid string) (rss, peak uint64) {
	f, err := os.Open(filepath.Join("/proc", pid, "status"))
	require.NoError(t, err)
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		key, v, _ := strings.Cut(s.Text(), ":")
		kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		switch key {
		case "VmRSS":
			require.NoError(t, err)
			rss = kb << 10
		case "VmHWM":
			require.NoError(t, err)
			peak = kb << 10
		}
	}
	require.NoError(t, s.Err())
	require.NotZero(t, rss, "VmRSS of process %s", pid)
	return rss, peak
}

// kubeconfig writes a kubeconfig file holding the API server and the
// admin's credentials, and returns its path.
func (c *cluster) kubeconfig() string {
	c.t.Helper()
	path := filepath.Join(c.t.TempDir(), "kubeconfig")
	require.NoError(c.t, clientcmd.WriteToFile(kubeconfigOf(c.env.Config), path))
	return path
}

// kubeconfigOf is a kubeconfig holding cfg's server and credentials.
func kubeconfigOf(cfg *rest.Config) clientcmdapi.Config {
	return clientcmdapi.Config{
		Clusters: map[string]*clientcmdapi.Cluster{"test": {Server: cfg.Host, CertificateAuthorityData: cfg.CAData}},
		AuthInfos: map[string]*clientcmdapi.AuthInfo{"test": {ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData,
			Token: cfg.BearerToken}},
		Contexts:       map[string]*clientcmdapi.Context{"test": {Cluster: "test", AuthInfo: "test"}},
		CurrentContext: "test",
	}
}
