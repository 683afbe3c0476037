package rollout

import (
	"testing"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestTemplateOf(t *testing.T) {
	pod := func(kind, name string, labels map[string]string) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Labels: labels}}
		if kind != "" {
			p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: kind, Name: name, UID: types.UID("uid-" + name), Controller: ptrTo(true)}}
		}
		return p
	}
	tests := []struct {
		name string
		pod  *corev1.Pod
		want podTemplate
		ok   bool
	}{
		{"is a Deployment's ReplicaSet, with its pod-template-hash",
			pod("ReplicaSet", "web-7d9f8c6b5", map[string]string{"app": "web", "pod-template-hash": "7d9f8c6b5"}),
			podTemplate{key: "uid-web-7d9f8c6b5/pod-template-hash=7d9f8c6b5", name: "ReplicaSet/web-7d9f8c6b5"}, true},
		{"is a StatefulSet's revision",
			pod("StatefulSet", "db", map[string]string{"controller-revision-hash": "db-5c6d7e8f9"}),
			podTemplate{key: "uid-db/controller-revision-hash=db-5c6d7e8f9", name: "StatefulSet/db revision db-5c6d7e8f9"}, true},
		{"is a DaemonSet's revision",
			pod("DaemonSet", "agent", map[string]string{"controller-revision-hash": "6b7c8d9e0f", "pod-template-generation": "2"}),
			podTemplate{key: "uid-agent/controller-revision-hash=6b7c8d9e0f", name: "DaemonSet/agent revision 6b7c8d9e0f"}, true},
		{"is an operator's object, by its UID", pod("Cluster", "pg", nil), podTemplate{key: "uid-pg", name: "Cluster/pg"}, true},
		{"is none for a pod without a controller", pod("", "", map[string]string{"pod-template-hash": "7d9f8c6b5"}), podTemplate{}, false},
		{"is none for a pod whose owner is not its controller", func() *corev1.Pod {
			p := pod("ReplicaSet", "web-7d9f8c6b5", nil)
			p.OwnerReferences[0].Controller = nil
			return p
		}(), podTemplate{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := templateOf(tt.pod)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.ok, ok)
		})
	}
}

// The cache keeps a digest of a pod's warnings, not their text: the same
// text the same digest, another text another, in 16 hexadecimal digits.
func TestWarningsDigest(t *testing.T) {
	a := warningsDigest(`hotreload/rollout-interval: invalid interval "soon"; using 30s`)
	assert.Len(t, a, 16)
	assert.Equal(t, a, warningsDigest(`hotreload/rollout-interval: invalid interval "soon"; using 30s`))
	assert.NotEqual(t, a, warningsDigest(`hotreload/rollout-interval: invalid interval "later"; using 30s`))
}
