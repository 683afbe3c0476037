//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
)

// pluginPath is the kubectl plugin make build puts in bin/.
func pluginPath() string { return filepath.Join(repoRoot(), "bin", "kubectl-hotreload") }

// plugin runs kubectl hotreload with the local cluster's kubeconfig and
// returns what it printed; it fails the test when the command fails.
func plugin(ctx context.Context, t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, pluginPath(), args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfigPath(), "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "kubectl hotreload %s:\n%s", strings.Join(args, " "), out)
	t.Logf("kubectl hotreload %s:\n%s", strings.Join(args, " "), out)
	return string(out)
}

// servingNow returns the pods that serve content now.
func servingNow(ctx context.Context, pods map[string]string, content string) []string {
	var out []string
	for name, ip := range pods {
		if serves(ctx, ip, content) {
			out = append(out, name)
		}
	}
	return out
}

// waitServingCount waits until exactly n of the pods serve content, and
// returns them.
func waitServingCount(ctx context.Context, t testing.TB, pods map[string]string, content string, n int, timeout time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := servingNow(ctx, pods, content)
		if len(got) == n {
			return got
		}
		require.True(t, time.Now().Before(deadline), "%d pods serve the config after %v, not %d: %v", len(got), timeout, n, got)
		time.Sleep(200 * time.Millisecond)
	}
}

// fault turns the demo app's fault on (PUT) or off (DELETE) in every pod.
func fault(ctx context.Context, t testing.TB, pods map[string]string, method string) {
	t.Helper()
	for name, ip := range pods {
		req, err := http.NewRequestWithContext(ctx, method, "http://"+ip+":8080/fault", nil)
		require.NoError(t, err)
		_, err = do(shortClient, req)
		require.NoError(t, err, "pod %s: %s /fault", name, method)
	}
}

// tmuxWatch runs `kubectl hotreload status SOURCE -w` in a detached tmux
// session, a terminal, and returns a function that reads its screen.
func tmuxWatch(ctx context.Context, t testing.TB, ns, source string) func() string {
	t.Helper()
	session := fmt.Sprintf("hotreload-e2e-%d", time.Now().UnixNano())
	cmd := fmt.Sprintf("KUBECONFIG=%s %s status %s -n %s -w", kubeconfigPath(), pluginPath(), source, ns)
	out, err := exec.CommandContext(ctx, "tmux", "new-session", "-d", "-s", session, "-x", "200", "-y", "60", cmd).CombinedOutput()
	require.NoError(t, err, "tmux: %s", out)
	t.Cleanup(func() { _ = exec.Command("tmux", "kill-session", "-t", session).Run() })
	return func() string {
		out, err := exec.CommandContext(ctx, "tmux", "capture-pane", "-p", "-t", session).CombinedOutput()
		require.NoError(t, err, "tmux capture-pane: %s", out)
		return string(out)
	}
}

// waitScreen waits until the screen shows every one of want.
func waitScreen(t testing.TB, screen func() string, timeout time.Duration, want ...string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s := screen()
		missing := ""
		for _, w := range want {
			if !strings.Contains(s, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return
		}
		require.True(t, time.Now().Before(deadline), "the watch does not show %q after %v; it shows:\n%s", missing, timeout, s)
		time.Sleep(200 * time.Millisecond)
	}
}

