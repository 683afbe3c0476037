package rollout

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/revision"
)

// envPodOf is a Ready pod of Deployment/web (ReplicaSet web-1) that reads the
// source only through env, pinned to stable.
func envPodOf(name string, i int) stepPod {
	p := stepPodOf(name, i)
	p.State.Released, p.State.Applied = "", ""
	p.Restart, p.EnvStable = true, true
	p.Owner = v1alpha1.PodOwner{Kind: "ReplicaSet", Name: "web-1"}
	return p
}

// onCandidate is p admitted on the candidate, Ready since when.
func onCandidate(p stepPod, when time.Time) stepPod {
	p.EnvCandidate, p.EnvStable, p.Holds = true, false, true
	p.State = replacementState(Pod{Name: p.Name, UID: p.UID, Ready: true, ReadySince: when, Created: when}, candRev, true)
	return p
}

// restartedOnCandidate is a replacement admitted on the candidate age ago,
// never Ready, whose container last restarted ago.
func restartedOnCandidate(name string, age, ago time.Duration) stepPod {
	p := onCandidate(envPodOf(name, 3), decideNow.Add(-age))
	p.State = replacementState(Pod{Name: name, UID: p.UID, Created: decideNow.Add(-age), ReadySince: decideNow.Add(-age),
		LastRestart: decideNow.Add(-ago)}, candRev, true)
	return p
}

func names(pods []stepPod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return out
}

