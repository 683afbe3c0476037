package rollout

import (
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/contract"
	"github.com/hotreload/hotreload/pkg/revision"
)

func TestTransformConfigMapKeepsDigestsNotData(t *testing.T) {
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "shop", UID: "u1", ResourceVersion: "7",
			Labels: map[string]string{"team": "a"}, Annotations: map[string]string{"kubectl.kubernetes.io/last-applied-configuration": "{...}",
				annotations.Ignore: "true"},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}},
		Data:       map[string]string{"app.conf": "v=1"},
		BinaryData: map[string][]byte{"logo.png": {0x89, 'P'}},
	}
	got, err := transformConfigMap(cm)
	require.NoError(t, err)
	want := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "shop", UID: "u1", ResourceVersion: "7",
		Annotations: map[string]string{keysAnnotation: `{"app.conf":"` + hexDigest("v=1") + `","logo.png":"` + hexDigest("\x89P") + `"}`,
			annotations.Ignore: "true"}}}
	assert.Equal(t, want, got)

	again, err := transformConfigMap(got)
	require.NoError(t, err)
	assert.Equal(t, want, again, "the transform is idempotent")

	keys, err := keysOf(got.(*corev1.ConfigMap))
	require.NoError(t, err)
	assert.Equal(t, revision.ConfigMapKeys(cm), keys)
}

// A ConfigMap of more keys than MaxSourceKeys (100,000 empty ones fit in
// Kubernetes' 1 MiB) costs the cache its identity only, and reads as over
// the limit; at the limit its digests are kept.
func TestTransformKeepsOnlyTheIdentityOfAnObjectOverTheKeyLimit(t *testing.T) {
	many := func(n int) *corev1.ConfigMap {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "junk", Namespace: "anywhere", UID: "u3", ResourceVersion: "9"}, Data: map[string]string{}}
		for i := range n {
			cm.Data[fmt.Sprintf("k%d", i)] = ""
		}
		return cm
	}
	got, err := transformConfigMap(many(100000))
	require.NoError(t, err)
	want := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "junk", Namespace: "anywhere", UID: "u3", ResourceVersion: "9",
		Annotations: map[string]string{overLimitAnnotation: "100000"}}}
	assert.Equal(t, want, got)
	again, err := transformConfigMap(got)
	require.NoError(t, err)
	assert.Equal(t, want, again, "the transform is idempotent")
	_, err = keysOf(got.(*corev1.ConfigMap))
	assert.ErrorIs(t, err, errTooManyKeys)
	assert.EqualError(t, err, "anywhere/junk has 100000 keys: over hotreload's limit of 2000")

	atLimit, err := transformConfigMap(many(MaxSourceKeys))
	require.NoError(t, err)
	keys, err := keysOf(atLimit.(*corev1.ConfigMap))
	require.NoError(t, err)
	assert.Len(t, keys, MaxSourceKeys)
}

func TestTransformSecretKeepsDigestsNotData(t *testing.T) {
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "tls", Namespace: "shop", UID: "u2", ResourceVersion: "8",
			Annotations: map[string]string{annotations.OnHalt: "retry", annotations.Ignore: strings.Repeat("x", 257), "cert-manager.io/issuer-name": "ca"}},
		Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{"tls.key": []byte("secret bytes")},
	}
	got, err := transformSecret(s)
	require.NoError(t, err)
	assert.Equal(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "tls", Namespace: "shop", UID: "u2", ResourceVersion: "8",
		Annotations: map[string]string{keysAnnotation: `{"tls.key":"` + hexDigest("secret bytes") + `"}`, annotations.OnHalt: "retry"}}}, got,
		"the halt policy is kept, an annotation over 256 bytes is not")
	keys, err := keysOf(got.(*corev1.Secret))
	require.NoError(t, err)
	assert.Equal(t, revision.SecretKeys(s), keys)
}

