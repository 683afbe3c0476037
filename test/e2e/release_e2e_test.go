//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crlog "sigs.k8s.io/controller-runtime/pkg/log"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/revision"
)

// releases reads ConfigReleases on the local cluster.
func releases(t testing.TB) client.Client {
	t.Helper()
	crlog.SetLogger(logr.Discard()) // the client's own logs are not the tests'
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfigPath())
	require.NoError(t, err)
	s := runtime.NewScheme()
	require.NoError(t, clientgoscheme.AddToScheme(s))
	require.NoError(t, v1alpha1.AddToScheme(s))
	c, err := client.New(cfg, client.Options{Scheme: s})
	require.NoError(t, err)
	return c
}

// sourceRevision is the revision of a ConfigMap holding the demo's config,
// as its release names it.
func sourceRevision(content string) string {
	return revision.Files(revision.ConfigMapKeys(&corev1.ConfigMap{Data: map[string]string{"config": content}})).Revision()
}

// secretRevision is the revision of a Secret holding the demo's config, as
// its release names it.
func secretRevision(content string) string {
	return revision.Files(revision.SecretKeys(&corev1.Secret{Data: map[string][]byte{"config": []byte(content)}})).Revision()
}

// waitRelease waits until the release of ConfigMap name satisfies ok, and
// returns it; on timeout it fails with the release and the namespace's Events.
func waitRelease(ctx context.Context, t testing.TB, cs kubernetes.Interface, ns, name, what string, timeout time.Duration, ok func(*v1alpha1.ConfigRelease) bool) *v1alpha1.ConfigRelease {
	t.Helper()
	return waitReleaseNamed(ctx, t, cs, ns, "configmap-"+name, what, timeout, ok)
}

