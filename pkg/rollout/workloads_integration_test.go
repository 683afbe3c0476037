//go:build integration

package rollout

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/contract"
)

// deployment creates a Deployment and, as its controller would (none runs
// here), ReplicaSets it controls.
func (c *cluster) deployment(name string, replicaSets ...string) (*appsv1.Deployment, []*appsv1.ReplicaSet) {
	c.t.Helper()
	labels := map[string]string{"app": name, annotations.EnableLabel: annotations.EnableValue}
	dep, err := c.env.Clientset.AppsV1().Deployments(c.ns).Create(c.ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app"}}}},
		},
	}, metav1.CreateOptions{})
	require.NoError(c.t, err)
	var out []*appsv1.ReplicaSet
	for _, rsName := range replicaSets {
		rs, err := c.env.Clientset.AppsV1().ReplicaSets(c.ns).Create(c.ctx, &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Name: rsName, OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(dep, appsv1.SchemeGroupVersion.WithKind("Deployment"))}},
			Spec: appsv1.ReplicaSetSpec{
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
				Template: dep.Spec.Template,
			},
		}, metav1.CreateOptions{})
		require.NoError(c.t, err)
		out = append(out, rs)
	}
	return dep, out
}

// A Deployment's pods are one workload across its ReplicaSets: a new
// ReplicaSet made during a canary (an image change, a rollout restart)
// starts on stable and goes on through the Deployment's steps, and the
// Deployment's Events tell the story.
func TestIntegrationADeploymentIsOneWorkloadAcrossItsReplicaSets(t *testing.T) {
	c := newCluster(t, nil)
	steps := map[string]string{annotations.Rollout: "1,50%,100%", annotations.RolloutInterval: "1s"}
	data0 := map[string]string{"app.conf": "v=0"}
	c.configMap("app", data0)
	_, rss := c.deployment("web", "web-old", "web-new")
	pods := []*corev1.Pod{c.addPod("web-old-a", rss[0], steps, "app"), c.addPod("web-old-b", rss[0], steps, "app")}
	startController(t, c.env, c.ns)
	c.waitRelease("app", "first seen", phase(v1alpha1.PhaseComplete, sourceRev(data0)))
	c.startOn = func(p *corev1.Pod) string { return c.at(p, map[string]map[string]string{"ConfigMap/app": data0}) }
	var scaled atomic.Bool // the canary applies once the new ReplicaSet's pods are there
	c.fakeReloaders(func(string, string) reloaderAction {
		if scaled.Load() {
			return apply
		}
		return hold
	})

	data1 := map[string]string{"app.conf": "v=1"}
	c.configMap("app", data1)
	cand, rev1 := sourceRev(data1), c.desired(pods[0])
	c.waitEvents("ConfigMap", "app", ReasonStepReleased)
	// The image changes: the new ReplicaSet's pods start on stable.
	c.addPod("web-new-a", rss[1], steps, "app")
	c.addPod("web-new-b", rss[1], steps, "app")
	scaled.Store(true)

	rel := c.waitRelease("app", "complete", phase(v1alpha1.PhaseComplete, cand))
	assert.Equal(t, []v1alpha1.WorkloadStatus{{Kind: "Deployment", Name: "web", Step: 3, Steps: 3, Rollout: "1,50%,100%", Interval: "1s",
		Pods: 4, Released: 4, Applied: 4, Ready: 4, StepSince: rel.Status.Workloads[0].StepSince, Complete: true}}, rel.Status.Workloads)
	got := c.waitEvents("Deployment", "web", ReasonRolloutCompleted)
	require.Len(t, got, 4)
	assert.Equal(t, completedEv(cand, 1), got[3])
	for i, k := range []int{1, 2, 3} {
		assert.Contains(t, got[i], fmt.Sprintf("released to Deployment/web, step %d of 3", k), "the Deployment's Events say each step")
	}
	final := append(c.pods("web-old"), c.pods("web-new")...)
	assert.Equal(t, all(final, rev1+" "+rev1), podRevisions(final))
}

