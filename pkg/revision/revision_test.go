package revision_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/hotreload/hotreload/pkg/revision"
)

func ptr[T any](v T) *T { return &v }

func cmVolume(name, cm string, items ...corev1.KeyToPath) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: cm}, Items: items}}}
}

func lookupOf(cms map[string]map[string]string, secrets map[string]map[string][]byte) revision.Lookup {
	return func(kind revision.Kind, name string) (revision.Keys, bool) {
		switch kind {
		case revision.KindConfigMap:
			d, ok := cms[name]
			if !ok {
				return nil, false
			}
			return revision.ConfigMapKeys(&corev1.ConfigMap{Data: d}), true
		case revision.KindSecret:
			d, ok := secrets[name]
			if !ok {
				return nil, false
			}
			return revision.SecretKeys(&corev1.Secret{Data: d}), true
		}
		return nil, false
	}
}

func digests(kv ...string) revision.Files {
	f := revision.Files{}
	for i := 0; i < len(kv); i += 2 {
		f[kv[i]] = revision.DigestOf([]byte(kv[i+1]))
	}
	return f
}

func TestCanonicalFormIsPinned(t *testing.T) {
	// These values pin the canonical form: changing them changes every
	// revision in every cluster. Computed independently with:
	//   python3 -c "import hashlib,struct; ..." (see doc.go for the framing)
	assert.Equal(t, "ec7e856f986f", revision.Revision(map[string]revision.Files{
		"config": digests("app.conf", "a=1\n", "conf.d/extra.conf", "b=2\n"),
	}))
	assert.Equal(t, "e3b0c44298fc", revision.Revision(nil), "no volumes hash the empty input")
}

func TestFramingIsUnambiguous(t *testing.T) {
	a := revision.Revision(map[string]revision.Files{"ab": digests("c", "x")})
	b := revision.Revision(map[string]revision.Files{"a": digests("bc", "x")})
	assert.NotEqual(t, a, b)
	assert.NotEqual(t, digests("a", "").Revision(), revision.Files{}.Revision())
}

func TestVolumeFiles(t *testing.T) {
	cms := map[string]map[string]string{"app": {"app.conf": "a=1", "extra": "e", "unused": "u"}}
	secrets := map[string]map[string][]byte{"tls": {"tls.crt": []byte("CRT"), "tls.key": []byte("KEY")}}
	lookup := lookupOf(cms, secrets)
	tests := []struct {
		name    string
		volume  corev1.Volume
		want    revision.Files
		wantErr error
	}{
		{"projects every key of a configMap without items", cmVolume("v", "app"),
			digests("app.conf", "a=1", "extra", "e", "unused", "u"), nil},
		{"places listed keys at their nested paths", cmVolume("v", "app",
			corev1.KeyToPath{Key: "app.conf", Path: "conf/app.conf", Mode: ptr[int32](0o600)},
			corev1.KeyToPath{Key: "extra", Path: "./x/../extra"}),
			digests("conf/app.conf", "a=1", "extra", "e"), nil},
		{"projects a secret's data", corev1.Volume{Name: "v", VolumeSource: corev1.VolumeSource{
			Secret: &corev1.SecretVolumeSource{SecretName: "tls"}}},
			digests("tls.crt", "CRT", "tls.key", "KEY"), nil},
		{"treats a missing optional object as empty", corev1.Volume{Name: "v", VolumeSource: corev1.VolumeSource{
			ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "gone"}, Optional: ptr(true)}}},
			revision.Files{}, nil},
		{"fails on a missing required object", cmVolume("v", "gone"), nil, revision.ErrObjectNotFound},
		{"skips a missing key of an optional object", corev1.Volume{Name: "v", VolumeSource: corev1.VolumeSource{
			ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "app"}, Optional: ptr(true),
				Items: []corev1.KeyToPath{{Key: "nope", Path: "nope"}, {Key: "extra", Path: "extra"}}}}},
			digests("extra", "e"), nil},
		{"fails on a missing key of a required object", cmVolume("v", "app", corev1.KeyToPath{Key: "nope", Path: "nope"}),
			nil, revision.ErrKeyNotFound},
		{"combines projected configMap and secret sources, later paths winning", corev1.Volume{Name: "v", VolumeSource: corev1.VolumeSource{
			Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "app"},
					Items: []corev1.KeyToPath{{Key: "app.conf", Path: "app.conf"}, {Key: "extra", Path: "tls/tls.crt"}}}},
				{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "tls"},
					Items: []corev1.KeyToPath{{Key: "tls.crt", Path: "tls/tls.crt"}}}},
				{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "gone"}, Optional: ptr(true)}},
				{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "labels"}}}},
			}}}},
			digests("app.conf", "a=1", "tls/tls.crt", "CRT"), nil},
		{"refuses a volume that is not reloadable", corev1.Volume{Name: "v", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			nil, revision.ErrUnknownVolume},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := revision.VolumeFiles(tc.volume, lookup)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				assert.Nil(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestForPod(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{Volumes: []corev1.Volume{
		cmVolume("config", "app"),
		{Name: "kube-api-access-x", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"}}}}}}},
		{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
	}}}
	lookup := lookupOf(map[string]map[string]string{"app": {"a": "1"}}, nil)

	got, err := revision.ForPod(pod, nil, lookup)
	require.NoError(t, err)
	assert.Equal(t, revision.Revision(map[string]revision.Files{"config": digests("a", "1")}), got,
		"all reloadable volumes by default, never the token volume")

	_, err = revision.ForPod(pod, []string{"config", "data"}, lookup)
	require.ErrorIs(t, err, revision.ErrUnknownVolume)
	_, err = revision.ForPod(pod, []string{"missing"}, lookup)
	require.ErrorIs(t, err, revision.ErrUnknownVolume)
}

func TestDirFilesReadsAPlainDirectoryFollowingSymlinks(t *testing.T) {
	dir := t.TempDir()
	other := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "sub"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "sub", "f"), []byte("F"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "..hidden"), []byte("H"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(other, "g"), []byte("G"), 0o644))
	require.NoError(t, os.Symlink(other, filepath.Join(dir, "linked")))

	got, err := revision.DirFiles(dir)
	require.NoError(t, err)
	assert.Equal(t, digests("sub/f", "F", "linked/g", "G"), got)

	_, err = revision.DirFiles(filepath.Join(dir, "missing"))
	require.ErrorIs(t, err, os.ErrNotExist)
}
