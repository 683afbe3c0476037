package rollout

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hotreload/hotreload/pkg/annotations"
)

func TestWritesCoverACacheThatLagsBehind(t *testing.T) {
	pod := func(rv string, ann map[string]string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", UID: "p1", ResourceVersion: rv, Annotations: ann}}
	}
	released := map[string]string{annotations.Released: revA}
	rev := revA
	w := newWrites()
	w.record("p1", "10", map[string]*string{annotations.Released: &rev}, t0)

	assert.Equal(t, pod("9", released), w.overlay(pod("9", nil), t0), "a cached copy older than the write shows it")
	assert.Equal(t, pod("9", map[string]string{"x": "y", annotations.Released: revA}), w.overlay(pod("9", map[string]string{"x": "y"}), t0))
	assert.Equal(t, pod("11", nil), w.overlay(pod("11", nil), t0), "a newer cached copy is the truth")
	assert.Equal(t, pod("9", nil), w.overlay(pod("9", nil), t0), "and the write is forgotten")

	w.record("p1", "20", map[string]*string{annotations.Released: &rev}, t0)
	assert.Equal(t, pod("19", nil), w.overlay(pod("19", nil), t0.Add(writesTTL+time.Second)), "a write is forgotten after its TTL")
}

func TestWritesOverlayARemovedKey(t *testing.T) {
	w := newWrites()
	w.record("p1", "10", map[string]*string{annotations.Candidates: nil}, t0)
	got := w.overlay(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: "p1", ResourceVersion: "9",
		Annotations: map[string]string{annotations.Candidates: "ConfigMap/app=" + cand, "x": "y"}}}, t0)
	assert.Equal(t, map[string]string{"x": "y"}, got.Annotations)
}
