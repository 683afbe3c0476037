//go:build integration

package rollout

import (
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/contract"
	"github.com/hotreload/hotreload/pkg/release"
)

// envOwner is a controller that owns pods reading ConfigMap palette through
// envFrom, and, unless recreates is false, makes a new one for each pod that
// goes, as its real controller would, admitted as the webhook admits it
// (release.AdmitRevision on the release's status, read now).
type envOwner struct {
	ref       metav1.OwnerReference
	pods      []string
	recreates bool
	sameNames bool // a StatefulSet's pods keep their names
}

// envPod creates pod name of owner o, pinned to the revision the release of
// palette gives a new pod of o (its stable before any release), Ready.
func (c *cluster) envPod(o envOwner, name string) {
	c.t.Helper()
	rel := &v1alpha1.ConfigRelease{}
	err := c.api.Get(c.ctx, client.ObjectKey{Namespace: c.ns, Name: contract.ReleaseName("ConfigMap", "palette")}, rel)
	ref := "palette"
	ann := map[string]string{annotations.Injected: "test"}
	if err == nil {
		if rev, ok := release.AdmitRevision(rel.Status, &o.ref); ok {
			ref = contract.RevisionName("palette", rev)
			ann[annotations.Pinned] = "ConfigMap/palette=" + rev
		}
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{annotations.EnableLabel: annotations.EnableValue, "owner": o.ref.Name},
			Annotations: ann, OwnerReferences: []metav1.OwnerReference{o.ref}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app", EnvFrom: []corev1.EnvFromSource{
			{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: ref}}}}}}},
	}
	_, err = c.env.Clientset.CoreV1().Pods(c.ns).Create(c.ctx, pod, metav1.CreateOptions{})
	require.NoError(c.t, err)
	c.setStatus(name, true, time.Now(), time.Time{})
}

// playOwners recreates, until the test ends, each pod of a recreating owner
// that goes: under its name for a StatefulSet, under a new one otherwise. It
// returns how many pods each owner lost.
func (c *cluster) playOwners(owners []envOwner) func() map[string]int {
	lost := map[string]int{}
	var mu sync.Mutex
	done := make(chan struct{})
	stopped := make(chan struct{})
	live := map[string][]string{}
	for _, o := range owners {
		live[o.ref.Name] = slices.Clone(o.pods)
	}
	go func() {
		defer close(stopped)
		for n := 0; ; n++ {
			select {
			case <-done:
				return
			case <-time.After(50 * time.Millisecond):
			}
			for _, o := range owners {
				for i, name := range live[o.ref.Name] {
					_, err := c.env.Clientset.CoreV1().Pods(c.ns).Get(c.ctx, name, metav1.GetOptions{})
					if !apierrors.IsNotFound(err) || !o.recreates {
						continue
					}
					mu.Lock()
					lost[o.ref.Name]++
					mu.Unlock()
					next := name
					if !o.sameNames {
						next = strings.Join([]string{o.ref.Name, "r", string(rune('a' + n%26)), string(rune('a' + i))}, "-")
					}
					c.envPod(o, next)
					live[o.ref.Name][i] = next
				}
			}
		}
	}()
	return func() map[string]int {
		close(done)
		<-stopped
		mu.Lock()
		defer mu.Unlock()
		return maps.Clone(lost)
	}
}