// waitReleaseNamed is waitRelease for the release named release
// (configmap-NAME or secret-NAME).
func waitReleaseNamed(ctx context.Context, t testing.TB, cs kubernetes.Interface, ns, release, what string, timeout time.Duration, ok func(*v1alpha1.ConfigRelease) bool) *v1alpha1.ConfigRelease {
	t.Helper()
	c := releases(t)
	deadline := time.Now().Add(timeout)
	var last *v1alpha1.ConfigRelease
	for {
		rel := &v1alpha1.ConfigRelease{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: release}, rel); err == nil {
			last = rel
			if ok(rel) {
				return rel
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			b, _ := json.MarshalIndent(last, "", "  ")
			t.Fatalf("release %s/%s: %s: not after %v:\n%s\nEvents: %v\n%s", ns, release, what, timeout, b, allEvents(ctx, cs, ns), explainNamespace(cs, ns))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// explainNamespace is explainPod for every pod of namespace ns, then the
// controller's log lines that name ns.
func explainNamespace(cs kubernetes.Interface, ns string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var b strings.Builder
	list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		fmt.Fprintf(&b, "pods of %s: %v\n", ns, err)
	} else {
		for i := range list.Items {
			explainPod(ctx, cs, &b, &list.Items[i])
		}
	}
	ctl, err := cs.CoreV1().Pods(hotreloadNamespace).List(ctx, metav1.ListOptions{LabelSelector: webhookSelector})
	if err != nil {
		fmt.Fprintf(&b, "controller pods: %v\n", err)
		return b.String()
	}
	for _, p := range ctl.Items {
		raw, err := cs.CoreV1().Pods(p.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{TailLines: ptr[int64](5000)}).DoRaw(ctx)
		fmt.Fprintf(&b, "controller %s log for %s (%v):\n", p.Name, ns, err)
		for _, line := range strings.Split(string(raw), "\n") {
			if strings.Contains(line, ns) {
				fmt.Fprintln(&b, line)
			}
		}
	}
	return b.String()
}

// waitFirstSeen waits until the release of ConfigMap name is complete at
// content with every one of the pods consuming it counted: their reloaders
// reported, so that a change from now on is released to them all.
func waitFirstSeen(ctx context.Context, t testing.TB, cs kubernetes.Interface, ns, name, content string, pods int32) {
	t.Helper()
	waitCounted(ctx, t, cs, ns, "configmap-"+name, sourceRevision(content), pods)
}

// waitCounted is waitFirstSeen for the release named release, complete at
// revision rev.
func waitCounted(ctx context.Context, t testing.TB, cs kubernetes.Interface, ns, release, rev string, pods int32) {
	t.Helper()
	waitReleaseNamed(ctx, t, cs, ns, release, fmt.Sprintf("first seen, %d pods", pods), time.Minute, func(rel *v1alpha1.ConfigRelease) bool {
		var n int32
		for _, w := range rel.Status.Workloads {
			n += w.Pods
		}
		return isPhase(v1alpha1.PhaseComplete, rev)(rel) && n == pods
	})
}

// start creates d in a new enabled namespace, serving content, and waits
// until its release counts every pod; it returns the pods.
func (d *demo) start(ctx context.Context, t testing.TB, cs kubernetes.Interface, content string) map[string]string {
	t.Helper()
	d.ns = enabledNamespace(ctx, t, cs, "hotreload-"+d.name+"-")
	pods := d.create(ctx, t, cs, content)
	waitCounted(ctx, t, cs, d.ns, d.release(), d.revision(content), d.replicas)
	return pods
}

func isPhase(p v1alpha1.Phase, candidate string) func(*v1alpha1.ConfigRelease) bool {
	return func(rel *v1alpha1.ConfigRelease) bool {
		return rel.Status.Phase == p && rel.Status.Candidate == candidate
	}
}

func rolledBack(candidate string) func(*v1alpha1.ConfigRelease) bool {
	return func(rel *v1alpha1.ConfigRelease) bool {
		return rel.Status.Phase == v1alpha1.PhaseHalted && rel.Status.Candidate == candidate && rel.Status.Halt != nil && rel.Status.Halt.RolledBack
	}
}

// requireServing requires that every pod serves content now.
func requireServing(ctx context.Context, t testing.TB, pods map[string]string, content, why string) {
	t.Helper()
	for name, ip := range pods {
		require.Equal(t, content, httpGet(ctx, t, "http://"+ip+":8080/"), "pod %s: %s", name, why)
	}
}

// patchDeployment merge-patches the demo's Deployment.
func patchDeployment(ctx context.Context, t testing.TB, cs kubernetes.Interface, ns, name, patch string) {
	t.Helper()
	_, err := cs.AppsV1().Deployments(ns).Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	require.NoError(t, err)
}

// waitNewPods waits until the Deployment's Ready pods are n, none of them in
// old, and returns them.
func waitNewPods(ctx context.Context, t testing.TB, cs kubernetes.Interface, d demo, n int, old map[string]string) map[string]string {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		pods := waitDeploymentPods(ctx, t, cs, d.ns, "app="+d.name, n)
		fresh := true
		for name := range pods {
			if _, ok := old[name]; ok {
				fresh = false
			}
		}
		list, err := cs.CoreV1().Pods(d.ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + d.name})
		require.NoError(t, err)
		if fresh && len(list.Items) == n {
			return pods
		}
		require.True(t, time.Now().Before(deadline), "the Deployment's pods are not %d new ones after 2m", n)
		time.Sleep(250 * time.Millisecond)
	}
}

