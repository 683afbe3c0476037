package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/hotreload/hotreload/internal/kubeletdir"
	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/contract"
	"github.com/hotreload/hotreload/pkg/mutate"
	"github.com/hotreload/hotreload/pkg/revision"
)

// twoSourcePod reloads a projected volume of a ConfigMap, a Secret (one key,
// placed by items) and downwardAPI items, and a plain ConfigMap volume.
func twoSourcePod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", Labels: map[string]string{annotations.EnableLabel: annotations.EnableValue, "app": "web"}},
		Spec: corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](101)},
			Containers: []corev1.Container{{Name: "app", Image: "app:1", VolumeMounts: []corev1.VolumeMount{
				{Name: "settings", MountPath: "/etc/app"}, {Name: "extra", MountPath: "/etc/extra"}}}},
			Volumes: []corev1.Volume{
				{Name: "settings", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
					DefaultMode: ptr.To[int32](0o440),
					Sources: []corev1.VolumeProjection{
						{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "app"}}},
						{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "tls"},
							Items: []corev1.KeyToPath{{Key: "key", Path: "tls/key.pem"}}}},
						{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{
							{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}}}}},
					}}}},
				{Name: "extra", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
					LocalObjectReference: corev1.LocalObjectReference{Name: "app"}, Items: []corev1.KeyToPath{{Key: "app.conf", Path: "copy.conf"}}}}},
			},
		},
	}
}

// TestTheReloaderAssemblesEveryRevisionTheControllerComputes is the
// contract's property over releases: for a pod whose volumes mix sources, at
// every choice of stable or candidate per source, the revision the controller
// computes from the API objects (revision.ForPod) is one the reloader finds in
// what the kubelet mounts (each part's candidate and stable twin, written as
// the kubelet writes them), and the live copy it assembles holds exactly the
// files the kubelet would project from the sources at that choice.
func TestTheReloaderAssemblesEveryRevisionTheControllerComputes(t *testing.T) {
	pod, _, err := mutate.Mutate(twoSourcePod(), mutate.Options{ReloaderImage: "reloader:test", Version: "test", NativeSidecar: true})
	require.NoError(t, err)
	c := container(t, pod, contract.ReloaderName)
	run := parseRunArgs(t, c.Args[1:], downwardEnv(t, pod, c))
	require.Equal(t, contract.Version, run.Version)

	at := map[string]map[string][]byte{ // the content of each source, stable and candidate
		"stable/app":    {"app.conf": []byte("a=1"), "shared": []byte("from app")},
		"candidate/app": {"app.conf": []byte("a=2"), "shared": []byte("from app"), "new.conf": []byte("n")},
		"stable/tls":    {"key": []byte("K1"), "crt": []byte("C")},
		"candidate/tls": {"key": []byte("K2"), "crt": []byte("C")},
	}
	objects := func(app, tls string) kubeletdir.Objects {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "app"}, Data: map[string]string{}}
		for k, v := range at[app+"/app"] {
			cm.Data[k] = string(v)
		}
		return kubeletdir.Objects{ConfigMaps: map[string]*corev1.ConfigMap{"app": cm},
			Secrets: map[string]*corev1.Secret{"tls": {ObjectMeta: metav1.ObjectMeta{Name: "tls"}, Data: at[tls+"/tls"]}}, Pod: pod}
	}
	// What the kubelet writes: each mount of the sidecar from the objects it
	// names, the users' at their candidate, the stable copies at stable.
	root := t.TempDir()
	run.SrcDir, run.StableDir, run.LiveDir = filepath.Join(root, "src"), filepath.Join(root, "stable"), filepath.Join(root, "live")
	mounted := kubeletdir.Objects{ConfigMaps: map[string]*corev1.ConfigMap{}, Secrets: map[string]*corev1.Secret{}, Pod: pod}
	for k, v := range objects("candidate", "candidate").ConfigMaps {
		mounted.ConfigMaps[k] = v
	}
	for k, v := range objects("candidate", "candidate").Secrets {
		mounted.Secrets[k] = v
	}
	for k, v := range objects("stable", "stable").ConfigMaps {
		v = v.DeepCopy()
		v.Name = contract.StableName(k)
		mounted.ConfigMaps[v.Name] = v
	}
	for k, v := range objects("stable", "stable").Secrets {
		v = v.DeepCopy()
		v.Name = contract.StableName(k)
		mounted.Secrets[v.Name] = v
	}
	for _, m := range c.VolumeMounts {
		var dir string
		switch {
		case strings.HasPrefix(m.MountPath, contract.SrcDir+"/"):
			dir = filepath.Join(run.SrcDir, strings.TrimPrefix(m.MountPath, contract.SrcDir+"/"))
		case strings.HasPrefix(m.MountPath, contract.StableDir+"/"):
			dir = filepath.Join(run.StableDir, strings.TrimPrefix(m.MountPath, contract.StableDir+"/"))
		default:
			continue
		}
		payload, err := kubeletdir.Payload(podVolume(t, pod, m.Name), mounted)
		require.NoError(t, err, "mount %s", m.MountPath)
		require.NoError(t, kubeletdir.Write(dir, payload))
	}
	live := liveOf(run.Sources, run.Version)
	require.NoError(t, live.FirstCopy(context.Background(), time.Minute))
	first, err := live.LiveRevision()
	require.NoError(t, err)

	for _, choice := range [][2]string{{"stable", "stable"}, {"candidate", "stable"}, {"stable", "candidate"}, {"candidate", "candidate"}} {
		t.Run(fmt.Sprintf("ConfigMap at %s, Secret at %s", choice[0], choice[1]), func(t *testing.T) {
			objs := objects(choice[0], choice[1])
			want, err := revision.ForPod(pod, run.Volumes, func(kind revision.Kind, name string) (revision.Keys, bool) {
				if kind == revision.KindSecret {
					s, ok := objs.Secrets[name]
					return revision.SecretKeys(s), ok
				}
				cm, ok := objs.ConfigMaps[name]
				return revision.ConfigMapKeys(cm), ok
			})
			require.NoError(t, err)
			if choice == [2]string{"stable", "stable"} {
				assert.Equal(t, want, first, "a pod starts on the stable copies")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			staged, err := live.Stage(ctx, want)
			require.NoError(t, err, "the reloader finds revision %s in the mounts", want)
			require.NoError(t, staged.Swap())
			got, err := live.LiveRevision()
			require.NoError(t, err)
			assert.Equal(t, want, got)
			for _, v := range pod.Spec.Volumes {
				if v.Name != "settings" && v.Name != "extra" {
					continue
				}
				payload, err := kubeletdir.Payload(v, objs)
				require.NoError(t, err)
				for path, f := range payload {
					b, err := os.ReadFile(filepath.Join(run.LiveDir, v.Name, path))
					require.NoError(t, err, "%s/%s", v.Name, path)
					assert.Equal(t, string(f.Data), string(b), "%s/%s", v.Name, path)
				}
				files, err := revision.DirFiles(filepath.Join(run.LiveDir, v.Name))
				require.NoError(t, err)
				assert.Len(t, files, len(payload), "volume %s holds only what the kubelet would project", v.Name)
			}
		})
	}
}