// A ConfigMap shared by two workloads is released once, each workload
// through its own steps; a pod of one failing halts the release and rolls
// both back.
func TestIntegrationASharedConfigMapHaltsAndRollsBackEveryConsumer(t *testing.T) {
	c := newCluster(t, nil)
	data0 := map[string]string{"app.conf": "v=0"}
	c.configMap("app", data0)
	alpha := c.replicaSet("alpha", 4, map[string]string{annotations.Rollout: "2,100%", annotations.RolloutInterval: "1h"}, "app")
	beta := c.replicaSet("beta", 4, map[string]string{annotations.Rollout: "1,100%", annotations.RolloutInterval: "1s"}, "app")
	startController(t, c.env, c.ns)
	stable := sourceRev(data0)
	c.waitRelease("app", "first seen", phase(v1alpha1.PhaseComplete, stable))
	rev0 := c.desired(alpha[0])
	data1 := map[string]string{"app.conf": "v=1"}
	c.configMap("app", data1)
	cand, rev1 := sourceRev(data1), c.desired(alpha[0])
	oa, ob := order(alpha, cand), order(beta, cand)
	c.fakeReloaders(func(pod, rev string) reloaderAction {
		if rev == rev1 && pod == ob[0] {
			return applyRestart
		}
		return apply
	})
	rel := c.waitRelease("app", "rolled back", func(rel *v1alpha1.ConfigRelease) bool {
		return rel.Status.Halt != nil && rel.Status.Halt.RolledBack
	})
	assert.Equal(t, []any{ob[0], "ReplicaSet/beta", "a container restarted 0s after applying the revision"},
		[]any{rel.Status.Halt.Pod, rel.Status.Halt.Workload, rel.Status.Halt.Cause})
	want := map[string]string{}
	for _, p := range append(c.pods("alpha"), c.pods("beta")...) {
		want[p.Name] = " " + rev0
	}
	for _, p := range []string{oa[0], oa[1], ob[0]} {
		want[p] = rev0 + " " + rev0 // given the candidate, back on stable
	}
	assert.Equal(t, want, podRevisions(append(c.pods("alpha"), c.pods("beta")...)))
	assert.Equal(t, []string{
		startedEv(cand, stable),
		stepEv(cand, "ReplicaSet/alpha", 1, 2, 2, 4, oa[0], oa[1]),
		stepEv(cand, "ReplicaSet/beta", 1, 2, 1, 4, ob[0]),
		haltedEv(cand, ob[0], "ReplicaSet/beta", "a container restarted 0s after applying the revision", stable),
		rolledBackEv(stable, cand),
	}, c.waitEvents("ConfigMap", "app", ReasonRolledBack))
	assert.Equal(t, []string{stepEv(cand, "ReplicaSet/alpha", 1, 2, 2, 4, oa[0], oa[1]), rolledBackEv(stable, cand)},
		c.waitEvents("ReplicaSet", "alpha", ReasonRolledBack), "alpha, which did not fail, is told it went back")
}

// A change to a key that only some pods project leaves the others alone: they
// hold it without a release, and the release completes over both.
func TestIntegrationOnlyPodsProjectingAChangedKeyAreReleased(t *testing.T) {
	c := newCluster(t, nil)
	data0 := map[string]string{"a": "1", "b": "1"}
	c.configMap("shared", data0)
	interval := map[string]string{annotations.RolloutInterval: "1s"}
	alpha := c.replicaSet("alpha", 2, interval, "shared", "a")
	beta := c.replicaSet("beta", 2, interval, "shared", "b")
	betaRev := c.desired(beta[0])
	startController(t, c.env, c.ns)
	c.waitRelease("shared", "first seen", phase(v1alpha1.PhaseComplete, sourceRev(data0)))
	c.fakeReloaders(applyAll)

	data1 := map[string]string{"a": "2", "b": "1"}
	c.configMap("shared", data1)
	cand, rev := sourceRev(data1), c.desired(alpha[0])
	require.Equal(t, betaRev, c.desired(beta[0]))
	c.waitRelease("shared", "complete", phase(v1alpha1.PhaseComplete, cand))
	assert.Equal(t, all(c.pods("alpha"), rev+" "+rev), podRevisions(c.pods("alpha")))
	assert.Equal(t, all(c.pods("beta"), " "+betaRev), podRevisions(c.pods("beta")), "nothing written to pods the change does not reach")
	for _, p := range c.pods("beta") {
		assert.NotContains(t, p.Annotations, annotations.Candidates)
	}
}

