//go:build integration

package rollout

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hotreload/hotreload/pkg/annotations"
)

// warnedPod creates an injected pod that a controller made, with the labels
// given and the admission warnings the webhook records.
func (c *cluster) warnedPod(name string, owner metav1.OwnerReference, labels map[string]string, warnings ...string) {
	c.t.Helper()
	labels = clone(labels)
	labels[annotations.EnableLabel] = annotations.EnableValue
	owner.Controller, owner.BlockOwnerDeletion = ptrTo(true), ptrTo(true)
	_, err := c.env.Clientset.CoreV1().Pods(c.ns).Create(c.ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, OwnerReferences: []metav1.OwnerReference{owner},
			Annotations: map[string]string{annotations.Injected: "test", annotations.RolloutInterval: "soon",
				annotations.Warnings: annotations.FormatWarnings(warnings)}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app"}}},
	}, metav1.CreateOptions{})
	require.NoError(c.t, err)
}

// firstSeenPod is the end of an AdmissionWarning's note, which names the first
// pod of the template the controller saw: any of them, as the informer lists
// them when it starts.
var firstSeenPod = regexp.MustCompile(`(first seen on pod .*)-[a-z0-9]+\)$`)

// waitEventCount waits until the object has n Events of reason, and returns
// its Events of that reason, the pod each first saw named by its template
// ("web-7d9f8c6b5-*").
func (c *cluster) waitEventCount(kind, name, reason string, n int) []string {
	c.t.Helper()
	var got []string
	require.Eventually(c.t, func() bool {
		got = nil
		for _, e := range c.events(kind, name) {
			if strings.HasPrefix(e, reason+":") {
				got = append(got, firstSeenPod.ReplaceAllString(e, "$1-*)"))
			}
		}
		return len(got) >= n
	}, wait, 50*time.Millisecond, "%d %s Events on %s %s", n, reason, kind, name)
	return got
}

const (
	intervalWarning = `hotreload/rollout-interval: invalid interval "soon": not a duration such as 30s or 2m; using 30s`
	shareWarning    = "shareProcessNamespace is turned on so that the reloader can send SIGHUP to the process"
)

func warningEv(warning, template, pod string) string {
	return ReasonAdmissionWarning + ": " + warning + " (pods of " + template + " are admitted with it; first seen on pod " + pod + ")"
}

// The warnings a controller's pods were admitted with are said on the top
// workload, each once per pod template however many pods carry it, and
// again for a new template: a Deployment's ReplicaSet, a StatefulSet's
// revision.
func TestIntegrationAdmissionWarningsAreSaidOnTheWorkloadOncePerTemplate(t *testing.T) {
	c := newCluster(t, nil)
	dep, rss := c.deployment("web", "web-7d9f8c6b5", "web-5c6d7e8f9")
	first := metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rss[0].Name, UID: rss[0].UID}
	second := metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rss[1].Name, UID: rss[1].UID}
	startController(t, c.env, c.ns)

	for _, name := range []string{"web-7d9f8c6b5-a", "web-7d9f8c6b5-b", "web-7d9f8c6b5-c"} {
		c.warnedPod(name, first, map[string]string{"app": "web", "pod-template-hash": "7d9f8c6b5"}, intervalWarning, shareWarning)
	}
	want := []string{
		warningEv(intervalWarning, "ReplicaSet/web-7d9f8c6b5", "web-7d9f8c6b5-*"),
		warningEv(shareWarning, "ReplicaSet/web-7d9f8c6b5", "web-7d9f8c6b5-*"),
	}
	assert.Equal(t, want, c.waitEventCount("Deployment", dep.Name, ReasonAdmissionWarning, 2))

	// More pods of the template say nothing more; the pods of a new one (an
	// image changed) say it again. The pods are seen in the order they
	// were made: once the new template's Events are there, the old one's
	// new pods were seen.
	c.warnedPod("web-7d9f8c6b5-d", first, map[string]string{"app": "web", "pod-template-hash": "7d9f8c6b5"}, intervalWarning, shareWarning)
	c.warnedPod("web-5c6d7e8f9-a", second, map[string]string{"app": "web", "pod-template-hash": "5c6d7e8f9"}, intervalWarning)
	want = append(want, warningEv(intervalWarning, "ReplicaSet/web-5c6d7e8f9", "web-5c6d7e8f9-*"))
	assert.Equal(t, want, c.waitEventCount("Deployment", dep.Name, ReasonAdmissionWarning, 3))
	assert.Empty(t, c.events("ReplicaSet", rss[0].Name), "said on the Deployment only")

	// A StatefulSet's pods, of two revisions.
	sts, err := c.env.Clientset.AppsV1().StatefulSets(c.ns).Create(c.ctx, &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec: appsv1.StatefulSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "db"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "db", Image: "db"}}}},
		},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	owner := metav1.OwnerReference{APIVersion: "apps/v1", Kind: "StatefulSet", Name: sts.Name, UID: sts.UID}
	c.warnedPod("db-0", owner, map[string]string{"app": "db", "controller-revision-hash": "db-6f7d5c9b8"}, intervalWarning)
	c.warnedPod("db-1", owner, map[string]string{"app": "db", "controller-revision-hash": "db-6f7d5c9b8"}, intervalWarning)
	c.warnedPod("db-2", owner, map[string]string{"app": "db", "controller-revision-hash": "db-8b9c6d7e5"}, intervalWarning)
	assert.Equal(t, []string{
		warningEv(intervalWarning, "StatefulSet/db revision db-6f7d5c9b8", "db-*"),
		warningEv(intervalWarning, "StatefulSet/db revision db-8b9c6d7e5", "db-*"),
	}, c.waitEventCount("StatefulSet", "db", ReasonAdmissionWarning, 2))
	assert.Len(t, c.events("Deployment", dep.Name), 3, "nothing more on the Deployment")
}
