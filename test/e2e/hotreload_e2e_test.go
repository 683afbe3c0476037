//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// TestHotreloadSubPath installs hotreload as a user does (kubectl apply -f of
// its install file), runs the demo app with its config mounted by subPath in
// an enabled namespace, edits the ConfigMap, and checks that every pod serves
// the new config within seconds, from the same process, told once by SIGHUP,
// without a restart.
func TestHotreloadSubPath(t *testing.T) {
	testDelivery(t, demo{name: "demo", replicas: 2, subPath: true}, [3]int{1, 0, 0})
}

// TestHotreloadAppWatchingItsFiles: with hotreload/signal: none the app is sent
// nothing; it sees its directory-mounted file change on its own.
func TestHotreloadAppWatchingItsFiles(t *testing.T) {
	testDelivery(t, demo{
		name:        "watcher",
		annotations: map[string]string{"hotreload/signal": "none"},
		args:        []string{"--watch=100ms"},
	}, [3]int{0, 0, 1})
}

// TestHotreloadHTTP: with hotreload/url the reloader POSTs to the app on
// loopback instead of signalling it.
func TestHotreloadHTTP(t *testing.T) {
	testDelivery(t, demo{
		name:        "http",
		subPath:     true,
		annotations: map[string]string{"hotreload/url": "http://127.0.0.1:8080/reload"},
	}, [3]int{0, 1, 0})
}

// TestHotreloadSecret: a subPath-mounted Secret is reloaded in place too.
func TestHotreloadSecret(t *testing.T) {
	testDelivery(t, demo{name: "secret", replicas: 2, secret: true, subPath: true}, [3]int{1, 0, 0})
}

// testDelivery deploys d with hotreload, edits its config once, and checks
// every pod serves the edit within 20 s from the same process, which was told
// to reload exactly as want says in every pod: SIGHUPs, POSTs to /reload,
// changes it saw itself.
func testDelivery(t testing.TB, d demo, want [3]int) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cs := clusterClient(t)
	installHotreload(ctx, t, cs)
	d.ns = enabledNamespace(ctx, t, cs, "hotreload-"+d.name+"-")
	d.inject = true

	pods := d.create(ctx, t, cs, uniqueConfig("version 1"))
	requireInjected(ctx, t, cs, d.ns, pods)
	before := statuses(ctx, t, pods)

	v2 := uniqueConfig("version 2")
	edited := d.edit(ctx, t, cs, v2)
	logTook(t, waitServing(ctx, t, pods, v2, edited, 20*time.Second))
	after := requireSameProcesses(ctx, t, cs, d, pods, before)
	require.Equal(t, each(pods, want), reloadsBy(before, after), "reloads by cause: SIGHUP, POST /reload, --watch")
}

// requireInjected checks the pods run the reloader sidecar.
func requireInjected(ctx context.Context, t testing.TB, cs kubernetes.Interface, ns string, pods map[string]string) {
	t.Helper()
	for name := range pods {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		require.NoError(t, err)
		require.NotEmpty(t, p.Annotations["hotreload/injected"], "pod %s was not injected", name)
	}
}

type demoStatus struct {
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
	Loads   int       `json:"loads"`
	Sighups int       `json:"sighups"`
	Posts   int       `json:"posts"`
	Watched int       `json:"watched"`
}

func getStatus(ctx context.Context, t testing.TB, ip string) demoStatus {
	t.Helper()
	var s demoStatus
	require.NoError(t, json.Unmarshal([]byte(httpGet(ctx, t, "http://"+ip+":8080/status")), &s))
	return s
}

// installHotreload installs hotreload as a user does, kubectl apply -f of
// its install file (installFile: the webhook's and the reloader's images
// pinned by digest, pulled from the cluster's registry), and waits until the
// webhook answers admission requests: a dry-run pod in an enabled namespace
// comes back injected. (The Deployment being Available is not enough:
// kube-proxy programs the webhook's Service a moment later, and pods created
// before then are admitted without hotreload, failurePolicy Ignore.)
func installHotreload(ctx context.Context, t testing.TB, cs kubernetes.Interface) {
	t.Helper()
	_, getErr := cs.AppsV1().Deployments(hotreloadNamespace).Get(ctx, "hotreload-webhook", metav1.GetOptions{})
	apply(ctx, t, installFile(t))
	if getErr == nil {
		restartOnce.Do(func() {
			// The cluster outlived an earlier run: its webhook pods may serve
			// certificates older than the ones just applied.
			kubectl(ctx, t, "-n", hotreloadNamespace, "rollout", "restart", "deployment/hotreload-webhook")
			kubectl(ctx, t, "-n", hotreloadNamespace, "rollout", "status", "deployment/hotreload-webhook", "--timeout=3m")
		})
	}
	waitInjecting(ctx, t, cs)
}

