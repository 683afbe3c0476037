package release

import (
	"testing"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hotreload/hotreload/pkg/annotations"
)

func TestNotRecreated(t *testing.T) {
	owned := func(kind string, ann map[string]string) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Annotations: ann}}
		if kind != "" {
			yes := true
			p.OwnerReferences = []metav1.OwnerReference{{Kind: kind, Name: "owner", UID: "uid-owner", Controller: &yes}}
		}
		return p
	}
	got := map[string]string{
		"a ReplicaSet's":           NotRecreated(owned("ReplicaSet", nil)),
		"a pod no controller owns": NotRecreated(owned("", nil)),
		"a Job's":                  NotRecreated(owned("Job", nil)),
		"a CronJob's":              NotRecreated(owned("CronJob", nil)),
		"a ReplicaSet's annotated restart: never": NotRecreated(owned("ReplicaSet", map[string]string{annotations.Restart: "never"})),
	}
	assert.Equal(t, map[string]string{
		"a ReplicaSet's":           "",
		"a pod no controller owns": "no controller owns it",
		"a Job's":                  "it is a Job's pod",
		"a CronJob's":              "it is a Job's pod",
		"a ReplicaSet's annotated restart: never": "it is annotated hotreload/restart: never",
	}, got)
}
