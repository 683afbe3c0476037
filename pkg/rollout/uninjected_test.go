package rollout

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/hotreload/hotreload/pkg/annotations"
)

func TestDecideUninjected(t *testing.T) {
	now := decideNow
	pod := func(name string, age time.Duration, injected, ready bool, owner string) corev1.Pod {
		p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-" + name), CreationTimestamp: metav1.NewTime(now.Add(-age)),
			Annotations: map[string]string{}}}
		if owner != "" {
			p.OwnerReferences = []metav1.OwnerReference{{Kind: owner, Name: "web-1", UID: "uid-owner", Controller: ptrTo(true)}}
		}
		if injected {
			p.Annotations[annotations.Injected] = "v3"
		}
		status := corev1.ConditionFalse
		if ready {
			status = corev1.ConditionTrue
		}
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}
		return p
	}
	plain := pod("web-a", time.Hour, false, true, "ReplicaSet")
	leaving := pod("web-c", time.Hour, true, true, "ReplicaSet")
	leaving.DeletionTimestamp = &metav1.Time{Time: now}
	tests := []struct {
		name     string
		p        corev1.Pod
		siblings []corev1.Pod
		probeAt  time.Time
		want     uninjectedVerdict
	}{
		{name: "the webhook injected a pod of its workload made after it: replaced now", p: plain, probeAt: now.Add(time.Hour),
			siblings: []corev1.Pod{pod("web-b", time.Minute, true, true, "ReplicaSet")}, want: uninjectedVerdict{Replace: true, Back: true}},
		{name: "another pod of the workload not Ready: it waits, the webhook back all the same", p: plain,
			siblings: []corev1.Pod{pod("web-b", time.Minute, true, false, "ReplicaSet")}, want: uninjectedVerdict{Wait: disruptionRetry, Back: true}},
		{name: "another pod of the workload leaving: it waits", p: plain, siblings: []corev1.Pod{leaving}, want: uninjectedVerdict{Wait: disruptionRetry}},
		{name: "no pod shows the webhook back: a probe, when its time came", p: plain, probeAt: now,
			siblings: []corev1.Pod{pod("web-b", 2*time.Hour, true, true, "ReplicaSet")}, want: uninjectedVerdict{Replace: true, Probe: true}},
		{name: "no pod shows the webhook back: it waits for the next probe, looking again soon for a replacement injected", p: plain, probeAt: now.Add(time.Minute),
			siblings: []corev1.Pod{pod("web-b", 30*time.Minute, false, true, "ReplicaSet")}, want: uninjectedVerdict{Wait: disruptionRetry}},
		{name: "the next probe's time comes before that", p: plain, probeAt: now.Add(2 * time.Second),
			siblings: []corev1.Pod{pod("web-b", 30*time.Minute, false, true, "ReplicaSet")}, want: uninjectedVerdict{Wait: 2 * time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, decideUninjected(&tc.p, tc.siblings, tc.probeAt, now))
		})
	}
}

func TestProbesBackOff(t *testing.T) {
	var p probes
	now := decideNow
	assert.Equal(t, now, p.next("web", now), "never probed: now")
	var waits []time.Duration
	for range 7 {
		p.probed("web", now)
		waits = append(waits, p.next("web", now).Sub(now))
	}
	assert.Equal(t, []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 16 * time.Minute, 30 * time.Minute, 30 * time.Minute}, waits)
	assert.Equal(t, now, p.next("db", now), "another workload's own")
	started := probes{started: now.Add(-5 * time.Second)}
	assert.Equal(t, now.Add(probeAfterStart-5*time.Second), started.next("web", now), "not before the process has run probeAfterStart")
	p.forget("web")
	assert.Equal(t, now, p.next("web", now), "forgotten once the webhook injected one of its pods")
}