// TestReleaseHaltHoldsThroughChurn: a config the app crashes on reaches the
// first pod of "1,50%,100%" only; the release halts, and the canary, which
// the kubelet starts again, serves the good config (the reloader swapped its
// live copy back before saying it failed). Nothing brings the bad config
// back: a scale from 3 to 6, the halted pod's deletion, a rollout restart;
// every new pod starts on the stable config. The fix is then released to all.
func TestReleaseHaltHoldsThroughChurn(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cs := clusterClient(t)
	installHotreload(ctx, t, cs)
	d := demo{
		name: "churn", replicas: 3, subPath: true, inject: true,
		annotations: map[string]string{"hotreload/rollout": "1,50%,100%", "hotreload/rollout-interval": "3s"},
		args:        []string{"--fail-on=broken"},
	}
	first := uniqueConfig("color=blue")
	pods := d.start(ctx, t, cs, first)

	// A good edit: released in three steps, one pod, then two, then three.
	good := uniqueConfig("color=green")
	edited := d.edit(ctx, t, cs, good)
	took := waitServing(ctx, t, pods, good, edited, 90*time.Second)
	logTook(t, took)
	waitRelease(ctx, t, cs, d.ns, d.name, "the good edit completes", time.Minute, isPhase(v1alpha1.PhaseComplete, sourceRevision(good)))
	// What a pipeline gates on: kubectl wait on the release's conditions.
	kubectl(ctx, t, "wait", "-n", d.ns, "--for=condition=Ready", "configrelease/configmap-"+d.name, "--timeout=30s")
	require.Equal(t, []string{
		"Deployment/churn, step 1 of 3: 1 of 3 pods",
		"Deployment/churn, step 2 of 3: 2 of 3 pods",
		"Deployment/churn, step 3 of 3: 3 of 3 pods",
	}, stepEvents(ctx, t, cs, d.ns, d.name, sourceRevision(good)))
	order := byValue(took)
	require.GreaterOrEqual(t, took[order[1]]-took[order[0]], 2*time.Second, "the second pod waited for the first step's interval")
	require.GreaterOrEqual(t, took[order[2]]-took[order[1]], 2*time.Second, "the third pod waited for the second step's interval")

	bad := uniqueConfig("color=red broken")
	d.edit(ctx, t, cs, bad)
	rel := waitRelease(ctx, t, cs, d.ns, d.name, "halted and rolled back", 2*time.Minute, rolledBack(sourceRevision(bad)))
	canary := rel.Status.Halt.Pod
	t.Logf("halted at %s: %s", canary, rel.Status.Halt.Cause)
	kubectl(ctx, t, "wait", "-n", d.ns, "--for=condition=Stalled", "configrelease/configmap-"+d.name, "--timeout=30s")
	kubectl(ctx, t, "wait", "-n", d.ns, "--for=condition=Ready=false", "configrelease/configmap-"+d.name, "--timeout=30s")
	require.Contains(t, rel.Status.Halt.Cause, "after SIGHUP")
	waitServing(ctx, t, pods, good, time.Now(), 90*time.Second) // the canary once the kubelet started it again
	requireServing(ctx, t, pods, good, "no pod serves the bad config")

	// Scale up: three new pods, on stable.
	patchDeployment(ctx, t, cs, d.ns, d.name, `{"spec":{"replicas":6}}`)
	pods = waitDeploymentPods(ctx, t, cs, d.ns, "app="+d.name, 6)
	requireServing(ctx, t, pods, good, "a pod made during a halt starts on the stable config")
	waitRelease(ctx, t, cs, d.ns, d.name, "still halted with six pods", time.Minute, func(rel *v1alpha1.ConfigRelease) bool {
		return rel.Status.Phase == v1alpha1.PhaseHalted && len(rel.Status.Workloads) == 1 && rel.Status.Workloads[0].Pods == 6
	})

	// The halted pod goes; its replacement starts on stable.
	require.NoError(t, cs.CoreV1().Pods(d.ns).Delete(ctx, canary, metav1.DeleteOptions{}))
	delete(pods, canary)
	pods = waitNewPods(ctx, t, cs, demo{ns: d.ns, name: d.name}, 6, map[string]string{canary: ""})
	requireServing(ctx, t, pods, good, "the halted pod's replacement starts on the stable config")

	// kubectl rollout restart: a new ReplicaSet, every pod new, on stable.
	patchDeployment(ctx, t, cs, d.ns, d.name, fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":%q}}}}}`, time.Now().Format(time.RFC3339)))
	pods = waitNewPods(ctx, t, cs, d, 6, pods)
	requireServing(ctx, t, pods, good, "a restarted pod starts on the stable config")
	rel = waitRelease(ctx, t, cs, d.ns, d.name, "still halted after the restart", time.Minute, func(rel *v1alpha1.ConfigRelease) bool {
		return rel.Status.Phase == v1alpha1.PhaseHalted && len(rel.Status.Workloads) == 1 && rel.Status.Workloads[0].Pods == 6
	})
	require.Equal(t, canary, rel.Status.Halt.Pod, "the halt is the one of the first canary")

	// The fix is released, in steps, to every pod.
	fixed := uniqueConfig("color=yellow")
	edited = d.edit(ctx, t, cs, fixed)
	logTook(t, waitServing(ctx, t, pods, fixed, edited, 2*time.Minute))
	waitRelease(ctx, t, cs, d.ns, d.name, "the fix completes", time.Minute, isPhase(v1alpha1.PhaseComplete, sourceRevision(fixed)))
}

// TestReleaseRollsBackInPlaceAtAHundredPercent: at 100% a config the app runs
// but cannot serve well with (it stops being Ready) reaches every pod at
// once; the release halts and every pod goes back to the good config in
// place: same process, told once more. A good config then reaches them all.
func TestReleaseRollsBackInPlaceAtAHundredPercent(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cs := clusterClient(t)
	installHotreload(ctx, t, cs)
	d := demo{
		name: "inplace", replicas: 3, subPath: true, inject: true,
		annotations: map[string]string{"hotreload/rollout-interval": "20s"},
		args:        []string{"--unready-on=sick"},
	}
	good := uniqueConfig("color=green")
	pods := d.start(ctx, t, cs, good)
	before := statuses(ctx, t, pods)

	sick := uniqueConfig("color=red sick")
	edited := d.edit(ctx, t, cs, sick)
	logTook(t, waitServing(ctx, t, pods, sick, edited, 30*time.Second))
	rel := waitRelease(ctx, t, cs, d.ns, d.name, "halted and rolled back", 2*time.Minute, rolledBack(sourceRevision(sick)))
	t.Logf("halted at %s: %s", rel.Status.Halt.Pod, rel.Status.Halt.Cause)
	require.Contains(t, rel.Status.Halt.Cause, "stopped being Ready")
	waitServing(ctx, t, pods, good, time.Now(), 30*time.Second)
	after := requireSameProcesses(ctx, t, cs, d, pods, before)
	require.Equal(t, each(pods, [3]int{2, 0, 0}), reloadsBy(before, after), "told of the bad config, then of the good one")

	better := uniqueConfig("color=blue")
	edited = d.edit(ctx, t, cs, better)
	logTook(t, waitServing(ctx, t, pods, better, edited, 30*time.Second))
	waitRelease(ctx, t, cs, d.ns, d.name, "complete", time.Minute, isPhase(v1alpha1.PhaseComplete, sourceRevision(better)))
	requireSameProcesses(ctx, t, cs, d, pods, before)
}

// TestReleaseOfASharedConfigMapHaltsEveryConsumer: one ConfigMap, two
// Deployments with their own steps; the release halts when the second one's
// pods stop being Ready, and the first one's canary, which ran the change
// well, goes back too, in place.
func TestReleaseOfASharedConfigMapHaltsEveryConsumer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cs := clusterClient(t)
	installHotreload(ctx, t, cs)
	ns := enabledNamespace(ctx, t, cs, "hotreload-shared-")
	alpha := demo{ns: ns, name: "alpha", config: "shared", replicas: 2, subPath: true, inject: true,
		annotations: map[string]string{"hotreload/rollout": "1,100%", "hotreload/rollout-interval": "1h"}}
	beta := demo{ns: ns, name: "beta", config: "shared", replicas: 2, subPath: true, inject: true,
		annotations: map[string]string{"hotreload/rollout": "2,100%", "hotreload/rollout-interval": "20s"}, args: []string{"--unready-on=sick"}}
	good := uniqueConfig("color=green")
	alpha.createConfig(ctx, t, cs, good)
	var pods = map[string]string{}
	for _, d := range []demo{alpha, beta} {
		_, err := cs.AppsV1().Deployments(ns).Create(ctx, d.deployment(), metav1.CreateOptions{})
		require.NoError(t, err)
		for name, ip := range waitDeploymentPods(ctx, t, cs, ns, "app="+d.name, 2) {
			pods[name] = ip
		}
	}
	waitFirstSeen(ctx, t, cs, ns, "shared", good, 4)
	before := statuses(ctx, t, pods)

	sick := uniqueConfig("color=red sick")
	alpha.edit(ctx, t, cs, sick)
	rel := waitRelease(ctx, t, cs, ns, "shared", "halted and rolled back", 2*time.Minute, rolledBack(sourceRevision(sick)))
	require.Equal(t, "Deployment/beta", rel.Status.Halt.Workload)
	require.Len(t, rel.Status.Workloads, 2)
	waitServing(ctx, t, pods, good, time.Now(), 30*time.Second)
	after := statuses(ctx, t, pods)
	told := 0
	for name := range pods {
		require.Equal(t, before[name].PID, after[name].PID, "pod %s: same process", name)
		if strings.HasPrefix(name, "alpha-") && after[name].Sighups == 2 {
			told++ // alpha's canary: the change, then stable
		}
	}
	require.Equal(t, 1, told, "one alpha pod was given the change and went back: %+v", after)
	require.NotEmpty(t, waitEvent(ctx, t, cs, ns, "shared", "RolledBack", 30*time.Second))
	require.Contains(t, objectEvents(ctx, t, cs, ns, "Deployment", "alpha"), "RolledBack", "alpha's Events say it went back")
}

