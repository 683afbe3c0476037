package kubeletdir_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hotreload/hotreload/internal/kubeletdir"
)

func TestPayloadOfAProjectedVolumeWithDownwardAPIItems(t *testing.T) {
	mode := int32(0o440)
	v := corev1.Volume{Name: "settings", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		DefaultMode: &mode,
		Sources: []corev1.VolumeProjection{
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "app"}}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{
				{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
				{Path: "meta/name", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}, Mode: ptr(int32(0o400))},
			}}},
		},
	}}}
	objs := kubeletdir.Objects{
		ConfigMaps: map[string]*corev1.ConfigMap{"app": {Data: map[string]string{"app.conf": "a=1"}}},
		Pod: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{
			"hotreload/applied": "0123456789ab", "app": `we"b`}}},
	}
	got, err := kubeletdir.Payload(v, objs)
	require.NoError(t, err)
	assert.Equal(t, map[string]kubeletdir.File{
		"app.conf":  {Data: []byte("a=1"), Mode: 0o440},
		"labels":    {Data: []byte("app=\"we\\\"b\"\nhotreload/applied=\"0123456789ab\""), Mode: 0o440},
		"meta/name": {Data: []byte("web"), Mode: 0o400},
	}, got)
}

func ptr[T any](v T) *T { return &v }
