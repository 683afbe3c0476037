package revision_test

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/hotreload/hotreload/internal/kubeletdir"
	"github.com/hotreload/hotreload/pkg/revision"
)

// gen makes random objects and volumes whose paths never collide as file and
// directory (directories start with "d", files with "f" or are keys).
type gen struct{ r *rand.Rand }

var keyNames = []string{"app.conf", "k-1", "k_2", "K3", "tls.crt", "x.y.z", "data"}

func (g gen) data() []byte {
	n := g.r.IntN(40)
	if g.r.IntN(6) == 0 {
		n = 0
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.r.UintN(256))
	}
	return b
}

func (g gen) objects() kubeletdir.Objects {
	objs := kubeletdir.Objects{ConfigMaps: map[string]*corev1.ConfigMap{}, Secrets: map[string]*corev1.Secret{}}
	for _, name := range []string{"a", "b", "c"} {
		if g.r.IntN(10) == 0 {
			continue // missing
		}
		cm := &corev1.ConfigMap{Data: map[string]string{}, BinaryData: map[string][]byte{}}
		s := &corev1.Secret{Data: map[string][]byte{}}
		for _, k := range keyNames {
			switch n := g.r.IntN(8); {
			case n < 4:
				cm.Data[k] = string(g.data())
			case n < 7:
				cm.BinaryData[k] = g.data()
			}
			if g.r.IntN(8) != 0 {
				s.Data[k] = g.data()
			}
		}
		objs.ConfigMaps[name], objs.Secrets[name] = cm, s
	}
	return objs
}

func (g gen) items() []corev1.KeyToPath {
	if g.r.IntN(3) == 0 {
		return nil
	}
	var items []corev1.KeyToPath
	for range 1 + g.r.IntN(4) {
		p := fmt.Sprintf("f%d", g.r.IntN(6))
		for range g.r.IntN(3) {
			p = fmt.Sprintf("d%d/%s", g.r.IntN(2), p)
		}
		it := corev1.KeyToPath{Key: keyNames[g.r.IntN(len(keyNames))], Path: p}
		if g.r.IntN(2) == 0 {
			it.Mode = ptr(int32([]int{0o400, 0o600, 0o755}[g.r.IntN(3)]))
		}
		items = append(items, it)
	}
	return items
}

func (g gen) optional() *bool {
	if g.r.IntN(3) == 0 {
		return nil
	}
	return ptr(g.r.IntN(2) == 0)
}

func (g gen) name() string { return []string{"a", "b", "c"}[g.r.IntN(3)] }

func (g gen) volume(name string) corev1.Volume {
	mode := ptr(int32([]int{0o644, 0o400, 0o777}[g.r.IntN(3)]))
	ref := corev1.LocalObjectReference{Name: g.name()}
	switch g.r.IntN(3) {
	case 0:
		return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: ref, Items: g.items(), Optional: g.optional(), DefaultMode: mode}}}
	case 1:
		return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: ref.Name, Items: g.items(), Optional: g.optional(), DefaultMode: mode}}}
	}
	p := &corev1.ProjectedVolumeSource{DefaultMode: mode}
	for range 1 + g.r.IntN(3) {
		// Projected sources without items would collide as file and directory
		// with other sources' nested paths; the kubelet would fail the mount.
		items := g.items()
		if items == nil {
			items = []corev1.KeyToPath{{Key: keyNames[0], Path: "f0"}}
		}
		if g.r.IntN(2) == 0 {
			p.Sources = append(p.Sources, corev1.VolumeProjection{ConfigMap: &corev1.ConfigMapProjection{
				LocalObjectReference: corev1.LocalObjectReference{Name: g.name()}, Items: items, Optional: g.optional()}})
		} else {
			p.Sources = append(p.Sources, corev1.VolumeProjection{Secret: &corev1.SecretProjection{
				LocalObjectReference: corev1.LocalObjectReference{Name: g.name()}, Items: items, Optional: g.optional()}})
		}
	}
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Projected: p}}
}

func lookupObjects(objs kubeletdir.Objects) revision.Lookup {
	return func(kind revision.Kind, name string) (revision.Keys, bool) {
		switch kind {
		case revision.KindConfigMap:
			if cm, ok := objs.ConfigMaps[name]; ok {
				return revision.ConfigMapKeys(cm), true
			}
		case revision.KindSecret:
			if s, ok := objs.Secrets[name]; ok {
				return revision.SecretKeys(s), true
			}
		}
		return nil, false
	}
}

// TestRevisionFromObjectsMatchesKubeletDirectories writes random volumes the
// way the kubelet does, over and over into the same directories, and checks the
// revision computed from the API objects equals the one read from disk.
func TestRevisionFromObjectsMatchesKubeletDirectories(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(1, 2))}
	root := t.TempDir()
	names := []string{"config", "secret", "extra"}
	var checked, failed int
	for iter := range 200 {
		objs := g.objects()
		pod := &corev1.Pod{}
		for _, n := range names {
			pod.Spec.Volumes = append(pod.Spec.Volumes, g.volume(n))
		}
		fromAPI, apiErr := revision.ForPod(pod, names, lookupObjects(objs))
		var kubeletErr error
		for _, v := range pod.Spec.Volumes {
			payload, err := kubeletdir.Payload(v, objs)
			if err != nil {
				kubeletErr = err
				break
			}
			require.NoError(t, kubeletdir.Write(filepath.Join(root, v.Name), payload), "iteration %d", iter)
		}
		if kubeletErr != nil {
			require.Error(t, apiErr, "iteration %d: the kubelet fails (%v), so must the revision", iter, kubeletErr)
			failed++
			continue
		}
		require.NoError(t, apiErr, "iteration %d", iter)
		fromDir, err := revision.ForDirs(root, names)
		require.NoError(t, err)
		require.Equal(t, fromAPI, fromDir, "iteration %d: pod %+v", iter, pod.Spec.Volumes)
		for _, v := range pod.Spec.Volumes {
			want, err := revision.VolumeFiles(v, lookupObjects(objs))
			require.NoError(t, err)
			got, err := revision.DirFiles(filepath.Join(root, v.Name))
			require.NoError(t, err)
			require.Equal(t, want, got, "iteration %d volume %s", iter, v.Name)
		}
		checked++
	}
	assert.Greater(t, checked, 60, "enough mountable cases")
	assert.Greater(t, failed, 5, "enough unmountable cases")
}

