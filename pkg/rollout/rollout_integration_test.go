//go:build integration

package rollout

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hotreload/hotreload/pkg/annotations"
)

var canary = map[string]string{annotations.Rollout: "1,25%,100%", annotations.RolloutInterval: "1s"}

func started(rev, group string, n int, steps, interval string) string {
	return fmt.Sprintf("%s: rollout of config revision %s to %s started: %d pods, steps %s, interval %s", ReasonRolloutStarted, rev, group, n, steps, interval)
}

func step(k, of int, rev string, more int, group string, target, total int, names string) string {
	return fmt.Sprintf("%s: step %d of %d: config revision %s released to %d more pods of %s (%d of %d): %s", ReasonStepReleased, k, of, rev, more, group, target, total, names)
}

func completed(rev string, n int, group string) string {
	return fmt.Sprintf("%s: config revision %s runs on all %d pods of %s", ReasonRolloutCompleted, rev, n, group)
}

// podRevisions returns, by pod name, "released applied".
func podRevisions(pods []corev1.Pod) map[string]string {
	out := map[string]string{}
	for _, p := range pods {
		out[p.Name] = p.Annotations[annotations.Released] + " " + p.Labels[annotations.Applied]
	}
	return out
}

func all(pods []corev1.Pod, v string) map[string]string {
	out := map[string]string{}
	for _, p := range pods {
		out[p.Name] = v
	}
	return out
}

func TestIntegrationCanaryCompletesInThreeSteps(t *testing.T) {
	c := newCluster(t, nil)
	c.configMap("app", map[string]string{"app.conf": "v=0"})
	pods := c.replicaSet("web", 8, canary, "app")
	run := startController(t, c.env, c.ns)
	c.fakeReloaders(applyAll)

	c.configMap("app", map[string]string{"app.conf": "v=1"})
	rev := c.desired(pods[0])
	o := order(pods, rev)
	got := c.waitEvents("ConfigMap", "app", ReasonRolloutCompleted)

	assert.Equal(t, []string{
		started(rev, "ReplicaSet/web", 8, "1,25%,100%", "1s"),
		step(1, 3, rev, 1, "ReplicaSet/web", 1, 8, o[0]),
		step(2, 3, rev, 1, "ReplicaSet/web", 2, 8, o[1]),
		step(3, 3, rev, 6, "ReplicaSet/web", 8, 8, sorted(o[2:])),
		completed(rev, 8, "ReplicaSet/web"),
	}, got)
	final := c.pods("web")
	assert.Equal(t, all(final, rev+" "+rev), podRevisions(final))
	assert.Equal(t, map[string]float64{
		"hotreload_rollouts_started_total{" + c.ns + "}":         1,
		"hotreload_rollout_steps_released_total{" + c.ns + "}":   3,
		"hotreload_rollouts_completed_total{" + c.ns + "}":       1,
		"hotreload_rollout_duration_seconds{" + c.ns + "} count": 1,
	}, metricValues(t, run.registry))
}

// A controller restarted in the middle of a rollout resumes it without
// releasing anything twice; restarted after it, it releases nothing.
func TestIntegrationRestartResumesWithoutDoubleRelease(t *testing.T) {
	c := newCluster(t, nil)
	c.configMap("app", map[string]string{"app.conf": "v=0"})
	pods := c.replicaSet("web", 8, canary, "app")
	c.configMap("other", map[string]string{"other.conf": "v=0"})
	c.replicaSet("other", 2, map[string]string{annotations.RolloutInterval: "1s"}, "other")
	var open atomic.Bool
	c.fakeReloaders(func(string, string) reloaderAction {
		if open.Load() {
			return apply
		}
		return hold
	})
	first := startController(t, c.env, c.ns)
	c.configMap("app", map[string]string{"app.conf": "v=1"})
	rev := c.desired(pods[0])
	o := order(pods, rev)
	c.waitEvents("ConfigMap", "app", ReasonStepReleased)
	first.stop()

	second := startController(t, c.env, c.ns)
	open.Store(true)
	want := []string{
		started(rev, "ReplicaSet/web", 8, "1,25%,100%", "1s"),
		step(1, 3, rev, 1, "ReplicaSet/web", 1, 8, o[0]),
		step(2, 3, rev, 1, "ReplicaSet/web", 2, 8, o[1]),
		step(3, 3, rev, 6, "ReplicaSet/web", 8, 8, sorted(o[2:])),
		completed(rev, 8, "ReplicaSet/web"),
	}
	assert.Equal(t, want, c.waitEvents("ConfigMap", "app", ReasonRolloutCompleted))
	assert.Equal(t, map[string]float64{
		"hotreload_rollouts_started_total{" + c.ns + "}":         0,
		"hotreload_rollout_steps_released_total{" + c.ns + "}":   2,
		"hotreload_rollouts_completed_total{" + c.ns + "}":       1,
		"hotreload_rollout_duration_seconds{" + c.ns + "} count": 1,
	}, withZero(metricValues(t, second.registry), "hotreload_rollouts_started_total{"+c.ns+"}"))
	second.stop()

	third := startController(t, c.env, c.ns)
	c.configMap("other", map[string]string{"other.conf": "v=1"})
	c.waitEvents("ConfigMap", "other", ReasonRolloutCompleted)
	assert.Equal(t, want, c.events("ConfigMap", "app"), "no new Event for web")
	final := c.pods("web")
	assert.Equal(t, all(final, rev+" "+rev), podRevisions(final))
	assert.Equal(t, map[string]float64{
		"hotreload_rollouts_started_total{" + c.ns + "}":         1,
		"hotreload_rollout_steps_released_total{" + c.ns + "}":   1,
		"hotreload_rollouts_completed_total{" + c.ns + "}":       1,
		"hotreload_rollout_duration_seconds{" + c.ns + "} count": 1,
	}, metricValues(t, third.registry), "only the other group rolled out")
}

