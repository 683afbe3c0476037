//go:build e2e

package e2e

import (
	"context"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
)

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
	v1 := uniqueConfig("version 1")
	pods := d.start(ctx, t, cs, v1)
	before := statuses(ctx, t, pods)

	v2 := uniqueConfig("version 2")
	edited := d.edit(ctx, t, cs, v2)
	waitEvent(ctx, t, cs, d.ns, d.name, "StepReleased", 30*time.Second)
	leader, restarts := killController(ctx, t, cs)
	t.Logf("killed the controller in pod %s %v after the edit", leader, time.Since(edited).Round(time.Millisecond))

	logTook(t, waitServing(ctx, t, pods, v2, edited, 3*time.Minute))
	requireSameProcesses(ctx, t, cs, d, pods, before)
	waitRelease(ctx, t, cs, d.ns, d.name, "complete", time.Minute, isPhase(v1alpha1.PhaseComplete, sourceRevision(v2)))
	require.Equal(t, []string{
		"Deployment/resume, step 1 of 3: 1 of 4 pods",
		"Deployment/resume, step 2 of 3: 2 of 4 pods",
		"Deployment/resume, step 3 of 3: 4 of 4 pods",
	}, stepEvents(ctx, t, cs, d.ns, d.name, sourceRevision(v2)), "each step released once")
	p, err := cs.CoreV1().Pods(hotreloadNamespace).Get(ctx, leader, metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, restarts+1, p.Status.ContainerStatuses[0].RestartCount, "the killed controller's container restarted once")
}

const hotreloadNamespace = "hotreload-system"

// webhookSelector selects the pods of hotreload's Deployment, the webhook
// and the controller.
const webhookSelector = "app.kubernetes.io/name=hotreload-webhook"

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
	sock := containerdSocket()
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
	waitAppliedWithin(ctx, t, cs, ns, pods, rev, 30*time.Second)
}

// waitAppliedWithin is waitApplied, waiting up to timeout.
func waitAppliedWithin(ctx context.Context, t testing.TB, cs kubernetes.Interface, ns string, pods map[string]string, rev string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var late []string
		for name := range pods {
			p, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil || p.Labels["hotreload/applied"] != rev {
				late = append(late, name)
			}
		}
		if len(late) == 0 {
			return
		}
		if time.Now().After(deadline) {
			sort.Strings(late)
			t.Fatalf("pods %s do not report hotreload/applied=%s %v after\n%s", strings.Join(late, ", "), rev, timeout, explainPods(t, late))
		}
		time.Sleep(100 * time.Millisecond)
	}
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

var stepMessage = regexp.MustCompile(`^config revision (\S+) released to (\S+, step \d+ of \d+: \d+ of \d+ pods) \(`)

// stepEvents returns the StepReleased Events of candidate rev on the config
// object, oldest first, each shortened to "Deployment/app, step K of N: X of
// Y pods".
func stepEvents(ctx context.Context, t testing.TB, cs kubernetes.Interface, ns, name, rev string) []string {
	t.Helper()
	var out []string
	for _, msg := range events(ctx, t, cs, ns, name, "StepReleased") {
		m := stepMessage.FindStringSubmatch(msg)
		require.NotNil(t, m, "StepReleased message %q", msg)
		if m[1] == rev {
			out = append(out, m[2])
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
