//go:build integration

package webhook_test

import (
	"context"
	"regexp"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/hotreload/hotreload/internal/testenv"
	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/mutate/mutatetest"
	"github.com/hotreload/hotreload/pkg/rollout"
)

// A Deployment's pods with a malformed value, created through the webhook
// as its ReplicaSets would create them (no controller runs here), warn
// nobody at admission: the webhook records the warning on each, and the
// controller, in the same process, says it on the Deployment once per pod
// template, however many pods carry it.
func TestIntegrationAMalformedValueOfADeploymentsPodsIsSaidOnTheDeployment(t *testing.T) {
	env := testenv.Get(t)
	cache := startServer(t, env, serverOptions(mutatetest.Case{}))
	ns := enabledNamespace(t, env, cache, nil)
	ctx := context.Background()
	_, err := env.Clientset.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "web-config"},
		Data: map[string]string{"web.conf": "v=0"}}, metav1.CreateOptions{})
	require.NoError(t, err)

	template := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{
			Labels:      map[string]string{"app": "web", annotations.EnableLabel: annotations.EnableValue},
			Annotations: map[string]string{annotations.Signal: "none", annotations.RolloutInterval: "soon"},
		},
		Spec: corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](1000)},
			Containers: []corev1.Container{{Name: "web", Image: "web:1.0",
				VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: "/etc/web"}}}},
			Volumes: []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: "web-config"}}}}},
		},
	}
	dep, err := env.Clientset.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec:       appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, Template: template},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	// makePods plays a ReplicaSet of the Deployment, of the template's hash.
	makePods := func(hash string, n int) {
		t.Helper()
		rs, err := env.Clientset.AppsV1().ReplicaSets(ns).Get(ctx, "web-"+hash, metav1.GetOptions{})
		if err != nil {
			rs, err = env.Clientset.AppsV1().ReplicaSets(ns).Create(ctx, &appsv1.ReplicaSet{
				ObjectMeta: metav1.ObjectMeta{Name: "web-" + hash, OwnerReferences: []metav1.OwnerReference{
					*metav1.NewControllerRef(dep, appsv1.SchemeGroupVersion.WithKind("Deployment"))}},
				Spec: appsv1.ReplicaSetSpec{Selector: dep.Spec.Selector, Template: template},
			}, metav1.CreateOptions{})
			require.NoError(t, err)
		}
		for range n {
			pod := &corev1.Pod{ObjectMeta: *template.ObjectMeta.DeepCopy(), Spec: *template.Spec.DeepCopy()}
			pod.GenerateName = rs.Name + "-"
			pod.Labels[appsv1.DefaultDeploymentUniqueLabelKey] = hash
			pod.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(rs, appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))}
			got, err := env.Clientset.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
			require.NoError(t, err)
			require.Contains(t, got.Annotations, annotations.Injected)
		}
	}
	const warning = `hotreload/rollout-interval: invalid interval "soon": not a duration such as 30s or 2m; using 30s`
	warnings := func(n int) []string {
		var got []string
		require.Eventually(t, func() bool {
			list, err := env.Clientset.EventsV1().Events(ns).List(ctx, metav1.ListOptions{})
			require.NoError(t, err)
			items := list.Items
			sort.SliceStable(items, func(i, j int) bool { return items[i].EventTime.Before(&items[j].EventTime) })
			got = nil
			for _, e := range items {
				if e.Regarding.Kind == "Deployment" && e.Regarding.Name == "web" && e.Reason == rollout.ReasonAdmissionWarning {
					assert.Equal(t, corev1.EventTypeWarning, e.Type)
					got = append(got, e.Note)
				}
			}
			return len(got) >= n
		}, time.Minute, 50*time.Millisecond, "%d AdmissionWarning Events on the Deployment", n)
		return got
	}

	makePods("7d9f8c6b5", 3)
	pods, err := env.Clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	for _, p := range pods.Items {
		assert.Equal(t, []string{warning}, annotations.WarningsOf(p.Annotations), "pod %s records its warning", p.Name)
	}
	got := warnings(1)
	require.Len(t, got, 1)
	assert.Regexp(t, `^`+regexp.QuoteMeta(warning)+` \(pods of ReplicaSet/web-7d9f8c6b5 are admitted with it; first seen on pod web-7d9f8c6b5-\w+\)$`, got[0])

	// More pods of the template, then a new template (an image changed):
	// the pods are seen in the order they were made, so once the new
	// template's Event is there the others were seen, and said nothing.
	makePods("7d9f8c6b5", 2)
	makePods("5c6d7e8f9", 1)
	got = warnings(2)
	require.Len(t, got, 2, "one Event per template")
	assert.Regexp(t, `^`+regexp.QuoteMeta(warning)+` \(pods of ReplicaSet/web-5c6d7e8f9 are admitted with it; first seen on pod web-5c6d7e8f9-\w+\)$`, got[1])
}
