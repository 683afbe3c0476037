//go:build e2e

package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// TestRolloutHaltsABadConfig: a good edit reaches 3 pods in the steps of
// hotreload/rollout "1,50%,100%"; an edit the app refuses (it exits on SIGHUP,
// as a server crashing on a bad config does) reaches the first pod only, and
// the rollout halts there, the other pods serving the good config; a fixed
// config then reaches every pod, the failed one included.
func TestRolloutHaltsABadConfig(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cs := clusterClient(t)
	installHotreload(ctx, t, cs)
	d := demo{
		name: "canary", replicas: 3, subPath: true, inject: true,
		annotations: map[string]string{"hotreload/rollout": "1,50%,100%", "hotreload/rollout-interval": "3s"},
		args:        []string{"--fail-on=broken"},
	}
	d.ns = enabledNamespace(ctx, t, cs, "hotreload-canary-")
	pods := d.create(ctx, t, cs, uniqueConfig("color=blue"))

	// A good edit: released in three steps, one pod, then two, then three.
	good := uniqueConfig("color=green")
	edited := d.edit(ctx, t, cs, good)
	took := waitServing(ctx, t, pods, good, edited, 90*time.Second)
	logTook(t, took)
	goodRev := releasedRevision(ctx, t, cs, d.ns, pods)
	require.Equal(t, []string{
		"step 1 of 3: released to 1 more pods (1 of 3)",
		"step 2 of 3: released to 1 more pods (2 of 3)",
		"step 3 of 3: released to 1 more pods (3 of 3)",
	}, stepEvents(ctx, t, cs, d.ns, d.name, goodRev))
	order := byValue(took)
	require.GreaterOrEqual(t, took[order[1]]-took[order[0]], 2*time.Second, "the second pod waited for the first step's interval")
	require.GreaterOrEqual(t, took[order[2]]-took[order[1]], 2*time.Second, "the third pod waited for the second step's interval")

	// A bad edit: the first pod takes it and fails; nothing more is released.
	bad := uniqueConfig("color=red broken")
	d.edit(ctx, t, cs, bad)
	halted := waitEvent(ctx, t, cs, d.ns, d.name, "RolloutHalted", 60*time.Second)
	t.Logf("halted: %s", halted)
	time.Sleep(3 * 3 * time.Second) // three intervals: time enough for two more steps
	failed := ""
	for name := range pods {
		p, err := cs.CoreV1().Pods(d.ns).Get(ctx, name, metav1.GetOptions{})
		require.NoError(t, err)
		if p.Annotations["hotreload/failed"] != "" {
			require.Empty(t, failed, "two pods failed the bad config: %s and %s", failed, name)
			failed = name
			continue
		}
		require.Equal(t, goodRev, p.Annotations["hotreload/released"], "pod %s was released the bad config", name)
		require.Equal(t, good, httpGet(ctx, t, "http://"+pods[name]+":8080/"), "pod %s does not serve the good config", name)
	}
	require.NotEmpty(t, failed, "no pod is marked hotreload/failed")
	require.Contains(t, halted, failed)

	// The fix: released again in steps, to the failed pod too.
	fixed := uniqueConfig("color=yellow")
	edited = d.edit(ctx, t, cs, fixed)
	failedPod, err := cs.CoreV1().Pods(d.ns).Get(ctx, failed, metav1.GetOptions{})
	require.NoError(t, err)
	pods[failed] = failedPod.Status.PodIP
	logTook(t, waitServing(ctx, t, pods, fixed, edited, 90*time.Second))
}

// TestRolloutResumesAfterTheControllerIsKilled: the elected controller's
// process is killed (SIGKILL) right after the first step of a rollout; the
// rollout goes on from where it stopped, each step released once.
func TestRolloutResumesAfterTheControllerIsKilled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cs := clusterClient(t)
	installHotreload(ctx, t, cs)
	d := demo{
		name: "resume", replicas: 4, subPath: true, inject: true,
		annotations: map[string]string{"hotreload/rollout": "1,50%,100%", "hotreload/rollout-interval": "10s"},
	}
	d.ns = enabledNamespace(ctx, t, cs, "hotreload-resume-")
	pods := d.create(ctx, t, cs, uniqueConfig("version 1"))
	before := statuses(ctx, t, pods)

	v2 := uniqueConfig("version 2")
	edited := d.edit(ctx, t, cs, v2)
	waitEvent(ctx, t, cs, d.ns, d.name, "StepReleased", 30*time.Second)
	leader, restarts := killController(ctx, t, cs)
	t.Logf("killed the controller in pod %s %v after the edit", leader, time.Since(edited).Round(time.Millisecond))

	logTook(t, waitServing(ctx, t, pods, v2, edited, 3*time.Minute))
	requireSameProcesses(ctx, t, cs, d, pods, before)
	rev := releasedRevision(ctx, t, cs, d.ns, pods)
	require.Equal(t, []string{
		"step 1 of 3: released to 1 more pods (1 of 4)",
		"step 2 of 3: released to 1 more pods (2 of 4)",
		"step 3 of 3: released to 2 more pods (4 of 4)",
	}, stepEvents(ctx, t, cs, d.ns, d.name, rev))
	p, err := cs.CoreV1().Pods(hotreloadNamespace).Get(ctx, leader, metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, restarts+1, p.Status.ContainerStatuses[0].RestartCount, "the killed controller's container restarted once")
}