// TestReleaseGoesOnThroughAnImageChange: the Deployment's template changes
// during a canary at step 1 (an image rollout): the new ReplicaSet's pods
// start on the stable config and are pods of the same canary, which goes on
// through the Deployment's steps to every new pod.
func TestReleaseGoesOnThroughAnImageChange(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	cs := clusterClient(t)
	installHotreload(ctx, t, cs)
	d := demo{
		name: "image", replicas: 4, subPath: true, inject: true,
		annotations: map[string]string{"hotreload/rollout": "1,50%,100%", "hotreload/rollout-interval": "20s"},
	}
	v1 := uniqueConfig("version 1")
	pods := d.start(ctx, t, cs, v1)

	v2 := uniqueConfig("version 2")
	d.edit(ctx, t, cs, v2)
	waitEvent(ctx, t, cs, d.ns, d.name, "StepReleased", 30*time.Second)
	patchDeployment(ctx, t, cs, d.ns, d.name, `{"spec":{"template":{"metadata":{"annotations":{"demo/image":"v2"}}}}}`)
	fresh := waitNewPods(ctx, t, cs, d, 4, pods)
	serving := 0
	for _, ip := range fresh {
		if httpGet(ctx, t, "http://"+ip+":8080/") == v2 {
			serving++
		}
	}
	require.LessOrEqual(t, serving, 2, "the new ReplicaSet's pods start on stable; at most the canary's steps hold the change")
	edited := time.Now()
	logTook(t, waitServing(ctx, t, fresh, v2, edited, 3*time.Minute))
	rel := waitRelease(ctx, t, cs, d.ns, d.name, "complete", time.Minute, isPhase(v1alpha1.PhaseComplete, sourceRevision(v2)))
	require.Equal(t, []string{"Deployment/image 3 of 3"}, rel.Status.History[0].Reached, "one workload across both ReplicaSets")
	steps := objectEvents(ctx, t, cs, d.ns, "Deployment", d.name)
	require.Equal(t, 3, strings.Count(steps, "StepReleased"), "the Deployment went through its three steps: %s", steps)
}