// Two sources of one pod are two releases: one halts and goes back, the
// other completes, and the pod ends with each at its own revision.
func TestIntegrationTwoSourcesOfAPodAreTwoReleases(t *testing.T) {
	c := newCluster(t, nil)
	app0, tls0 := map[string]string{"app.conf": "v=0"}, map[string]string{"tls.key": "key-0"}
	c.configMap("app", app0)
	c.secret("tls", tls0)
	src := corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
		{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "app"}}},
		{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "tls"}}},
	}}}
	rs := c.owner("web")
	steps := map[string]string{annotations.Rollout: "1,100%", annotations.RolloutInterval: "1s"}
	var pods []*corev1.Pod
	for i := range 3 {
		pods = append(pods, c.addPodWith(fmt.Sprintf("web-%d", i), rs, steps, src))
	}
	startController(t, c.env, c.ns)
	c.waitRelease("app", "first seen", phase(v1alpha1.PhaseComplete, sourceRev(app0)))
	c.waitReleaseOf("secret-tls", "first seen", func(rel *v1alpha1.ConfigRelease) bool { return rel.Status.Phase == v1alpha1.PhaseComplete })

	app1, tls1 := map[string]string{"app.conf": "v=1"}, map[string]string{"tls.key": "bad key"}
	// Any pod revision with the new key in it is one the app refuses.
	bad := map[string]bool{
		c.at(pods[0], map[string]map[string]string{"ConfigMap/app": app0, "Secret/tls": tls1}): true,
		c.at(pods[0], map[string]map[string]string{"ConfigMap/app": app1, "Secret/tls": tls1}): true,
	}
	c.fakeReloaders(func(_, rev string) reloaderAction {
		if bad[rev] {
			return fail
		}
		return apply
	})
	// One after the other: a pod given both candidates at once that fails
	// halts both releases, as nothing tells which of the two it refused.
	c.configMap("app", app1)
	c.waitRelease("app", "complete", phase(v1alpha1.PhaseComplete, sourceRev(app1)))
	c.secret("tls", tls1)
	rel := c.waitReleaseOf("secret-tls", "rolled back", func(rel *v1alpha1.ConfigRelease) bool {
		return rel.Status.Halt != nil && rel.Status.Halt.RolledBack
	})
	assert.Equal(t, v1alpha1.PhaseHalted, rel.Status.Phase)
	want := c.at(pods[0], map[string]map[string]string{"ConfigMap/app": app1, "Secret/tls": tls0})
	assert.Equal(t, all(c.pods("web"), want+" "+want), podRevisions(c.pods("web")), "the new app.conf and the old key")
	for _, p := range c.pods("web") {
		assert.Equal(t, "", annotations.FormatCandidates(relevantCandidates(p, "Secret/tls", rel.Status.Candidate)), "no pod holds the halted key")
	}
}

// relevantCandidates returns the pod's hotreload/candidates entry for a
// source when it names the candidate.
func relevantCandidates(p corev1.Pod, source, cand string) map[string]string {
	out := map[string]string{}
	if annotations.CandidatesOf(p.Annotations)[source] == cand {
		out[source] = cand
	}
	return out
}

// A stable copy hotreload would write, taken by a user's object, blocks the
// release with a Warning Event: it is never overwritten.
func TestIntegrationAStableCopyNameTakenBlocksTheRelease(t *testing.T) {
	c := newCluster(t, nil)
	c.configMap(contract.StableName("app"), map[string]string{"mine": "yes"})
	c.configMap("app", map[string]string{"app.conf": "v=0"})
	c.replicaSet("web", 1, canary, "app")
	startController(t, c.env, c.ns)
	got := c.waitEvents("ConfigMap", "app", ReasonReleaseBlocked)
	assert.Equal(t, []string{fmt.Sprintf("%s: the stable copy of %s/ConfigMap/app: ConfigMap %s/%s is taken by an object hotreload does not own; rename it",
		ReasonReleaseBlocked, c.ns, c.ns, contract.StableName("app"))}, got)
	assert.Equal(t, map[string]string{"mine": "yes"}, c.kept(contract.StableName("app")).Data, "the user's object is left alone")
}