func TestTransformPodKeepsWhatRolloutsRead(t *testing.T) {
	since := metav1.NewTime(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
	cmVol := corev1.Volume{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: "app"}}}}
	owner := metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-1", UID: "rs", Controller: ptrTo(true)}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1-a", Namespace: "shop", UID: "p1", ResourceVersion: "9",
			OwnerReferences: []metav1.OwnerReference{owner},
			Labels: map[string]string{"app": "web", annotations.EnableLabel: "true", annotations.Applied: "aaaaaaaaaaaa",
				"pod-template-hash": "7d9f8c6b5"},
			Annotations: map[string]string{"prometheus.io/scrape": "true", annotations.Released: "aaaaaaaaaaaa",
				annotations.ReloaderCredential: "JTI=b,JTI=a", annotations.Warnings: `hotreload/rollout-interval: invalid interval "soon"; using 30s`}},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: contract.ReloaderName, Image: "reloader", Args: []string{"run", "--volume", "config", "--signal", "SIGHUP"},
				Env: []corev1.EnvVar{{Name: "POD_NAME"}}}},
			Containers: []corev1.Container{{Name: "app", Image: "nginx", Env: []corev1.EnvVar{{Name: "A", Value: "b"}}}},
			Volumes:    []corev1.Volume{cmVol, {Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning, PodIP: "10.0.0.1",
			Conditions: []corev1.PodCondition{
				{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
				{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: since, Message: "ok"},
			},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Image: "nginx", RestartCount: 2,
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{FinishedAt: since}}}},
		},
	}
	got, err := transformPod(pod)
	require.NoError(t, err)
	assert.Equal(t, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1-a", Namespace: "shop", UID: "p1", ResourceVersion: "9",
			OwnerReferences: []metav1.OwnerReference{owner},
			Labels:          map[string]string{annotations.EnableLabel: "true", annotations.Applied: "aaaaaaaaaaaa", "pod-template-hash": "7d9f8c6b5"},
			Annotations: map[string]string{annotations.Released: "aaaaaaaaaaaa", reloaderAnnotation: `{"version":1,"volumes":["config"]}`,
				warningsAnnotation: warningsDigest(`hotreload/rollout-interval: invalid interval "soon"; using 30s`)}},
		Spec: corev1.PodSpec{
			Volumes: []corev1.Volume{cmVol},
		},
		Status: corev1.PodStatus{
			Phase:      corev1.PodRunning,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: since}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "app", RestartCount: 2,
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{FinishedAt: since}}}},
		},
	}, got)

	// What planning reads is the same from the cached copy as from the pod.
	assert.Equal(t, StateOf(pod), StateOf(got.(*corev1.Pod)))
	assert.Equal(t, sourcesOf(pod, []string{"config"}), sourcesOf(got.(*corev1.Pod), []string{"config"}))
	vols, ok := ReloadedVolumes(got.(*corev1.Pod))
	assert.True(t, ok)
	assert.Equal(t, []string{"config"}, vols)
	again, err := transformPod(got)
	require.NoError(t, err)
	assert.Equal(t, got, again, "transforming a cached pod again keeps it")
}

// Of a pod's annotations the cache keeps those rollouts read, each at most
// maxPodAnnotation bytes: a pod with a larger one (junk, or a value no
// hotreload writes) is kept without it, and said unreadable.
func TestTransformPodBoundsWhatItKeeps(t *testing.T) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1-a", Namespace: "shop", UID: "p1",
			Annotations: map[string]string{annotations.Released: "aaaaaaaaaaaa", annotations.Rollout: strings.Repeat("1,", 3<<10),
				"hotreload/anything": strings.Repeat("x", 200<<10), annotations.Candidates: "{}"}},
		Spec: corev1.PodSpec{InitContainers: []corev1.Container{{Name: contract.ReloaderName, Image: "reloader", Args: []string{"run", "--volume", "config"}}}},
	}
	got, err := transformPod(pod)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{annotations.Released: "aaaaaaaaaaaa", annotations.Candidates: "{}",
		reloaderAnnotation: `{"version":1,"volumes":["config"],"oversized":"annotation hotreload/rollout (6144 bytes) over hotreload's limit of 4096 bytes"}`},
		got.(*corev1.Pod).Annotations)
	info, ok := reloaderOf(got.(*corev1.Pod))
	assert.True(t, ok)
	assert.Equal(t, reloaderInfo{Version: 1, Volumes: []string{"config"}, Oversized: "annotation hotreload/rollout (6144 bytes) over hotreload's limit of 4096 bytes"}, info)
}

// An update of what transformPod drops (a token exchange's record, the app's
// labels, the pod's IP) leaves the cached copies equal but for their
// resourceVersion: nothing to reconcile. One of what rollouts read is a change.
func TestPodChangedOnlyByWhatRolloutsRead(t *testing.T) {
	cached := func(rv string, edit func(*corev1.Pod)) *corev1.Pod {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "web-1-a", Namespace: "shop", UID: "p1", ResourceVersion: rv,
				Labels:      map[string]string{"app": "web", annotations.EnableLabel: "true", annotations.Applied: "aaaaaaaaaaaa"},
				Annotations: map[string]string{annotations.Released: "aaaaaaaaaaaa", annotations.ReloaderCredential: "JTI=a"}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.1"},
		}
		edit(p)
		out, err := transformPod(p)
		require.NoError(t, err)
		return out.(*corev1.Pod)
	}
	same := func(*corev1.Pod) {}
	old := cached("9", same)
	for _, tc := range []struct {
		name string
		edit func(*corev1.Pod)
		want bool
	}{
		{"a new resourceVersion alone", same, false},
		{"a token exchange", func(p *corev1.Pod) { p.Annotations[annotations.ReloaderCredential] = "JTI=b,JTI=a" }, false},
		{"the app's label", func(p *corev1.Pod) { p.Labels["app"] = "web-2" }, false},
		{"the pod's IP", func(p *corev1.Pod) { p.Status.PodIP = "10.0.0.2" }, false},
		{"the revision the reloader applied", func(p *corev1.Pod) { p.Labels[annotations.Applied] = "bbbbbbbbbbbb" }, true},
		{"a failure", func(p *corev1.Pod) { p.Annotations[annotations.Failed] = "exit 1" }, true},
		{"the phase", func(p *corev1.Pod) { p.Status.Phase = corev1.PodFailed }, true},
		{"being deleted", func(p *corev1.Pod) { p.DeletionTimestamp = &metav1.Time{Time: time.Unix(1, 0)} }, true},
	} {
		assert.Equal(t, tc.want, podChanged(old, cached("10", tc.edit)), tc.name)
	}
	assert.True(t, podChanged(nil, old), "no old copy")
}

