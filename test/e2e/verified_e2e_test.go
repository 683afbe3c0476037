//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/revision"
)

// TestNginxRefusedConfigHaltsWithConfirmWorkers: nginx keeps running on a
// config it refuses, so surviving the signal says nothing. With
// hotreload/confirm: workers, a reload counts only when the master forks new
// workers. Three replicas, "1,100%": a good edit reaches every pod in place
// (same master); an edit nginx refuses halts at the first pod, whose reloader
// says the app refused it and puts the previous nginx.conf back; no other pod
// is given it; stable stays the good edit; every pod serves it; and a pod
// deleted afterwards comes back Ready on it.
func TestNginxRefusedConfigHaltsWithConfirmWorkers(t *testing.T) {
	nginxRefusal(t, "nginx-confirm-", map[string]string{annotations.Confirm: "workers"}, func(t *testing.T, cause, nginxLog string) {
		require.True(t, strings.HasPrefix(cause, "refused by the app: no new worker of pid "), "the halt's cause: %q", cause)
		require.Contains(t, cause, "after SIGHUP: it kept its old config (container nginx)")
		require.Regexp(t, `\[emerg\] \d+#\d+: unknown directive "no_such_directive"`, nginxLog, "nginx itself refused the edit")
	})
}

// TestNginxValidateRefusesBeforeTheSwap: with hotreload/validate: nginx -t,
// nginx's own check runs in a validator in nginx's image, on the staged
// nginx.conf at nginx's own path, before the swap. The same scenario as
// with confirm: workers, but the refused edit is never live on any pod and
// nginx is never told of it: the cause is nginx -t's own words.
func TestNginxValidateRefusesBeforeTheSwap(t *testing.T) {
	nginxRefusal(t, "nginx-validate-", map[string]string{annotations.Validate: "nginx -t"}, func(t *testing.T, cause, nginxLog string) {
		// nginx -t's last lines, its newlines escaped: the error on stderr (as
		// nginx.conf's error_log says), then its verdict.
		require.Regexp(t, `^refused by the app: nginx -t: exit status 1: .*\[emerg\] \d+#\d+: unknown directive "no_such_directive" in /etc/nginx/nginx.conf:\d+\\nnginx: configuration file /etc/nginx/nginx.conf test failed \(container nginx\)`, cause)
		require.NotContains(t, nginxLog, "no_such_directive", "nginx never read the refused edit")
	})
}

// nginxRefusal runs testdata/nginx.yaml, three replicas, "1,100%", with
// annotate's annotations: a good edit reaches every pod in place (same
// master); an edit nginx refuses halts at the first pod, whose reloader says
// the app refused it (checkHalt reads the cause and the halted pod's nginx
// log) and leaves the previous nginx.conf live; no other pod is given it;
// stable stays the good edit; every pod serves it; and a pod deleted
// afterwards comes back Ready on it.
func nginxRefusal(t *testing.T, prefix string, annotate map[string]string, checkHalt func(t *testing.T, cause, nginxLog string)) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	cs := clusterClient(t)
	installHotreload(ctx, t, cs)
	ns := enabledNamespace(ctx, t, cs, prefix)

	cm, dep := nginxManifest(t)
	dep.Spec.Replicas = ptr[int32](3)
	for k, v := range annotate {
		dep.Spec.Template.Annotations[k] = v
	}
	dep.Spec.Template.Annotations[annotations.Rollout] = "1,100%"
	dep.Spec.Template.Annotations[annotations.RolloutInterval] = "5s"
	const v1 = `return 200 "version 1\n";`
	conf := cm.Data["nginx.conf"]
	require.Equal(t, 1, strings.Count(conf, v1), "testdata/nginx.yaml's nginx.conf returns version 1 at /")
	_, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = cs.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{})
	require.NoError(t, err)
	pods := waitDeploymentPods(ctx, t, cs, ns, "app=nginx", 3)
	waitNginxRelease(ctx, t, cs, ns, "first seen", time.Minute, func(rel *v1alpha1.ConfigRelease) bool {
		return rel.Status.Phase == v1alpha1.PhaseComplete && rel.Status.Candidate == nginxRevision(conf) && workloadPods(rel) == 3
	})

	// A good edit: every pod serves it, reloaded in place.
	good := strings.Replace(conf, v1, `return 200 "version 2\n";`, 1)
	before := map[string]nginxState{}
	for name := range pods {
		before[name] = getNginxState(ctx, t, podNamed(ctx, t, cs, ns, name))
	}
	editNginx(ctx, t, cs, ns, good)
	waitNginxRelease(ctx, t, cs, ns, "the good edit complete", 2*time.Minute, func(rel *v1alpha1.ConfigRelease) bool {
		return rel.Status.Phase == v1alpha1.PhaseComplete && rel.Status.Stable == nginxRevision(good)
	})
	requireNginxServing(ctx, t, pods, "version 2\n", "the good edit")
	// What a pod's sidecar reports is the revision of what the pod mounts.
	applied := map[string]string{}
	for name := range pods {
		p := podNamed(ctx, t, cs, ns, name)
		applied[name] = p.Labels[annotations.Applied]
		now := getNginxState(ctx, t, p)
		require.Equal(t, before[name].master, now.master, "pod %s: the good edit reloaded the same master", name)
		require.Equal(t, before[name].containerID, now.containerID, "pod %s: the same nginx container", name)
	}

	// An edit nginx refuses: an unknown directive. It would serve version 3.
	bad := strings.Replace(good, `return 200 "version 2\n";`, `return 200 "version 3\n";`, 1)
	bad = strings.Replace(bad, "default_type text/plain;", "default_type text/plain;\n    no_such_directive on;", 1)
	editNginx(ctx, t, cs, ns, bad)
	rel := waitNginxRelease(ctx, t, cs, ns, "halted on the refused edit", 2*time.Minute, func(rel *v1alpha1.ConfigRelease) bool {
		return rel.Status.Phase == v1alpha1.PhaseHalted && rel.Status.Candidate == nginxRevision(bad) && rel.Status.Halt != nil
	})
	halt := rel.Status.Halt
	require.Equal(t, nginxRevision(good), rel.Status.Stable, "stable is still the good edit")
	require.Contains(t, pods, halt.Pod, "the halt names one of the Deployment's pods")

	requireNginxServing(ctx, t, pods, "version 2\n", "every pod after the refused edit")
	refusedRev, _, ok := annotations.FailedOf(podNamed(ctx, t, cs, ns, halt.Pod).Annotations)
	require.True(t, ok, "the halted pod says it failed")
	require.NotEqual(t, applied[halt.Pod], refusedRev)
	for name := range pods {
		p := podNamed(ctx, t, cs, ns, name)
		require.Equal(t, applied[name], p.Labels[annotations.Applied], "pod %s runs the good edit", name)
		require.NotEqual(t, refusedRev, p.Annotations[annotations.Released], "pod %s holds the refused edit", name)
		for _, c := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
			require.Zero(t, c.RestartCount, "pod %s: container %s restarted", name, c.Name)
		}
		if _, _, failed := annotations.FailedOf(p.Annotations); failed {
			require.Equal(t, halt.Pod, name, "pod %s was never given the refused edit, yet failed: %s", name, p.Annotations[annotations.Failed])
		}
	}
	raw, err := cs.CoreV1().Pods(ns).GetLogs(halt.Pod, &corev1.PodLogOptions{Container: "nginx"}).DoRaw(ctx)
	require.NoError(t, err)
	checkHalt(t, halt.Cause, string(raw))

	// A pod deleted now comes back on stable, Ready.
	require.NoError(t, cs.CoreV1().Pods(ns).Delete(ctx, halt.Pod, metav1.DeleteOptions{}))
	now := waitNewNginxPod(ctx, t, cs, ns, pods)
	requireNginxServing(ctx, t, now, "version 2\n", "every pod after a deletion")
	rel = waitNginxRelease(ctx, t, cs, ns, "still halted", time.Minute, func(rel *v1alpha1.ConfigRelease) bool {
		return rel.Status.Phase == v1alpha1.PhaseHalted && workloadPods(rel) == 3
	})
	require.Equal(t, nginxRevision(good), rel.Status.Stable)
}