// TestReleaseSurvivesAKilledControllerAndALostLiveCopy: the controller is
// killed as a release halts, and a pod loses its live copy (its emptyDir
// emptied and its sandbox killed, as after a node reboot): the rollback
// completes under the next leader, and the pod comes back on the stable
// config.
func TestReleaseSurvivesAKilledControllerAndALostLiveCopy(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	cs := clusterClient(t)
	installHotreload(ctx, t, cs)
	d := demo{
		name: "lost", replicas: 3, subPath: true, inject: true,
		annotations: map[string]string{"hotreload/rollout": "1,50%,100%", "hotreload/rollout-interval": "20s"},
		args:        []string{"--unready-on=sick"},
	}
	good := uniqueConfig("color=green")
	pods := d.start(ctx, t, cs, good)

	sick := uniqueConfig("color=red sick")
	d.edit(ctx, t, cs, sick)
	rel := waitRelease(ctx, t, cs, d.ns, d.name, "halted", 2*time.Minute, isPhase(v1alpha1.PhaseHalted, sourceRevision(sick)))
	leader, _ := killController(ctx, t, cs)
	t.Logf("killed the controller in %s as the release halted at %s", leader, rel.Status.Halt.Pod)
	waitRelease(ctx, t, cs, d.ns, d.name, "rolled back", 2*time.Minute, rolledBack(sourceRevision(sick)))
	waitServing(ctx, t, pods, good, time.Now(), 60*time.Second)

	// A pod loses its live copy, as on a node reboot.
	var victim string
	for name := range pods {
		if name != rel.Status.Halt.Pod {
			victim = name
			break
		}
	}
	loseLiveCopy(ctx, t, cs, d.ns, victim)
	require.Eventually(t, func() bool {
		p, err := cs.CoreV1().Pods(d.ns).Get(ctx, victim, metav1.GetOptions{})
		return err == nil && len(p.Status.InitContainerStatuses) > 0 && p.Status.InitContainerStatuses[0].RestartCount > 0
	}, 2*time.Minute, 250*time.Millisecond, "pod %s ran its install step again in a new sandbox", victim)
	p := waitPodReady(ctx, t, cs, d.ns, victim)
	requireServing(ctx, t, map[string]string{victim: p}, good, "a pod whose live copy was lost comes back on the stable config")
}

