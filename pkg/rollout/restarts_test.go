package rollout

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

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

// allAtOnce is the pods rolling out in one step, "100%".
func allAtOnce(pods ...stepPod) []stepPod {
	var out []stepPod
	for _, p := range pods {
		p.Annotations = map[string]string{annotations.Rollout: "100%", annotations.RolloutInterval: "30s"}
		out = append(out, p)
	}
	return out
}

// notReady is p no longer Ready.
func notReady(p stepPod) stepPod {
	p.State.Ready = false
	return p
}

// neverReady is a replacement admitted on the candidate age ago that has
// been neither Ready nor restarted since.
func neverReady(name string, age time.Duration) stepPod {
	p := onCandidate(envPodOf(name, 3), decideNow.Add(-age))
	p.Created = decideNow.Add(-age)
	p.State = replacementState(Pod{Name: name, UID: p.UID, Created: p.Created}, candRev, true)
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
				Replacing: map[Workload]awaited{web: {Owners: owner, Pods: 1}}},
			admit: owner,
		},
		{
			name: "a budget of 2 replaces two pods at once",
			world: stepWorld{Status: inProgress(0, time.Time{}), Now: decideNow, Rolling: map[Workload]rolling{web: {Unavailable: 2, Deadline: defaultDeadline}},
				Pods: allAtOnce(a, b, c)},
			evict: []string{"web-a", "web-b"}, admit: owner,
		},
		{
			name: "an evicted pod the cache still shows is not evicted again, and its replacement counts against the budget",
			world: stepWorld{Status: inProgress(0, time.Time{}), Now: decideNow, Rolling: map[Workload]rolling{web: {Unavailable: 2, Deadline: defaultDeadline}},
				Pods: allAtOnce(a, b, c), Replacing: map[Workload]awaited{web: {Owners: owner, Pods: 1, Evicted: []types.UID{a.UID}}}},
			evict: []string{"web-b"}, admit: owner,
		},
		{
			name: "pods not Ready are replaced beside the budget: they cost nothing",
			world: stepWorld{Status: inProgress(0, time.Time{}), Now: decideNow, Rolling: map[Workload]rolling{web: defaultRolling}, Unavailable: map[Workload]int{web: 2},
				Pods: allAtOnce(notReady(a), notReady(b), c)},
			evict: []string{"web-a", "web-b"}, admit: owner,
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
			name: "a replacement still not Ready past its workload's deadline halts the release, and is replaced onto stable",
			world: stepWorld{Status: inProgress(1, decideNow.Add(-time.Minute)), Now: decideNow, Unavailable: map[Workload]int{web: 1},
				Rolling: map[Workload]rolling{web: {Unavailable: 1, Deadline: 30 * time.Second}}, Pods: []stepPod{neverReady("web-d", time.Minute), b, c}},
			evict: []string{"web-d"},
			check: func(t *testing.T, d stepDecision) {
				assert.Equal(t, v1alpha1.PhaseHalted, d.Next.Phase)
				assert.Equal(t, &Halt{Pod: "web-d", Cause: "not Ready 30s after it started on the revision: it reads it from its environment (env, envFrom or a mount left alone)"}, d.Halt)
			},
		},
		{
			name: "a replacement not Ready within its deadline is waited for",
			world: stepWorld{Status: inProgress(1, decideNow.Add(-time.Minute)), Now: decideNow, Unavailable: map[Workload]int{web: 1},
				Rolling: map[Workload]rolling{web: {Unavailable: 1, Deadline: 2 * time.Minute}}, Pods: []stepPod{neverReady("web-d", time.Minute), b, c}},
			check: func(t *testing.T, d stepDecision) {
				assert.Nil(t, d.Halt)
				assert.Equal(t, v1alpha1.PhaseProgressing, d.Next.Phase)
			},
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

func TestReplacingWaitsForTheReplacements(t *testing.T) {
	s := SourceRef{Namespace: "shop", Kind: "ConfigMap", Name: "palette"}
	db := Workload{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "db"}
	owner := v1alpha1.PodOwner{Kind: "StatefulSet", Name: "db"}
	owners := []v1alpha1.PodOwner{owner}
	at := decideNow
	var r replacing
	r.evicted(s, db, owner, "db-1-old", at, []types.UID{"db-0-old", "db-1-old"})
	r.evicted(s, db, owner, "db-0-old", at, []types.UID{"db-0-old", "db-1-old"})
	assert.Equal(t, map[Workload]awaited{db: {Owners: owners, Pods: 2, Evicted: []types.UID{"db-1-old", "db-0-old"}}},
		r.pending(s, map[Workload][]types.UID{db: {"db-0-old"}}, at.Add(time.Second)), "no new pod since")
	assert.Empty(t, r.pending(SourceRef{Namespace: "shop", Kind: "ConfigMap", Name: "other"}, nil, at), "another source's")
	assert.Equal(t, map[Workload]awaited{db: {Owners: owners, Pods: 1, Evicted: []types.UID{"db-1-old", "db-0-old"}}},
		r.pending(s, map[Workload][]types.UID{db: {"db-1-new"}}, at.Add(time.Second)), "one came, under the same name")
	assert.Equal(t, map[Workload]awaited{db: {Owners: owners, Pods: 1, Evicted: []types.UID{"db-1-old", "db-0-old"}}},
		r.pending(s, map[Workload][]types.UID{db: {"db-1-new"}}, at.Add(2*time.Second)), "the same one counts once")
	assert.Empty(t, r.pending(s, map[Workload][]types.UID{db: {"db-0-new", "db-1-new"}}, at.Add(3*time.Second)), "both came")
	assert.Empty(t, r.pending(s, nil, at), "done: forgotten")
	r.evicted(s, db, owner, "db-0-new", at, nil)
	assert.Empty(t, r.pending(s, nil, at.Add(replacementWait+time.Second)), "not waited for forever")
}

// A workload's budget is what its own rolling update allows, at least one.
func TestUnavailableOf(t *testing.T) {
	deploy := func(replicas int32, strategy appsv1.DeploymentStrategy) *appsv1.Deployment {
		return &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Replicas: &replicas, Strategy: strategy}}
	}
	rollingUpdate := func(unavailable intstr.IntOrString) appsv1.DeploymentStrategy {
		return appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
			RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: &unavailable}}
	}
	sts := func(replicas int32, strategy appsv1.StatefulSetUpdateStrategy) *appsv1.StatefulSet {
		return &appsv1.StatefulSet{Spec: appsv1.StatefulSetSpec{Replicas: &replicas, UpdateStrategy: strategy}}
	}
	ds := func(scheduled int32, unavailable intstr.IntOrString) *appsv1.DaemonSet {
		return &appsv1.DaemonSet{Spec: appsv1.DaemonSetSpec{UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
			RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: &unavailable}}}, Status: appsv1.DaemonSetStatus{DesiredNumberScheduled: scheduled}}
	}
	got := map[string]int{
		"Deployment of 30, no strategy written (25%, rounded down)": unavailableOf(deploy(30, appsv1.DeploymentStrategy{})),
		"Deployment of 3, 25%: none, one at a time":                 unavailableOf(deploy(3, rollingUpdate(intstr.FromString("25%")))),
		"Deployment of 10, maxUnavailable 3":                        unavailableOf(deploy(10, rollingUpdate(intstr.FromInt32(3)))),
		"Deployment of 10, maxUnavailable 0 (it surges)":            unavailableOf(deploy(10, rollingUpdate(intstr.FromInt32(0)))),
		"Deployment of 10, 50%":                                     unavailableOf(deploy(10, rollingUpdate(intstr.FromString("50%")))),
		"Deployment of 10, a percentage that does not parse":        unavailableOf(deploy(10, rollingUpdate(intstr.FromString("half")))),
		"Deployment of 4, Recreate":                                 unavailableOf(deploy(4, appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType})),
		"StatefulSet of 5, no strategy written":                     unavailableOf(sts(5, appsv1.StatefulSetUpdateStrategy{})),
		"StatefulSet of 5, maxUnavailable 40%": unavailableOf(sts(5, appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
			RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{MaxUnavailable: ptr.To(intstr.FromString("40%"))}})),
		"StatefulSet of 5, OnDelete":              unavailableOf(sts(5, appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType})),
		"DaemonSet on 10 nodes, 15% (rounded up)": unavailableOf(ds(10, intstr.FromString("15%"))),
		"a ReplicaSet":                            unavailableOf(&appsv1.ReplicaSet{}),
	}
	ten := int32(10)
	assert.Equal(t, rolling{Unavailable: 3, Deadline: 45 * time.Second}, rollingOf(&appsv1.Deployment{Spec: appsv1.DeploymentSpec{
		Replicas: &ten, ProgressDeadlineSeconds: ptr.To(int32(45)), Strategy: rollingUpdate(intstr.FromInt32(3))}}), "a Deployment's own deadline")
	assert.Equal(t, defaultRolling, rollingOf(sts(5, appsv1.StatefulSetUpdateStrategy{})), "a StatefulSet's")
	assert.Equal(t, map[string]int{
		"Deployment of 30, no strategy written (25%, rounded down)": 7,
		"Deployment of 3, 25%: none, one at a time":                 1,
		"Deployment of 10, maxUnavailable 3":                        3,
		"Deployment of 10, maxUnavailable 0 (it surges)":            1,
		"Deployment of 10, 50%":                                     5,
		"Deployment of 10, a percentage that does not parse":        1,
		"Deployment of 4, Recreate":                                 4,
		"StatefulSet of 5, no strategy written":                     1,
		"StatefulSet of 5, maxUnavailable 40%":                      2,
		"StatefulSet of 5, OnDelete":                                1,
		"DaemonSet on 10 nodes, 15% (rounded up)":                   2,
		"a ReplicaSet": 1,
	}, got)
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