const hotreloadNamespace = "hotreload-system"

// killController SIGKILLs the webhook container of the pod holding the
// controller's lease, through containerd, and returns the pod's name and its
// container's restart count before.
func killController(ctx context.Context, t testing.TB, cs kubernetes.Interface) (string, int32) {
	t.Helper()
	lease, err := cs.CoordinationV1().Leases(hotreloadNamespace).Get(ctx, "hotreload-controller", metav1.GetOptions{})
	require.NoError(t, err, "no controller lease")
	require.NotNil(t, lease.Spec.HolderIdentity)
	pod, _, _ := strings.Cut(*lease.Spec.HolderIdentity, "_") // controller-runtime: <hostname>_<uuid>
	p, err := cs.CoreV1().Pods(hotreloadNamespace).Get(ctx, pod, metav1.GetOptions{})
	require.NoError(t, err, "the lease holder %q is no pod", *lease.Spec.HolderIdentity)
	require.Len(t, p.Status.ContainerStatuses, 1)
	c := p.Status.ContainerStatuses[0]
	id, ok := strings.CutPrefix(c.ContainerID, "containerd://")
	require.True(t, ok, "container ID %q", c.ContainerID)
	sock := filepath.Join(repoRoot(), "bin", "cluster", "containerd", "containerd.sock")
	out, err := exec.CommandContext(ctx, "ctr", "--address", sock, "-n", "k8s.io", "tasks", "kill", "--signal", "SIGKILL", id).CombinedOutput()
	require.NoError(t, err, "ctr tasks kill: %s", out)
	return pod, c.RestartCount
}

// releasedRevision is the revision released to every pod; it fails unless
// they all have the same one.
func releasedRevision(ctx context.Context, t testing.TB, cs kubernetes.Interface, ns string, pods map[string]string) string {
	t.Helper()
	revs := map[string]string{}
	for name := range pods {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		require.NoError(t, err)
		revs[name] = p.Annotations["hotreload/released"]
	}
	var first string
	for _, r := range revs {
		first = r
		break
	}
	require.NotEmpty(t, first)
	require.Equal(t, each(pods, first), revs, "pods released different revisions")
	return first
}

// waitApplied waits until every pod reports hotreload/applied=rev.
func waitApplied(ctx context.Context, t testing.TB, cs kubernetes.Interface, ns string, pods map[string]string, rev string) {
	t.Helper()
	require.Eventually(t, func() bool {
		for name := range pods {
			p, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil || p.Labels["hotreload/applied"] != rev {
				return false
			}
		}
		return true
	}, 30*time.Second, 100*time.Millisecond, "every pod reports hotreload/applied=%s", rev)
}

// events returns the messages of the Events of reason on the ConfigMap or
// Secret name, oldest first.
func events(ctx context.Context, t testing.TB, cs kubernetes.Interface, ns, name, reason string) []string {
	t.Helper()
	list, err := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{
		FieldSelector: "involvedObject.name=" + name + ",reason=" + reason,
	})
	require.NoError(t, err)
	var evs []corev1.Event
	for _, e := range list.Items {
		if e.InvolvedObject.Kind == "ConfigMap" || e.InvolvedObject.Kind == "Secret" {
			evs = append(evs, e)
		}
	}
	sort.SliceStable(evs, func(i, j int) bool { return eventTime(evs[i]).Before(eventTime(evs[j])) })
	var out []string
	for _, e := range evs {
		out = append(out, e.Message)
	}
	return out
}

func eventTime(e corev1.Event) time.Time {
	if !e.EventTime.IsZero() {
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}

var stepMessage = regexp.MustCompile(`^(step \d+ of \d+): config revision (\S+) released to (\d+ more pods) of .+? (\(\d+ of \d+\)):`)

// stepEvents returns the StepReleased Events of revision rev, each shortened
// to "step N of M: released to K more pods (X of Y)".
func stepEvents(ctx context.Context, t testing.TB, cs kubernetes.Interface, ns, name, rev string) []string {
	t.Helper()
	var out []string
	for _, msg := range events(ctx, t, cs, ns, name, "StepReleased") {
		m := stepMessage.FindStringSubmatch(msg)
		require.NotNil(t, m, "StepReleased message %q", msg)
		if strings.HasPrefix(rev, m[2]) || strings.HasPrefix(m[2], rev) {
			out = append(out, m[1]+": released to "+m[3]+" "+m[4])
		}
	}
	return out
}

// waitEvent waits for an Event of reason on the config object and returns its message.
func waitEvent(ctx context.Context, t testing.TB, cs kubernetes.Interface, ns, name, reason string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if evs := events(ctx, t, cs, ns, name, reason); len(evs) > 0 {
			return evs[len(evs)-1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s Event on %s/%s after %v; Events: %v", reason, ns, name, timeout, allEvents(ctx, cs, ns))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func allEvents(ctx context.Context, cs kubernetes.Interface, ns string) []string {
	list, err := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	for _, e := range list.Items {
		out = append(out, e.InvolvedObject.Kind+"/"+e.InvolvedObject.Name+" "+e.Reason+": "+e.Message)
	}
	return out
}

// byValue returns m's keys, smallest value first.
func byValue(m map[string]time.Duration) []string {
	out := keys(m)
	sort.SliceStable(out, func(i, j int) bool { return m[out[i]] < m[out[j]] })
	return out
}