// withZero adds key with 0 when m lacks it (a counter never incremented is
// not gathered).
func withZero(m map[string]float64, key string) map[string]float64 {
	if _, ok := m[key]; !ok {
		m[key] = 0
	}
	return m
}

// A revision that arrives during a rollout supersedes it, from step 1.
func TestIntegrationNewRevisionSupersedesRollout(t *testing.T) {
	c := newCluster(t, nil)
	c.configMap("app", map[string]string{"app.conf": "v=0"})
	pods := c.replicaSet("web", 8, canary, "app")
	startController(t, c.env, c.ns)
	c.configMap("app", map[string]string{"app.conf": "v=1"})
	rev1 := c.desired(pods[0])
	c.fakeReloaders(func(_, rev string) reloaderAction {
		if rev == rev1 {
			return hold
		}
		return apply
	})
	c.waitEvents("ConfigMap", "app", ReasonStepReleased)

	c.configMap("app", map[string]string{"app.conf": "v=2"})
	rev2 := c.desired(pods[0])
	o1, o2 := order(pods, rev1), order(pods, rev2)
	got := c.waitEvents("ConfigMap", "app", ReasonRolloutCompleted)
	assert.Equal(t, []string{
		started(rev1, "ReplicaSet/web", 8, "1,25%,100%", "1s"),
		step(1, 3, rev1, 1, "ReplicaSet/web", 1, 8, o1[0]),
		started(rev2, "ReplicaSet/web", 8, "1,25%,100%", "1s"),
		step(1, 3, rev2, 1, "ReplicaSet/web", 1, 8, o2[0]),
		step(2, 3, rev2, 1, "ReplicaSet/web", 2, 8, o2[1]),
		step(3, 3, rev2, 6, "ReplicaSet/web", 8, 8, sorted(o2[2:])),
		completed(rev2, 8, "ReplicaSet/web"),
	}, got)
	final := c.pods("web")
	assert.Equal(t, all(final, rev2+" "+rev2), podRevisions(final))
}

// Pods without rollout annotations use their namespace's; a malformed pod
// value falls back to it with a Warning Event.
func TestIntegrationNamespaceDefaultsApply(t *testing.T) {
	c := newCluster(t, map[string]string{annotations.Rollout: "1,100%", annotations.RolloutInterval: "1s"})
	c.configMap("app", map[string]string{"app.conf": "v=0"})
	pods := c.replicaSet("web", 4, map[string]string{annotations.RolloutInterval: "soon"}, "app")
	startController(t, c.env, c.ns)
	c.fakeReloaders(applyAll)
	c.configMap("app", map[string]string{"app.conf": "v=1"})
	rev := c.desired(pods[0])
	o := order(pods, rev)
	got := c.waitEvents("ConfigMap", "app", ReasonRolloutCompleted)
	assert.Equal(t, []string{
		started(rev, "ReplicaSet/web", 4, "1,100%", "1s"),
		ReasonInvalidSettings + `: hotreload/rollout-interval: invalid interval "soon": not a duration such as 30s or 2m; using 1s`,
		step(1, 2, rev, 1, "ReplicaSet/web", 1, 4, o[0]),
		step(2, 2, rev, 3, "ReplicaSet/web", 4, 4, sorted(o[1:])),
		completed(rev, 4, "ReplicaSet/web"),
	}, got)
}

// A change to a key that only some pods project rolls out to those only.
func TestIntegrationOnlyPodsProjectingAChangedKeyAreTouched(t *testing.T) {
	c := newCluster(t, nil)
	c.configMap("shared", map[string]string{"a": "1", "b": "1"})
	interval := map[string]string{annotations.RolloutInterval: "1s"}
	alpha := c.replicaSet("alpha", 2, interval, "shared", "a")
	beta := c.replicaSet("beta", 2, interval, "shared", "b")
	betaRev := c.desired(beta[0])
	startController(t, c.env, c.ns)
	c.fakeReloaders(applyAll)

	c.configMap("shared", map[string]string{"a": "2", "b": "1"})
	rev := c.desired(alpha[0])
	require.Equal(t, betaRev, c.desired(beta[0]))
	got := c.waitEvents("ConfigMap", "shared", ReasonRolloutCompleted)
	assert.Equal(t, []string{
		started(rev, "ReplicaSet/alpha", 2, "100%", "1s"),
		step(1, 1, rev, 2, "ReplicaSet/alpha", 2, 2, sorted(order(alpha, rev))),
		completed(rev, 2, "ReplicaSet/alpha"),
	}, got)
	assert.Equal(t, all(c.pods("alpha"), rev+" "+rev), podRevisions(c.pods("alpha")))
	assert.Equal(t, all(c.pods("beta"), " "+betaRev), podRevisions(c.pods("beta")))
}