// loseLiveCopy empties a pod's live-copy emptyDir on the node and kills its
// sandbox, so that the kubelet starts the pod's containers again, install
// step first, as after a node reboot.
func loseLiveCopy(ctx context.Context, t testing.TB, cs kubernetes.Interface, ns, name string) {
	t.Helper()
	p, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	require.NoError(t, err)
	live := filepath.Join(repoRoot(), "bin", "cluster", "kubelet", "pods", string(p.UID), "volumes", "kubernetes.io~empty-dir", "hotreload-live")
	entries, err := os.ReadDir(live)
	require.NoError(t, err, "the live copy of pod %s on the node", name)
	for _, e := range entries {
		require.NoError(t, os.RemoveAll(filepath.Join(live, e.Name())))
	}
	sock := containerdSocket()
	out, err := exec.CommandContext(ctx, "ctr", "--address", sock, "-n", "k8s.io", "containers", "ls", "-q",
		fmt.Sprintf(`labels."io.kubernetes.pod.uid"==%s,labels."io.cri-containerd.kind"==sandbox`, p.UID)).CombinedOutput()
	require.NoError(t, err, "ctr containers ls: %s", out)
	ids := strings.Fields(string(out))
	require.NotEmpty(t, ids, "no sandbox of pod %s", name)
	for _, id := range ids {
		out, err := exec.CommandContext(ctx, "ctr", "--address", sock, "-n", "k8s.io", "tasks", "kill", "--signal", "SIGKILL", id).CombinedOutput()
		require.NoError(t, err, "ctr tasks kill: %s", out)
	}
}

// objectEvents joins "Reason: message" of the Events regarding one object.
func objectEvents(ctx context.Context, t testing.TB, cs kubernetes.Interface, ns, kind, name string) string {
	t.Helper()
	list, err := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + name})
	require.NoError(t, err)
	var out []string
	for _, e := range list.Items {
		if e.InvolvedObject.Kind == kind {
			out = append(out, e.Reason+": "+e.Message)
		}
	}
	return strings.Join(out, "\n")
}