// nginxRevision is the revision of testdata/nginx.yaml's ConfigMap holding conf.
func nginxRevision(conf string) string {
	return revision.Files(revision.ConfigMapKeys(&corev1.ConfigMap{Data: map[string]string{"nginx.conf": conf}})).Revision()
}

func waitNginxRelease(ctx context.Context, t testing.TB, cs kubernetes.Interface, ns, what string, timeout time.Duration, ok func(*v1alpha1.ConfigRelease) bool) *v1alpha1.ConfigRelease {
	t.Helper()
	return waitRelease(ctx, t, cs, ns, "nginx-config", what, timeout, ok)
}

func workloadPods(rel *v1alpha1.ConfigRelease) int32 {
	var n int32
	for _, w := range rel.Status.Workloads {
		n += w.Pods
	}
	return n
}

func editNginx(ctx context.Context, t testing.TB, cs kubernetes.Interface, ns, conf string) {
	t.Helper()
	patch, err := json.Marshal(map[string]any{"data": map[string]string{"nginx.conf": conf}})
	require.NoError(t, err)
	_, err = cs.CoreV1().ConfigMaps(ns).Patch(ctx, "nginx-config", types.MergePatchType, patch, metav1.PatchOptions{})
	require.NoError(t, err)
}

func podNamed(ctx context.Context, t testing.TB, cs kubernetes.Interface, ns, name string) *corev1.Pod {
	t.Helper()
	p, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	require.NoError(t, err)
	return p
}

// requireNginxServing waits (up to 20 s, for old workers to finish) until
// every pod serves want at /, on a new connection.
func requireNginxServing(ctx context.Context, t testing.TB, pods map[string]string, want, why string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var wrong []string
		for name, ip := range pods {
			if body, err := nginxGet(ctx, "http://"+ip+":8080/"); err != nil || body != want {
				wrong = append(wrong, fmt.Sprintf("%s: %q %v", name, body, err))
			}
		}
		if len(wrong) == 0 {
			return
		}
		require.True(t, time.Now().Before(deadline), "%s: pods not serving %q: %v", why, want, wrong)
		time.Sleep(100 * time.Millisecond)
	}
}

// waitNewNginxPod waits until the Deployment has as many Ready pods as old,
// one of them new, and returns them.
func waitNewNginxPod(ctx context.Context, t testing.TB, cs kubernetes.Interface, ns string, old map[string]string) map[string]string {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		pods := waitDeploymentPods(ctx, t, cs, ns, "app=nginx", len(old))
		for name := range pods {
			if _, ok := old[name]; !ok {
				return pods
			}
		}
		require.True(t, time.Now().Before(deadline), "no new nginx pod after 2m")
		time.Sleep(250 * time.Millisecond)
	}
}