// Pods deleted during a rollout leave it; a pod created during it starts on
// the new config and counts as released.
func TestIntegrationPodsComeAndGoDuringARollout(t *testing.T) {
	c := newCluster(t, nil)
	c.configMap("app", map[string]string{"app.conf": "v=0"})
	steps := map[string]string{annotations.Rollout: "1,100%", annotations.RolloutInterval: "1s"}
	pods := c.replicaSet("web", 4, steps, "app")
	var open atomic.Bool
	c.fakeReloaders(func(string, string) reloaderAction {
		if open.Load() {
			return apply
		}
		return hold
	})
	startController(t, c.env, c.ns)
	c.configMap("app", map[string]string{"app.conf": "v=1"})
	rev := c.desired(pods[0])
	o := order(pods, rev)
	c.waitEvents("ConfigMap", "app", ReasonStepReleased)

	require.NoError(t, c.env.Clientset.CoreV1().Pods(c.ns).Delete(c.ctx, o[1], metav1.DeleteOptions{GracePeriodSeconds: ptr(int64(0))}))
	rs, err := c.env.Clientset.AppsV1().ReplicaSets(c.ns).Get(c.ctx, "web", metav1.GetOptions{})
	require.NoError(t, err)
	c.addPod("web-new", rs, steps, "app")
	open.Store(true)

	assert.Equal(t, []string{
		started(rev, "ReplicaSet/web", 4, "1,100%", "1s"),
		step(1, 2, rev, 1, "ReplicaSet/web", 1, 4, o[0]),
		step(2, 2, rev, 2, "ReplicaSet/web", 4, 4, sorted(o[2:])),
		completed(rev, 4, "ReplicaSet/web"),
	}, c.waitEvents("ConfigMap", "app", ReasonRolloutCompleted))
	want := map[string]string{o[0]: rev + " " + rev, o[2]: rev + " " + rev, o[3]: rev + " " + rev, "web-new": " " + rev}
	assert.Equal(t, want, podRevisions(c.pods("web")))
}

// A projected volume rolls out changes of its Secret like those of its
// ConfigMap, with the Events on each object it projects; a missing optional
// ConfigMap projects nothing until it is created, which is a change.
func TestIntegrationSecretsAndOptionalConfigMaps(t *testing.T) {
	c := newCluster(t, nil)
	c.configMap("app", map[string]string{"app.conf": "v=0"})
	secrets := c.env.Clientset.CoreV1().Secrets(c.ns)
	tls, err := secrets.Create(c.ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "tls"},
		Data: map[string][]byte{"tls.key": []byte("key-0")}}, metav1.CreateOptions{})
	require.NoError(t, err)
	src := corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
		{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "app"}}},
		{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "tls"}}},
		{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "extra"}, Optional: ptr(true)}},
	}}}
	rs := c.owner("web")
	interval := map[string]string{annotations.RolloutInterval: "1s"}
	pods := []*corev1.Pod{c.addPodWith("web-0", rs, interval, src), c.addPodWith("web-1", rs, interval, src)}
	startController(t, c.env, c.ns)
	c.fakeReloaders(applyAll)

	tls.Data = map[string][]byte{"tls.key": []byte("key-1")}
	_, err = secrets.Update(c.ctx, tls, metav1.UpdateOptions{})
	require.NoError(t, err)
	revA := c.desired(pods[0])
	rolloutA := []string{
		started(revA, "ReplicaSet/web", 2, "100%", "1s"),
		step(1, 1, revA, 2, "ReplicaSet/web", 2, 2, "web-0, web-1"),
		completed(revA, 2, "ReplicaSet/web"),
	}
	assert.Equal(t, rolloutA, c.waitEvents("Secret", "tls", ReasonRolloutCompleted))
	assert.Equal(t, rolloutA, c.waitEvents("ConfigMap", "app", ReasonRolloutCompleted))

	c.configMap("extra", map[string]string{"extra.conf": "on"})
	revB := c.desired(pods[0])
	require.NotEqual(t, revA, revB)
	rolloutB := []string{
		started(revB, "ReplicaSet/web", 2, "100%", "1s"),
		step(1, 1, revB, 2, "ReplicaSet/web", 2, 2, "web-0, web-1"),
		completed(revB, 2, "ReplicaSet/web"),
	}
	assert.Equal(t, rolloutB, c.waitEvents("ConfigMap", "extra", ReasonRolloutCompleted))
	assert.Equal(t, append(rolloutA, rolloutB...), c.waitEvents("Secret", "tls", ReasonRolloutCompleted))
	assert.Equal(t, map[string]string{"web-0": revB + " " + revB, "web-1": revB + " " + revB}, podRevisions(c.pods("web")))
}
