//go:build integration

package webhook_test

import (
	"context"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/internal/testenv"
	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/contract"
)

// A pod mounting a ConfigMap annotated hotreload/ignore: "true" and another,
// through the webhook and the controller of `webhook serve`: only the other
// gets a live copy and a release; the ignored one stays mounted as written,
// its subPath mount a subPath mount, and gets no release.
func TestIntegrationAnIgnoredConfigMapKeepsItsMountsAndGetsNoRelease(t *testing.T) {
	env := testenv.Get(t)
	wh := env.InstallWebhooks(t, webhookConfiguration())
	runManager(t, env, leaderOptions(t, wh, env.Namespace(t, nil)), testr.New(t))
	ns := env.Namespace(t, map[string]string{annotations.InjectionLabel: annotations.InjectionEnabled})
	ctx := context.Background()
	cms := env.Clientset.CoreV1().ConfigMaps(ns)
	_, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "app"}, Data: map[string]string{"app.conf": "v=0"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "flags", Annotations: map[string]string{annotations.Ignore: "true"}},
		Data: map[string]string{"flags.yaml": "beta: false"}}, metav1.CreateOptions{})
	require.NoError(t, err)

	flagsMount := corev1.VolumeMount{Name: "flags", MountPath: "/etc/flags/flags.yaml", SubPath: "flags.yaml"}
	cmVolume := func(name, cm string) corev1.Volume {
		return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: cm}}}}
	}
	pod, err := env.Clientset.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{annotations.EnableLabel: annotations.EnableValue},
			Annotations: map[string]string{annotations.Signal: "none"}},
		Spec: corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{RunAsUser: ptrTo(int64(1000))},
			Containers: []corev1.Container{{Name: "app", Image: "app", VolumeMounts: []corev1.VolumeMount{
				{Name: "config", MountPath: "/etc/app"}, flagsMount}}},
			Volumes: []corev1.Volume{cmVolume("config", "app"), cmVolume("flags", "flags")},
		},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	require.Contains(t, pod.Annotations, annotations.Injected)
	assert.Equal(t, []corev1.VolumeMount{{Name: contract.LiveVolume, MountPath: "/etc/app", SubPath: "config", ReadOnly: true}, flagsMount},
		pod.Spec.Containers[0].VolumeMounts, "only config is redirected to its live copy")
	run, _, err := contract.FromPod(pod)
	require.NoError(t, err)
	assert.Equal(t, []string{"config"}, run.Sources.Volumes, "the reloader reloads config only")
	var names []string
	for _, v := range pod.Spec.Volumes {
		names = append(names, v.Name)
	}
	assert.NotContains(t, names, contract.StableVolumePrefix+"1", "one stable twin, app's")

	// Its reloader reports (the kubelet and the sidecar do not run here):
	// the controller releases app, not flags.
	patch := `{"metadata":{"labels":{"` + annotations.Applied + `":"0a1b2c3d4e5f"}}}`
	_, err = env.Clientset.CoreV1().Pods(ns).Patch(ctx, "web", types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	require.NoError(t, err)
	scheme := runtime.NewScheme()
	require.NoError(t, v1alpha1.AddToScheme(scheme))
	releases, err := client.New(env.Config, client.Options{Scheme: scheme})
	require.NoError(t, err)
	rel := &v1alpha1.ConfigRelease{}
	require.Eventually(t, func() bool {
		return releases.Get(ctx, client.ObjectKey{Namespace: ns, Name: "configmap-app"}, rel) == nil && rel.Status.Phase == v1alpha1.PhaseComplete
	}, time.Minute, 50*time.Millisecond, "the release of app")
	err = releases.Get(ctx, client.ObjectKey{Namespace: ns, Name: "configmap-flags"}, &v1alpha1.ConfigRelease{})
	assert.True(t, apierrors.IsNotFound(err), "no release of flags: %v", err)
}

func ptrTo[T any](v T) *T { return &v }