// A pod that reads a source through env is replaced to take a change, one
// pod of its workload at a time, whatever owns it: a StatefulSet (its pods
// come back under their names), a DaemonSet, an operator's object (a
// CloneSet of a CRD installed here); a Job's pod, which nothing recreates,
// is never evicted, keeps what it started with and holds nothing back.
func TestIntegrationEnvConsumersOfEachOwnerKind(t *testing.T) {
	c := newCluster(t, map[string]string{annotations.RolloutInterval: "1s"})
	clone := c.cloneSet("web")
	ref := func(apiVersion, kind, name string, uid string) metav1.OwnerReference {
		return metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: name, UID: types.UID(uid), Controller: ptrTo(true)}
	}
	owners := []envOwner{
		{ref: ref("apps/v1", "StatefulSet", "db", "uid-db"), pods: []string{"db-0", "db-1"}, recreates: true, sameNames: true},
		{ref: ref("apps/v1", "DaemonSet", "agent", "uid-agent"), pods: []string{"agent-x"}, recreates: true},
		{ref: ref("apps.kruise.io/v1alpha1", "CloneSet", "web", string(clone.GetUID())), pods: []string{"web-a", "web-b"}, recreates: true},
		{ref: ref("batch/v1", "Job", "migrate", "uid-migrate"), pods: []string{"migrate-x"}},
	}
	c.configMap("palette", map[string]string{"COLOR": "blue"})
	for _, o := range owners {
		for _, p := range o.pods {
			c.envPod(o, p)
		}
	}
	startController(t, c.env, c.ns)
	blue, green := sourceRev(map[string]string{"COLOR": "blue"}), sourceRev(map[string]string{"COLOR": "green"})
	c.waitReleaseOf("configmap-palette", "first seen, every owner counted", func(rel *v1alpha1.ConfigRelease) bool {
		return phase(v1alpha1.PhaseComplete, blue)(rel) && len(rel.Status.Workloads) == 3
	})
	stop := c.playOwners(owners)
	c.configMap("palette", map[string]string{"COLOR": "green"})
	rel := c.waitReleaseOf("configmap-palette", "green on every pod that can take it", phase(v1alpha1.PhaseComplete, green))
	lost := stop()

	assert.Equal(t, map[string]int{"db": 2, "agent": 1, "web": 2}, lost, "each recreated pod replaced once, the Job's never")
	var workloads []string
	for _, w := range rel.Status.Workloads {
		workloads = append(workloads, w.Kind+"/"+w.Name)
	}
	assert.Equal(t, []string{"CloneSet/web", "DaemonSet/agent", "StatefulSet/db"}, workloads, "the Job's pod holds nothing back")
	pins := map[string]string{}
	for _, p := range c.pods("") {
		pins[p.Name] = p.Annotations[annotations.Pinned]
	}
	for name, pin := range pins {
		want := "ConfigMap/palette=" + green
		if name == "migrate-x" {
			want = "" // started before the release: read as written, never replaced
		}
		assert.Equal(t, want, pin, "pod %s", name)
	}
	assert.Contains(t, pins, "db-0", "a StatefulSet's pods come back under their names")
	assert.Contains(t, pins, "db-1")
	events := c.events("Job", "migrate")
	require.Len(t, events, 1, "said once: %v", events)
	assert.True(t, strings.HasPrefix(events[0], ReasonNotDelivered+": config revision "+green+" is not delivered to 1 pods of Job/migrate"), events[0])
}

// cloneSet installs a CRD of another operator's workload (a Kruise CloneSet)
// and creates one, to own pods.
func (c *cluster) cloneSet(name string) *unstructured.Unstructured {
	c.t.Helper()
	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": "clonesets.apps.kruise.io"},
		"spec": map[string]any{
			"group": "apps.kruise.io", "scope": "Namespaced",
			"names": map[string]any{"plural": "clonesets", "singular": "cloneset", "kind": "CloneSet", "listKind": "CloneSetList"},
			"versions": []any{map[string]any{"name": "v1alpha1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}},
		},
	}}
	if err := c.api.Create(c.ctx, crd); err != nil && !apierrors.IsAlreadyExists(err) {
		require.NoError(c.t, err)
	}
	obj := &unstructured.Unstructured{}
	obj.SetAPIVersion("apps.kruise.io/v1alpha1")
	obj.SetKind("CloneSet")
	obj.SetName(name)
	obj.SetNamespace(c.ns)
	require.Eventually(c.t, func() bool { return c.api.Create(c.ctx, obj) == nil }, wait, 100*time.Millisecond, "the CRD is served")
	return obj
}

// A Deployment's pods are replaced as many at a time as its own rolling
// update lets be unavailable: with maxUnavailable 2, two of four go at once
// and wait for their replacements, where one at a time would take two rounds.
func TestIntegrationEnvReplacementsWithinTheDeploymentsMaxUnavailable(t *testing.T) {
	c := newCluster(t, map[string]string{annotations.Rollout: "100%", annotations.RolloutInterval: "1s"})
	labels := map[string]string{"app": "web"}
	template := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app"}}}}
	two := intstr.FromInt32(2)
	deploy, err := c.env.Clientset.AppsV1().Deployments(c.ns).Create(c.ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{Replicas: ptrTo(int32(4)), Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: template,
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: &two}}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	rs, err := c.env.Clientset.AppsV1().ReplicaSets(c.ns).Create(c.ctx, &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment",
			Name: "web", UID: deploy.UID, Controller: ptrTo(true)}}},
		Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: template},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	owner := envOwner{ref: metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: ptrTo(true)},
		pods: []string{"web-a", "web-b", "web-c", "web-d"}, recreates: true}
	c.configMap("palette", map[string]string{"COLOR": "blue"})
	for _, p := range owner.pods {
		c.envPod(owner, p)
	}
	startController(t, c.env, c.ns)
	blue, green := sourceRev(map[string]string{"COLOR": "blue"}), sourceRev(map[string]string{"COLOR": "green"})
	c.waitReleaseOf("configmap-palette", "first seen", phase(v1alpha1.PhaseComplete, blue))
	c.configMap("palette", map[string]string{"COLOR": "green"})
	require.Eventually(t, func() bool { return len(c.pods("web")) == 2 }, wait, 50*time.Millisecond,
		"two of the four pods evicted at once, nothing recreating them yet")

	stop := c.playOwners([]envOwner{owner})
	c.waitReleaseOf("configmap-palette", "green on every pod", phase(v1alpha1.PhaseComplete, green))
	assert.Equal(t, map[string]int{"web-1": 4}, stop(), "each pod replaced once")
}