func TestStateOf(t *testing.T) {
	at := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", UID: "p1",
			Labels: map[string]string{annotations.Applied: "aaaaaaaaaaaa"},
			Annotations: map[string]string{annotations.Released: "bbbbbbbbbbbb", annotations.AppliedAt: at.Format(time.RFC3339),
				annotations.Failed: annotations.FormatFailed("bbbbbbbbbbbb", "verify: timeout")}},
		Status: corev1.PodStatus{
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse, LastTransitionTime: metav1.NewTime(at.Add(time.Second))}},
			ContainerStatuses: []corev1.ContainerStatus{
				{Name: "app", LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{FinishedAt: metav1.NewTime(at.Add(2 * time.Second))}}},
				{Name: contract.ReloaderName, LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{FinishedAt: metav1.NewTime(at.Add(time.Hour))}}},
			},
		},
	}
	assert.Equal(t, Pod{Name: "web", UID: "p1", Released: "bbbbbbbbbbbb", Applied: "aaaaaaaaaaaa", AppliedAt: at,
		Failed: "bbbbbbbbbbbb", FailedReason: "verify: timeout", ReadySince: at.Add(time.Second), LastRestart: at.Add(2 * time.Second)}, StateOf(pod))
}

func TestReloadedVolumesReadsTheReloaderArguments(t *testing.T) {
	cases := []struct {
		name string
		pod  corev1.PodSpec
		want []string
		ok   bool
	}{
		{"a native sidecar", corev1.PodSpec{InitContainers: []corev1.Container{{Name: contract.ReloaderName, Args: []string{"run", "--volume", "a", "--volume=b", "--container", "app"}}}}, []string{"a", "b"}, true},
		{"a plain container", corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}, {Name: contract.ReloaderName, Args: []string{"run", "--volume", "a"}}}}, []string{"a"}, true},
		{"volumes given as a comma-separated list, as the reloader reads them", corev1.PodSpec{InitContainers: []corev1.Container{{Name: contract.ReloaderName, Args: []string{"run", "--volume", "a,b", "--volume", "c"}}}}, []string{"a", "b", "c"}, true},
		{"a command line of a newer contract", corev1.PodSpec{InitContainers: []corev1.Container{{Name: contract.ReloaderName, Args: []string{"run", "--contract", "99", "--volume", "a"}}}}, nil, false},
		{"no reloader", corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Args: []string{"--volume", "a"}}}}, nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ReloadedVolumes(&corev1.Pod{Spec: tc.pod})
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.want, got)
		})
	}
}

func hexDigest(s string) string {
	d := revision.DigestOf([]byte(s))
	return hex.EncodeToString(d[:])
}

func ptrTo[T any](v T) *T { return &v }

// A restart of the app's own native sidecar (an init container with
// restartPolicy Always, which hotreload/container may name) is a restart of
// the app; one of a plain init container, or of hotreload's own, is not; the
// cached pod keeps what StateOf reads.
func TestStateOfReadsTheAppsNativeSidecars(t *testing.T) {
	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	always := corev1.ContainerRestartPolicyAlways
	terminated := func(d time.Duration) corev1.ContainerState {
		return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{FinishedAt: metav1.NewTime(at.Add(d))}}
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", UID: "p1", Labels: map[string]string{annotations.EnableLabel: annotations.EnableValue}},
		Spec: corev1.PodSpec{InitContainers: []corev1.Container{{Name: "migrate"}, {Name: "php-fpm", RestartPolicy: &always},
			{Name: contract.ReloaderName, RestartPolicy: &always, Args: []string{"run", "--volume", "a"}}}, Containers: []corev1.Container{{Name: "nginx"}}},
		Status: corev1.PodStatus{
			InitContainerStatuses: []corev1.ContainerStatus{
				{Name: "migrate", LastTerminationState: terminated(time.Hour)},
				{Name: "php-fpm", LastTerminationState: terminated(3 * time.Second)},
				{Name: contract.ReloaderName, LastTerminationState: terminated(2 * time.Hour)},
			},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "nginx", LastTerminationState: terminated(time.Second)}},
		},
	}
	want := Pod{Name: "web", UID: "p1", LastRestart: at.Add(3 * time.Second)}
	assert.Equal(t, want, StateOf(pod))
	cached, err := transformPod(pod)
	require.NoError(t, err)
	assert.Equal(t, want, StateOf(cached.(*corev1.Pod)), "the cached pod")
}