func TestDecideStepReplacesWhatCannotChangeInPlace(t *testing.T) {
	a, b, c := envPodOf("web-a", 0), envPodOf("web-b", 1), envPodOf("web-c", 2)
	owner := []v1alpha1.PodOwner{{Kind: "ReplicaSet", Name: "web-1"}}
	halted := inProgress(1, decideNow.Add(-time.Minute))
	halted.Phase = v1alpha1.PhaseHalted
	halted.Halt = &v1alpha1.Halt{Pod: "web-x", Cause: "a container restarted", Time: metav1.NewTime(decideNow.Add(-time.Second))}
	halted.Admit = owner
	tests := []struct {
		name  string
		world stepWorld
		evict []string
		admit []v1alpha1.PodOwner
		check func(t *testing.T, d stepDecision)
	}{
		{
			name:  "the first step replaces one pod and admits its owner's new pods on the candidate",
			world: stepWorld{Status: inProgress(0, time.Time{}), Pods: []stepPod{a, b, c}, Now: decideNow},
			evict: []string{order3(a, b, c)[0]}, admit: owner,
		},
		{
			name:  "no pod is replaced while one of the workload's pods is unavailable, and the owner stays admitted",
			world: stepWorld{Status: inProgress(0, time.Time{}), Pods: []stepPod{a, b, c}, Now: decideNow, Unavailable: map[Workload]int{web: 1}},
			admit: owner,
		},
		{
			name: "no pod is replaced while the last one's replacement has not come, and its owner stays admitted",
			world: stepWorld{Status: inProgress(1, decideNow.Add(-time.Minute)), Pods: []stepPod{b, c}, Now: decideNow,
				Replacing: map[Workload]v1alpha1.PodOwner{web: owner[0]}},
			admit: owner,
		},
		{
			name: "a pod admitted on the candidate holds it: the step waits for its interval and replaces nothing more",
			world: stepWorld{Status: inProgress(1, decideNow.Add(-5*time.Second)),
				Pods: []stepPod{onCandidate(envPodOf("web-d", 3), decideNow.Add(-4*time.Second)), b, c}, Now: decideNow},
			check: func(t *testing.T, d stepDecision) {
				assert.Equal(t, int32(1), d.Next.Workloads[0].Step)
				assert.Equal(t, decideNow.Add(26*time.Second), d.RequeueAt, "the gate opens 30 s after the step")
			},
		},
		{
			name: "once the interval passed, the last step replaces the others, one at a time",
			world: stepWorld{Status: inProgress(1, decideNow.Add(-time.Minute)),
				Pods: []stepPod{onCandidate(envPodOf("web-d", 3), decideNow.Add(-time.Minute)), b, c}, Now: decideNow},
			evict: []string{"web-b"}, admit: owner,
		},
		{
			name: "a release is complete only when every pod reads the candidate",
			world: stepWorld{Status: inProgress(2, decideNow.Add(-time.Minute)),
				Pods: []stepPod{onCandidate(envPodOf("web-d", 3), decideNow.Add(-time.Minute)), onCandidate(envPodOf("web-e", 4), decideNow.Add(-time.Minute)), c}, Now: decideNow},
			evict: []string{"web-c"}, admit: owner,
			check: func(t *testing.T, d stepDecision) { assert.Equal(t, v1alpha1.PhaseProgressing, d.Next.Phase) },
		},
		{
			name:  "a replacement that restarts on the candidate halts the release: nothing more is admitted on it, and it is replaced onto stable",
			world: stepWorld{Status: inProgress(1, decideNow.Add(-10*time.Second)), Now: decideNow, Pods: []stepPod{restartedOnCandidate("web-d", 10*time.Second, 2*time.Second), b, c}},
			evict: []string{"web-d"},
			check: func(t *testing.T, d stepDecision) {
				assert.Equal(t, v1alpha1.PhaseHalted, d.Next.Phase)
				assert.Equal(t, "web-d", d.Halt.Pod)
				assert.False(t, d.RolledBack, "rolled back once it is replaced")
			},
		},
		{
			name:  "a replacement in a crash loop halts the release however long after its step its last restart comes",
			world: stepWorld{Status: inProgress(1, decideNow.Add(-10*time.Minute)), Now: decideNow, Pods: []stepPod{restartedOnCandidate("web-d", 10*time.Minute, 5*time.Second), b, c}},
			evict: []string{"web-d"},
			check: func(t *testing.T, d stepDecision) {
				assert.Equal(t, v1alpha1.PhaseHalted, d.Next.Phase)
				assert.Equal(t, "web-d", d.Halt.Pod)
				assert.Equal(t, "a container restarted and it is not Ready: it reads the revision from its environment (env, envFrom or a mount left alone) since it started", d.Halt.Cause)
			},
		},
		{
			name:  "a halted release replaces the pods that read the candidate, one at a time, and admits no owner",
			world: stepWorld{Status: halted, Pods: []stepPod{onCandidate(envPodOf("web-d", 3), decideNow.Add(-time.Minute)), onCandidate(envPodOf("web-e", 4), decideNow.Add(-time.Minute)), c}, Now: decideNow},
			evict: []string{"web-d"},
		},
		{
			name: "the failing pod of a halt is replaced though it is the workload's unavailable one",
			world: stepWorld{Status: halted, Now: decideNow, Unavailable: map[Workload]int{web: 1}, Pods: []stepPod{
				onCandidate(envPodOf("web-d", 3), decideNow.Add(-time.Minute)),
				func() stepPod {
					p := onCandidate(envPodOf("web-e", 4), decideNow.Add(-time.Minute))
					p.State.Ready = false
					return p
				}(), c}},
			evict: []string{"web-e"},
		},
		{
			name:  "a halted release whose pods all read stable again is rolled back",
			world: stepWorld{Status: halted, Pods: []stepPod{a, b, c}, Now: decideNow},
			check: func(t *testing.T, d stepDecision) { assert.True(t, d.RolledBack) },
		},
		{
			name: "a starting replacement is not a pod that stopped being Ready: it is not yet a holder that applied",
			world: stepWorld{Status: inProgress(1, decideNow.Add(-time.Minute)), Now: decideNow, Pods: []stepPod{func() stepPod {
				p := onCandidate(envPodOf("web-d", 3), decideNow.Add(-time.Minute))
				p.State = replacementState(Pod{Name: "web-d", UID: p.UID, Created: decideNow.Add(-time.Minute), ReadySince: decideNow.Add(-time.Minute)}, candRev, true)
				return p
			}(), b, c}, Unavailable: map[Workload]int{web: 1}},
			check: func(t *testing.T, d stepDecision) {
				assert.Nil(t, d.Halt)
				assert.Equal(t, int32(1), d.Next.Workloads[0].Step, "waits for it")
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := decideStep(tc.world)
			assert.Equal(t, tc.evict, names(d.Evict), "replaced")
			assert.Equal(t, tc.admit, d.Next.Admit, "admitted on the candidate")
			if tc.check != nil {
				tc.check(t, d)
			}
		})
	}
}

// order3 is the rollout order of three pods for the candidate.
func order3(pods ...stepPod) []string {
	var ps []Pod
	for _, p := range pods {
		ps = append(ps, p.State)
	}
	var out []string
	for _, p := range Order(ps, candRev) {
		out = append(out, p.Name)
	}
	return out
}