// TestUnprojectedKeysLeaveTheRevisionAlone changes, adds and removes keys that
// a volume's items do not list, and checks its revision, from the objects and
// from the kubelet's directory, does not move.
func TestUnprojectedKeysLeaveTheRevisionAlone(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(3, 4))}
	var checked int
	for iter := range 200 {
		objs := g.objects()
		v := g.volume("config")
		before, err := revision.VolumeFiles(v, lookupObjects(objs))
		if err != nil {
			continue
		}
		projected := projectedKeys(v)
		if projected == nil {
			continue // no items: every key is projected
		}
		dir := filepath.Join(t.TempDir(), "config")
		payload, err := kubeletdir.Payload(v, objs)
		require.NoError(t, err)
		require.NoError(t, kubeletdir.Write(dir, payload))

		for _, cm := range objs.ConfigMaps {
			mutateUnlisted(g, cm.Data, cm.BinaryData, projected)
		}
		for _, s := range objs.Secrets {
			mutateUnlisted(g, nil, s.Data, projected)
		}
		after, err := revision.VolumeFiles(v, lookupObjects(objs))
		require.NoError(t, err)
		assert.Equal(t, before.Revision(), after.Revision(), "iteration %d", iter)

		payload, err = kubeletdir.Payload(v, objs)
		require.NoError(t, err)
		require.NoError(t, kubeletdir.Write(dir, payload))
		fromDir, err := revision.ForDir(dir)
		require.NoError(t, err)
		assert.Equal(t, before.Revision(), fromDir, "iteration %d", iter)
		checked++
	}
	assert.Greater(t, checked, 30)
}

// projectedKeys returns the keys v's items list, or nil when a source has no
// items (then every key is projected).
func projectedKeys(v corev1.Volume) map[string]bool {
	keys := map[string]bool{}
	add := func(items []corev1.KeyToPath) bool {
		for _, it := range items {
			keys[it.Key] = true
		}
		return len(items) > 0
	}
	switch {
	case v.ConfigMap != nil:
		if !add(v.ConfigMap.Items) {
			return nil
		}
	case v.Secret != nil:
		if !add(v.Secret.Items) {
			return nil
		}
	default:
		for _, s := range v.Projected.Sources {
			if s.ConfigMap != nil && !add(s.ConfigMap.Items) || s.Secret != nil && !add(s.Secret.Items) {
				return nil
			}
		}
	}
	return keys
}

func mutateUnlisted(g gen, data map[string]string, binary map[string][]byte, listed map[string]bool) {
	for _, k := range append(keyNames, "unlisted-new") {
		if listed[k] {
			continue
		}
		switch g.r.IntN(3) {
		case 0:
			delete(binary, k)
			delete(data, k)
		default:
			delete(data, k)
			binary[k] = g.data()
		}
	}
}

// TestDownwardAPIFilesAreLeftOutOnBothSides gives random projected volumes a
// downwardAPI source: the kubelet writes its files, the API-object revision
// does not count them, and the directory's files without ExcludedPaths match
// it, whatever the pod's labels say. Read whole, the directory does not match:
// a reader of the mounted files must leave those paths out.
func TestDownwardAPIFilesAreLeftOutOnBothSides(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(5, 6))}
	root := t.TempDir()
	var checked int
	for iter := range 100 {
		objs := g.objects()
		v := g.volume("settings")
		if v.Projected == nil {
			continue
		}
		v.Projected.Sources = append(v.Projected.Sources, corev1.VolumeProjection{DownwardAPI: &corev1.DownwardAPIProjection{
			Items: []corev1.DownwardAPIVolumeFile{
				{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
				{Path: "meta/../meta/name", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}},
			}}})
		require.True(t, revision.Reloadable(v))
		require.Equal(t, []string{"labels", "meta/name"}, revision.ExcludedPaths(v))
		want, err := revision.VolumeFiles(v, lookupObjects(objs))
		if err != nil {
			continue
		}
		dir := filepath.Join(root, fmt.Sprint(iter))
		for _, applied := range []string{"", "0123456789ab", "ba9876543210"} {
			objs.Pod = &corev1.Pod{}
			objs.Pod.Name = "web"
			if applied != "" {
				objs.Pod.Labels = map[string]string{"hotreload/applied": applied}
			}
			payload, err := kubeletdir.Payload(v, objs)
			require.NoError(t, err)
			require.NoError(t, kubeletdir.Write(dir, payload))
			got, err := revision.DirFiles(dir)
			require.NoError(t, err)
			require.Equal(t, want, got.Without(revision.ExcludedPaths(v)), "iteration %d", iter)
			require.NotEqual(t, want, got, "iteration %d: the directory holds the downwardAPI files", iter)
		}
		checked++
	}
	assert.Greater(t, checked, 15)
}