// TestOperateAReleaseWithKubectlHotreload: a release driven by hand through
// the plugin, with an interval of an hour so that only commands move it.
// Paused before the edit, it releases nothing; resumed, one pod; promoted,
// two. Aborted mid-step, every pod goes back to stable in place (same
// processes). Retried while the pods have a fault outside the config, the
// canary fails and the release halts again; retried once the fault is
// fixed, it goes on, and promote --full gives every pod the config. `status
// -w` in a terminal follows it all. undo then puts the first config back.
func TestOperateAReleaseWithKubectlHotreload(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cs := clusterClient(t)
	installHotreload(ctx, t, cs)
	d := demo{name: "ops", replicas: 4, subPath: true, inject: true,
		annotations: map[string]string{"hotreload/rollout": "1,50%,100%"}}
	d.ns = enabledNamespace(ctx, t, cs, "hotreload-ops-")
	setInterval(ctx, t, cs, d.ns, "1h")
	first := uniqueConfig("color=blue")
	pods := d.create(ctx, t, cs, first)
	waitFirstSeen(ctx, t, cs, d.ns, d.name, first, d.replicas)
	before := statuses(ctx, t, pods)
	src := "configmap/" + d.name
	n := "-n=" + d.ns

	require.Contains(t, plugin(ctx, t, "pause", src, n, "--reason=release window closed"), "paused")
	good := uniqueConfig("color=green")
	d.edit(ctx, t, cs, good)
	waitRelease(ctx, t, cs, d.ns, d.name, "paused on the edit", time.Minute, func(rel *v1alpha1.ConfigRelease) bool {
		return isPhase(v1alpha1.PhasePaused, sourceRevision(good))(rel) && len(rel.Status.Workloads) == 1 && rel.Status.Workloads[0].Pods == 4
	})
	requireServing(ctx, t, pods, first, "a paused release releases nothing")
	diff := plugin(ctx, t, "diff", src, n)
	require.Contains(t, diff, "-"+strings.TrimSuffix(first, "\n"))
	require.Contains(t, diff, "+"+strings.TrimSuffix(good, "\n"))

	screen := tmuxWatch(ctx, t, d.ns, src)
	waitScreen(t, screen, 30*time.Second, "Paused", "Deployment/ops", "step 0 of 3")
	plugin(ctx, t, "resume", src, n)
	canary := waitServingCount(ctx, t, pods, good, 1, 30*time.Second)
	waitScreen(t, screen, 30*time.Second, "Progressing", "step 1 of 3", canary[0])

	promoted := plugin(ctx, t, "promote", src, n, "--reason=canary looks fine")
	require.Contains(t, promoted, "step 2 of 3")
	waitServingCount(ctx, t, pods, good, 2, 30*time.Second)
	waitScreen(t, screen, 30*time.Second, "step 2 of 3")

	plugin(ctx, t, "abort", src, n, "--reason=error rate up")
	waitRelease(ctx, t, cs, d.ns, d.name, "aborted and rolled back", time.Minute, rolledBack(sourceRevision(good)))
	waitServing(ctx, t, pods, first, time.Now(), 30*time.Second)
	requireSamePIDs(ctx, t, cs, d, pods, before)
	waitScreen(t, screen, 30*time.Second, "Halted", "aborted by")

	// A fault outside the config: the retried canary fails on it, restarts
	// (which clears it) on the stable config, and the release halts again.
	fault(ctx, t, pods, http.MethodPut)
	plugin(ctx, t, "retry", src, n, "--reason=the dashboards were wrong")
	rel := waitRelease(ctx, t, cs, d.ns, d.name, "halted by the canary", 2*time.Minute, func(rel *v1alpha1.ConfigRelease) bool {
		return rolledBack(sourceRevision(good))(rel) && rel.Status.Halt.Pod != ""
	})
	t.Logf("halted at %s: %s", rel.Status.Halt.Pod, rel.Status.Halt.Cause)
	waitServing(ctx, t, pods, first, time.Now(), 90*time.Second)
	fault(ctx, t, pods, http.MethodDelete)
	plugin(ctx, t, "retry", src, n, "--reason=the fault is fixed")
	waitServingCount(ctx, t, pods, good, 1, 30*time.Second)
	plugin(ctx, t, "promote", src, n, "--full")
	waitServing(ctx, t, pods, good, time.Now(), 30*time.Second)
	setInterval(ctx, t, cs, d.ns, "2s")
	waitRelease(ctx, t, cs, d.ns, d.name, "complete", time.Minute, isPhase(v1alpha1.PhaseComplete, sourceRevision(good)))
	waitScreen(t, screen, 30*time.Second, "Complete")
	history := plugin(ctx, t, "history", src, n)
	for _, outcome := range []string{"Completed", "Halted", "Aborted", "Stable"} {
		require.Contains(t, history, outcome)
	}

	// undo writes the first config back into the ConfigMap: a new release,
	// and an Event that says who undid and why.
	undone := plugin(ctx, t, "undo", src, n, "--yes", "--reason=back to blue for the launch")
	require.Contains(t, undone, "revision "+sourceRevision(first)+" written back into the source; its release started")
	cm, err := cs.CoreV1().ConfigMaps(d.ns).Get(ctx, d.name, metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"config": first}, cm.Data)
	waitServing(ctx, t, pods, first, time.Now(), time.Minute)
	waitRelease(ctx, t, cs, d.ns, d.name, "the undo completes", time.Minute, isPhase(v1alpha1.PhaseComplete, sourceRevision(first)))

	events := objectEvents(ctx, t, cs, d.ns, "Deployment", d.name)
	for _, reason := range []string{"RolloutPaused", "RolloutResumed", "RolloutPromoted", "RolloutAborted", "RolloutRetried", "RolloutHalted", "RolloutCompleted", "RolloutUndone"} {
		require.Contains(t, events, reason, "kubectl describe deployment tells the story")
	}
	require.Contains(t, events, `"error rate up"`)
	require.Contains(t, events, `"back to blue for the launch"`)
}

// setInterval sets the namespace's hotreload/rollout-interval.
func setInterval(ctx context.Context, t testing.TB, cs kubernetes.Interface, ns, interval string) {
	t.Helper()
	patch := fmt.Sprintf(`{"metadata":{"annotations":{"hotreload/rollout-interval":%q}}}`, interval)
	_, err := cs.CoreV1().Namespaces().Patch(ctx, ns, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	require.NoError(t, err)
}