func TestSameKeys(t *testing.T) {
	d := func(b byte) revision.Digest { var x revision.Digest; x[0] = b; return x }
	a := revision.Keys{"color": d(1), "size": d(2)}
	b := revision.Keys{"color": d(1), "size": d(3)}
	assert.True(t, sameKeys(a, b, []string{"color"}), "the keys read are the same")
	assert.False(t, sameKeys(a, b, []string{"size"}), "a key read changed")
	assert.False(t, sameKeys(a, b, nil), "every key is read")
	assert.True(t, sameKeys(a, revision.Keys{"color": d(1), "size": d(2)}, nil))
	assert.False(t, sameKeys(a, revision.Keys{"color": d(1)}, []string{"size"}), "a key read went away")
	assert.True(t, sameKeys(a, b, []string{"missing"}), "a key absent from both")
}

// Pods the release never replaces hold nothing back, and their workload is
// told once per revision, at its first step.
func TestDecideStepSaysWhatIsNotDelivered(t *testing.T) {
	a := stepPodOf("web-a", 0)
	first := decideStep(stepWorld{Status: inProgress(0, time.Time{}), Pods: []stepPod{a}, Now: decideNow, NotDelivered: map[Workload]int{web: 2}})
	assert.Len(t, first.NotDelivered, 1)
	assert.Equal(t, web, first.NotDelivered[0].workload)
	assert.Equal(t, "config revision "+candRev+" is not delivered to 2 pods of Deployment/web: they read the source through env, envFrom or a mount left alone, and no controller recreates them, or they are annotated hotreload/restart: never; they keep what they started with",
		first.NotDelivered[0].what)
	assert.Equal(t, int32(2), first.Next.Workloads[0].NotDelivered)
	later := decideStep(stepWorld{Status: inProgress(1, decideNow.Add(-time.Minute)), Pods: []stepPod{holdingCand(a, decideNow.Add(-time.Minute))}, Now: decideNow, NotDelivered: map[Workload]int{web: 2}})
	assert.Empty(t, later.NotDelivered, "said once, at the first step")
	assert.Equal(t, v1alpha1.PhaseComplete, later.Next.Phase, "they hold nothing back")
}

func TestReplacingWaitsForTheReplacement(t *testing.T) {
	s := SourceRef{Namespace: "shop", Kind: "ConfigMap", Name: "palette"}
	db := Workload{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "db"}
	owner := v1alpha1.PodOwner{Kind: "StatefulSet", Name: "db"}
	at := decideNow
	var r replacing
	r.evicted(s, db, owner, at, []types.UID{"db-0-old", "db-1"})
	assert.Equal(t, map[Workload]v1alpha1.PodOwner{db: owner}, r.pending(s, map[Workload][]types.UID{db: {"db-1"}}, at.Add(time.Second)), "no new pod since")
	assert.Empty(t, r.pending(SourceRef{Namespace: "shop", Kind: "ConfigMap", Name: "other"}, nil, at), "another source's")
	assert.Empty(t, r.pending(s, map[Workload][]types.UID{db: {"db-0-new", "db-1"}}, at.Add(time.Second)), "its replacement came, under the same name")
	assert.Empty(t, r.pending(s, nil, at), "done: forgotten")
	r.evicted(s, db, owner, at, nil)
	assert.Empty(t, r.pending(s, nil, at.Add(replacementWait+time.Second)), "not waited for forever")
}

// A StatefulSet's pods are replaced in its own update order: the highest
// ordinal first (db-10 after db-9 is not before it).
func TestDecideStepReplacesAStatefulSetFromItsHighestOrdinal(t *testing.T) {
	db := Workload{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "db"}
	var pods []stepPod
	for i, name := range []string{"db-0", "db-9", "db-10", "db-2"} {
		p := envPodOf(name, i)
		p.Workload, p.Owner = db, v1alpha1.PodOwner{Kind: "StatefulSet", Name: "db"}
		p.Annotations = map[string]string{annotations.Rollout: "100%"}
		pods = append(pods, p)
	}
	st := inProgress(0, time.Time{})
	var order []string
	for range pods {
		d := decideStep(stepWorld{Status: st, Pods: pods, Now: decideNow})
		require.Len(t, d.Evict, 1)
		order = append(order, d.Evict[0].Name)
		for i := range pods {
			if pods[i].Name == d.Evict[0].Name {
				pods[i] = onCandidate(pods[i], decideNow.Add(-time.Minute))
			}
		}
		st = d.Next
	}
	assert.Equal(t, []string{"db-10", "db-9", "db-2", "db-0"}, order)
	assert.Equal(t, 3, ordinal("web-7d9f8c6b5-3"))
	assert.Equal(t, -1, ordinal("nameless"))
}