// installFile is the install file of the hotreload the tests run:
// $HOTRELOAD_INSTALL (make e2e names the one make cluster wrote), else
// dist/hotreload-dev-selfsigned.yaml.
func installFile(t testing.TB) string {
	t.Helper()
	file := os.Getenv("HOTRELOAD_INSTALL")
	if file == "" {
		file = filepath.Join(repoRoot(), "dist", "hotreload-dev-selfsigned.yaml")
	}
	_, err := os.Stat(file)
	require.NoError(t, err, "no install file; run: make cluster (make cluster-push writes it)")
	return file
}

// apply is kubectl apply -f file.
func apply(ctx context.Context, t testing.TB, file string) {
	t.Helper()
	kubectl(ctx, t, "apply", "-f", file)
}

// kubectl runs kubectl (bin/k8s's, or $KUBECTL) against the local cluster
// and returns what it wrote to stdout; it fails the test, with stderr, when
// kubectl fails.
func kubectl(ctx context.Context, t testing.TB, args ...string) string {
	t.Helper()
	bin := os.Getenv("KUBECTL")
	if bin == "" {
		bin = filepath.Join(repoRoot(), "bin", "k8s", "v1.37.2", "kubectl")
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfigPath())
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "kubectl %s:\n%s%s", strings.Join(args, " "), stdout.String(), stderr.String())
	return stdout.String()
}

// restartOnce restarts the webhook once per run on a cluster that had it
// installed already.
var restartOnce sync.Once

// waitInjecting waits until the webhook injects pods: dry-run pods in an
// enabled namespace come back injected, 10 in a row. (After a restart of the
// webhook one answer is not enough: until kube-proxy drops a terminated
// replica's endpoint, a request that goes there is admitted unchanged.)
func waitInjecting(ctx context.Context, t testing.TB, cs kubernetes.Interface) {
	t.Helper()
	probeNs := enabledNamespace(ctx, t, cs, "hotreload-probe-")
	probe := demoPod("probe", "none")
	probe.Labels["hotreload/enable"] = "true"
	deadline := time.Now().Add(90 * time.Second)
	for inARow := 0; ; {
		p, err := cs.CoreV1().Pods(probeNs).Create(ctx, probe, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err == nil && p.Annotations["hotreload/injected"] != "" {
			if inARow++; inARow == 10 {
				return
			}
			continue
		}
		inARow = 0
		require.True(t, time.Now().Before(deadline),
			"the hotreload webhook does not inject pods after 90s (see kubectl -n hotreload-system logs deploy/hotreload-webhook and bin/cluster/logs/kube-apiserver.log); last error: %v", err)
		time.Sleep(500 * time.Millisecond)
	}
}

// waitDeploymentPods waits for n Ready pods matching selector and returns
// their names and IPs.
func waitDeploymentPods(ctx context.Context, t testing.TB, cs kubernetes.Interface, ns, selector string, n int) map[string]string {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		require.NoError(t, err)
		ready := readyOf(list)
		var states []string
		for _, p := range list.Items {
			states = append(states, p.Name+": "+string(p.Status.Phase))
		}
		if len(ready) == n {
			return ready
		}
		require.True(t, time.Now().Before(deadline), "%d of %d pods Ready after 90s: %s", len(ready), n, strings.Join(states, ", "))
		time.Sleep(250 * time.Millisecond)
	}
}

// enabledNamespace creates a namespace labelled hotreload/injection=enabled,
// deleted when the test ends.
func enabledNamespace(ctx context.Context, t testing.TB, cs kubernetes.Interface, prefix string) string {
	t.Helper()
	ns := createNamespace(ctx, t, cs, prefix)
	enableInjection(ctx, t, cs, ns)
	return ns
}

// enableInjection labels the namespace hotreload/injection=enabled.
func enableInjection(ctx context.Context, t testing.TB, cs kubernetes.Interface, ns string) {
	t.Helper()
	n, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	require.NoError(t, err)
	if n.Labels == nil {
		n.Labels = map[string]string{}
	}
	n.Labels["hotreload/injection"] = "enabled"
	_, err = cs.CoreV1().Namespaces().Update(ctx, n, metav1.UpdateOptions{})
	require.NoError(t, err)
}

// repoRoot is the repository's root directory, found from this file's path.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}
