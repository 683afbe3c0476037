//go:build integration

package rollout

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/contract"
)

var canary = map[string]string{annotations.Rollout: "1,25%,100%", annotations.RolloutInterval: "1s"}

// The Events a release records, as "Reason: note".
func startedEv(cand, stable string) string {
	return fmt.Sprintf("%s: release of config revision %s started; stable revision %s", ReasonRolloutStarted, cand, stable)
}

func stepEv(cand, workload string, k, n, target, total int, pods ...string) string {
	return fmt.Sprintf("%s: config revision %s released to %s, step %d of %d: %d of %d pods (%s)", ReasonStepReleased, cand, workload, k, n, target, total, sorted(pods))
}

func completedEv(cand string, workloads int) string {
	return fmt.Sprintf("%s: config revision %s runs on every pod of %d workloads; it is the stable revision", ReasonRolloutCompleted, cand, workloads)
}

func haltedEv(cand, pod, workload, cause, stable string) string {
	return fmt.Sprintf("%s: release of config revision %s halted at pod %s of %s: %s; every pod goes back to stable revision %s", ReasonRolloutHalted, cand, pod, workload, cause, stable)
}

func rolledBackEv(stable, cand string) string {
	return fmt.Sprintf("%s: every pod that can go back runs stable revision %s again, instead of %s", ReasonRolledBack, stable, cand)
}

// The first revision the controller sees of a source is its stable revision:
// the release starts complete, keeps that content in a revision object and in
// the stable copy pods mount, and releases nothing.
func TestIntegrationAReleaseStartsOnTheFirstRevisionSeen(t *testing.T) {
	c := newCluster(t, nil)
	data := map[string]string{"app.conf": "v=0"}
	c.configMap("app", data)
	pods := c.replicaSet("web", 2, canary, "app")
	startController(t, c.env, c.ns)
	rev := sourceRev(data)
	rel := c.waitRelease("app", "complete", func(rel *v1alpha1.ConfigRelease) bool {
		return rel.Status.Phase == v1alpha1.PhaseComplete && len(rel.Status.Workloads) == 1
	})

	assert.Equal(t, v1alpha1.Source{Kind: v1alpha1.SourceConfigMap, Name: "app"}, rel.Spec.Source)
	assert.Empty(t, rel.OwnerReferences, "keyed by its source's name, not owned by the object: it outlives it")
	st := rel.Status
	assert.Equal(t, []string{rev, rev}, []string{st.Stable, st.Candidate})
	assert.Equal(t, []v1alpha1.WorkloadStatus{{Kind: "ReplicaSet", Name: "web", Steps: 3, Rollout: "1,25%,100%", Interval: "1s",
		Pods: 2, Released: 2, Applied: 2, Ready: 2, Complete: true}}, st.Workloads)
	require.Len(t, st.History, 1)
	assert.Equal(t, []any{rev, v1alpha1.OutcomeStable}, []any{st.History[0].Revision, st.History[0].Outcome})
	assert.Equal(t, "1 workloads, 2 pods", st.Summary)

	stable := c.kept(contract.StableName("app"))
	assert.Equal(t, data, stable.Data)
	assert.Nil(t, stable.Immutable)
	assert.Equal(t, map[string]string{contract.ManagedByLabel: contract.ManagedBy, contract.RoleLabel: contract.RoleStable, contract.RevisionLabel: rev,
		contract.SourceLabel: contract.SourceDigest("ConfigMap", "app")}, stable.Labels)
	assert.Equal(t, []metav1.OwnerReference{*metav1.NewControllerRef(rel, v1alpha1.GroupVersion.WithKind("ConfigRelease"))}, stable.OwnerReferences)
	kept := c.kept(contract.RevisionName("app", rev))
	assert.Equal(t, data, kept.Data)
	assert.Equal(t, ptrTo(true), kept.Immutable)
	assert.Equal(t, all(c.pods("web"), " "+c.desired(pods[0])), podRevisions(c.pods("web")), "nothing is released")
}

// A change steps through the workload; once every pod ran it healthy for the
// interval it becomes stable: the stable copy holds it, the history says so.
func TestIntegrationACanaryCompletesInThreeSteps(t *testing.T) {
	c := newCluster(t, nil)
	data0 := map[string]string{"app.conf": "v=0"}
	c.configMap("app", data0)
	pods := c.replicaSet("web", 8, canary, "app")
	run := startController(t, c.env, c.ns)
	c.waitRelease("app", "first seen", phase(v1alpha1.PhaseComplete, sourceRev(data0)))
	c.fakeReloaders(applyAll)

	data1 := map[string]string{"app.conf": "v=1"}
	c.configMap("app", data1)
	cand, rev1 := sourceRev(data1), c.desired(pods[0])
	o := order(pods, cand)
	rel := c.waitRelease("app", "complete", phase(v1alpha1.PhaseComplete, cand))

	assert.Equal(t, []string{
		startedEv(cand, sourceRev(data0)),
		stepEv(cand, "ReplicaSet/web", 1, 3, 1, 8, o[0]),
		stepEv(cand, "ReplicaSet/web", 2, 3, 2, 8, o[1]),
		stepEv(cand, "ReplicaSet/web", 3, 3, 8, 8, o[2:]...),
		completedEv(cand, 1),
	}, c.waitEvents("ConfigMap", "app", ReasonRolloutCompleted))
	assert.Equal(t, c.events("ConfigMap", "app"), c.events("ConfigRelease", "configmap-app"), "the release says the same")
	assert.Equal(t, cand, rel.Status.Stable)
	assert.Equal(t, []v1alpha1.Outcome{v1alpha1.OutcomeCompleted, v1alpha1.OutcomeStable}, outcomes(rel))
	assert.Equal(t, []string{"ReplicaSet/web 3 of 3"}, rel.Status.History[0].Reached)
	assert.Equal(t, data1, c.kept(contract.StableName("app")).Data)
	final := c.pods("web")
	assert.Equal(t, all(final, rev1+" "+rev1), podRevisions(final))
	assert.Equal(t, map[string]float64{
		"hotreload_rollouts_started_total{" + c.ns + "}":         1,
		"hotreload_rollout_steps_released_total{" + c.ns + "}":   3,
		"hotreload_rollouts_completed_total{" + c.ns + "}":       1,
		"hotreload_rollout_duration_seconds{" + c.ns + "} count": 1,
	}, metricValues(t, run.registry))
}

// A halt lives in the release, not on pods: the canary that failed goes back
// to stable with every other pod, and nothing brings the bad revision back:
// new pods (a scale-up), the halted pod's deletion, a controller restart.
// The fix is then released in steps again.
func TestIntegrationAHaltHoldsThroughChurnAndRollsBack(t *testing.T) {
	b := newBrokenCanary(t, "1s", nil)
	c, pods, steps, first := b.c, b.pods, b.steps, b.ctl
	stable, cand, rev0, o := b.stable, b.cand, b.rev0, b.order
	halted, want := b.rolledBack()
	assert.Equal(t, []string{halted}, c.events("Pod", o[0]))
	counted := metricValues(t, first.registry)
	assert.Equal(t, 1.0, counted["hotreload_rollouts_halted_total{"+c.ns+"}"], "the failing pod's halt is counted")
	assert.Equal(t, 1.0, counted["hotreload_rollbacks_total{"+c.ns+"}"])
	assert.Equal(t, []string{stepEv(cand, "ReplicaSet/web", 1, 3, 1, 3, o[0]), halted, rolledBackEv(stable, cand)}, c.waitEvents("ReplicaSet", "web", ReasonRolledBack))
	wantPods := all(c.pods("web"), " "+rev0)
	wantPods[o[0]] = rev0 + " " + rev0
	assert.Equal(t, wantPods, podRevisions(c.pods("web")), "the canary went back to stable; the others never left it")

	// Scale up: the new pods start on stable and get nothing.
	rs := c.replicaSetObject("web")
	for i := 3; i < 6; i++ {
		c.addPod(fmt.Sprintf("web-%d", i), rs, steps, "app")
		wantPods[fmt.Sprintf("web-%d", i)] = " " + rev0
	}
	c.waitRelease("app", "six pods, halted", func(rel *v1alpha1.ConfigRelease) bool {
		return rel.Status.Phase == v1alpha1.PhaseHalted && len(rel.Status.Workloads) == 1 && rel.Status.Workloads[0].Pods == 6
	})
	assert.Equal(t, wantPods, podRevisions(c.pods("web")))

	// The halted pod goes; the controller restarts.
	require.NoError(t, c.env.Clientset.CoreV1().Pods(c.ns).Delete(c.ctx, o[0], metav1.DeleteOptions{GracePeriodSeconds: ptrTo(int64(0))}))
	delete(wantPods, o[0])
	first.stop()
	second := startController(t, c.env, c.ns)
	c.addPod("web-after", rs, steps, "app")
	wantPods["web-after"] = " " + rev0
	c.waitRelease("app", "six pods again, halted", func(rel *v1alpha1.ConfigRelease) bool {
		return rel.Status.Phase == v1alpha1.PhaseHalted && len(rel.Status.Workloads) == 1 && rel.Status.Workloads[0].Pods == 6
	})
	assert.Equal(t, wantPods, podRevisions(c.pods("web")))
	assert.Equal(t, want, c.events("ConfigMap", "app"), "nothing more was released")
	assert.Empty(t, metricValues(t, second.registry))

	// The fix is a new release, from step 1.
	data2 := map[string]string{"app.conf": "v=2"}
	c.configMap("app", data2)
	rel := c.waitRelease("app", "the fix completes", phase(v1alpha1.PhaseComplete, sourceRev(data2)))
	assert.Equal(t, []v1alpha1.Outcome{v1alpha1.OutcomeCompleted, v1alpha1.OutcomeHalted, v1alpha1.OutcomeStable}, outcomes(rel))
	assert.Equal(t, "pod "+o[0]+": the app exited", rel.Status.History[1].Cause)
	rev2 := c.desired(pods[1])
	assert.Equal(t, all(c.pods("web"), rev2+" "+rev2), podRevisions(c.pods("web")))
}

// A halt is recorded before its rollback starts. While the API server
// refuses the release's Halted status, the canary that failed keeps the
// candidate and its hotreload/failed: rolled back first, a lost status write
// would leave no trace of the halt, and the next reconcile would release the
// candidate again and clear the failure. Once the status can be written, the
// release halts and rolls back as usual.
func TestIntegrationAHaltIsRecordedBeforeItsRollback(t *testing.T) {
	var unrefuse func()
	b := newBrokenCanary(t, "1h", func(c *cluster) { unrefuse = c.refuseHaltedStatus() })
	c, ctl, rev0, rev1, o := b.c, b.ctl, b.rev0, b.rev1, b.order
	const statusWrite = "update configreleases/status"
	// Refused by the policy (422), not a Conflict (409).
	require.Eventually(t, func() bool { return ctl.requests.refusals(statusWrite, http.StatusUnprocessableEntity) > 0 }, wait, 10*time.Millisecond,
		"the controller tries to write the halt")
	wantPods := all(c.pods("web"), " "+rev0)
	wantPods[o[0]] = rev1 + " " + rev0
	assert.Equal(t, wantPods, podRevisions(c.pods("web")), "the canary keeps the candidate while its halt is not recorded")
	canaryPod, err := c.env.Clientset.CoreV1().Pods(c.ns).Get(c.ctx, o[0], metav1.GetOptions{})
	require.NoError(t, err)
	failed, _, ok := annotations.FailedOf(canaryPod.Annotations)
	assert.True(t, ok)
	assert.Equal(t, rev1, failed, "and its failure")

	unrefuse()
	b.rolledBack()
	wantPods[o[0]] = rev0 + " " + rev0
	assert.Equal(t, wantPods, podRevisions(c.pods("web")), "the canary went back to stable; the others never left it")
}

// brokenCanary is a ReplicaSet "web" of 3 pods released in steps
// 1,50%,100%, whose ConfigMap "app" went from v=0, stable, to a config every
// reloader fails on.
type brokenCanary struct {
	c            *cluster
	ctl          *controllerRun
	pods         []*corev1.Pod
	steps        map[string]string
	stable, cand string // the ConfigMap's revisions
	rev0, rev1   string // the pods' revisions
	order        []string
}

// newBrokenCanary starts the controller on a brokenCanary with interval
// between steps; before, when set, runs once v=0 is stable, before the edit.
func newBrokenCanary(t *testing.T, interval string, before func(*cluster)) brokenCanary {
	t.Helper()
	c := newCluster(t, nil)
	b := brokenCanary{c: c, steps: map[string]string{annotations.Rollout: "1,50%,100%", annotations.RolloutInterval: interval}}
	data0 := map[string]string{"app.conf": "v=0"}
	c.configMap("app", data0)
	b.pods = c.replicaSet("web", 3, b.steps, "app")
	b.ctl = startController(t, c.env, c.ns)
	b.stable = sourceRev(data0)
	c.waitRelease("app", "first seen", phase(v1alpha1.PhaseComplete, b.stable))
	b.rev0 = c.desired(b.pods[0])
	c.startOn = func(p *corev1.Pod) string { return c.at(p, map[string]map[string]string{"ConfigMap/app": data0}) }
	if before != nil {
		before(c)
	}

	data1 := map[string]string{"app.conf": "broken"}
	c.configMap("app", data1)
	b.cand, b.rev1 = sourceRev(data1), c.desired(b.pods[0])
	b.order = order(b.pods, b.cand)
	c.fakeReloaders(func(_, rev string) reloaderAction {
		if rev == b.rev1 {
			return fail
		}
		return apply
	})
	return b
}

// rolledBack waits until the release halted at the canary and rolled back,
// checks the halt and the ConfigMap's Events, and returns the halt's Event
// and all of them.
func (b brokenCanary) rolledBack() (halted string, events []string) {
	b.c.t.Helper()
	t, o := b.c.t, b.order
	rel := b.c.waitRelease("app", "rolled back", func(rel *v1alpha1.ConfigRelease) bool {
		return rel.Status.Phase == v1alpha1.PhaseHalted && rel.Status.Halt != nil && rel.Status.Halt.RolledBack
	})
	halt := *rel.Status.Halt
	halt.Time = metav1.Time{}
	assert.Equal(t, v1alpha1.Halt{Pod: o[0], Workload: "ReplicaSet/web", Revision: b.cand, Cause: "the app exited", RolledBack: true}, halt)
	halted = haltedEv(b.cand, o[0], "ReplicaSet/web", "the app exited", b.stable)
	events = []string{startedEv(b.cand, b.stable), stepEv(b.cand, "ReplicaSet/web", 1, 3, 1, 3, o[0]), halted, rolledBackEv(b.stable, b.cand)}
	assert.Equal(t, events, b.c.waitEvents("ConfigMap", "app", ReasonRolledBack))
	return halted, events
}

// refuseHaltedStatus makes the API server refuse, in the test's namespace,
// every write of a ConfigRelease status in phase Halted, as a failing API
// server would. It returns once the refusal is in force, and a function
// that ends it.
func (c *cluster) refuseHaltedStatus() func() {
	c.t.Helper()
	name := "refuse-halted-" + c.ns
	admission := c.env.Clientset.AdmissionregistrationV1()
	_, err := admission.ValidatingAdmissionPolicies().Create(c.ctx, &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: ptrTo(admissionregistrationv1.Fail),
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionregistrationv1.RuleWithOperations{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Update},
					Rule:       admissionregistrationv1.Rule{APIGroups: []string{v1alpha1.GroupVersion.Group}, APIVersions: []string{"*"}, Resources: []string{"configreleases/status"}},
				}}}},
			Validations: []admissionregistrationv1.Validation{{
				Expression: "!has(object.status.phase) || object.status.phase != 'Halted'",
				Message:    "the test refuses Halted",
			}},
		},
	}, metav1.CreateOptions{})
	require.NoError(c.t, err)
	_, err = admission.ValidatingAdmissionPolicyBindings().Create(c.ctx, &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        name,
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
			MatchResources: &admissionregistrationv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{corev1.LabelMetadataName: c.ns}}},
		},
	}, metav1.CreateOptions{})
	require.NoError(c.t, err)
	end := func() {
		_ = admission.ValidatingAdmissionPolicyBindings().Delete(context.Background(), name, metav1.DeleteOptions{})
		_ = admission.ValidatingAdmissionPolicies().Delete(context.Background(), name, metav1.DeleteOptions{})
	}
	c.t.Cleanup(end)
	// In force once a dry-run write of a Halted status is refused.
	require.Eventually(c.t, func() bool {
		rel := &v1alpha1.ConfigRelease{}
		if err := c.api.Get(c.ctx, client.ObjectKey{Namespace: c.ns, Name: "configmap-app"}, rel); err != nil {
			return false
		}
		rel.Status.Phase = v1alpha1.PhaseHalted
		err := c.api.Status().Update(c.ctx, rel, client.DryRunAll)
		return err != nil && strings.Contains(err.Error(), "the test refuses Halted")
	}, wait, 50*time.Millisecond, "the policy in force")
	return end
}

// A controller restarted in the middle of a release resumes it from the step
// its status records, releasing nothing twice.
func TestIntegrationARestartResumesWithoutDoubleRelease(t *testing.T) {
	c := newCluster(t, nil)
	data0 := map[string]string{"app.conf": "v=0"}
	c.configMap("app", data0)
	pods := c.replicaSet("web", 8, canary, "app")
	var open atomic.Bool
	c.fakeReloaders(func(string, string) reloaderAction {
		if open.Load() {
			return apply
		}
		return hold
	})
	first := startController(t, c.env, c.ns)
	c.waitRelease("app", "first seen", phase(v1alpha1.PhaseComplete, sourceRev(data0)))
	data1 := map[string]string{"app.conf": "v=1"}
	c.configMap("app", data1)
	cand := sourceRev(data1)
	o := order(pods, cand)
	c.waitEvents("ConfigMap", "app", ReasonStepReleased)
	first.stop()

	second := startController(t, c.env, c.ns)
	open.Store(true)
	c.waitRelease("app", "complete", phase(v1alpha1.PhaseComplete, cand))
	assert.Equal(t, []string{
		startedEv(cand, sourceRev(data0)),
		stepEv(cand, "ReplicaSet/web", 1, 3, 1, 8, o[0]),
		stepEv(cand, "ReplicaSet/web", 2, 3, 2, 8, o[1]),
		stepEv(cand, "ReplicaSet/web", 3, 3, 8, 8, o[2:]...),
		completedEv(cand, 1),
	}, c.waitEvents("ConfigMap", "app", ReasonRolloutCompleted))
	assert.Equal(t, map[string]float64{
		"hotreload_rollout_steps_released_total{" + c.ns + "}":   2,
		"hotreload_rollouts_completed_total{" + c.ns + "}":       1,
		"hotreload_rollout_duration_seconds{" + c.ns + "} count": 1,
	}, metricValues(t, second.registry))
}

// A new candidate during a release supersedes it: the pods that held the old
// candidate go back to stable, and the new one is released from step 1.
func TestIntegrationANewCandidateSupersedesARelease(t *testing.T) {
	c := newCluster(t, nil)
	data0 := map[string]string{"app.conf": "v=0"}
	c.configMap("app", data0)
	pods := c.replicaSet("web", 8, canary, "app")
	startController(t, c.env, c.ns)
	c.waitRelease("app", "first seen", phase(v1alpha1.PhaseComplete, sourceRev(data0)))
	data1 := map[string]string{"app.conf": "v=1"}
	c.configMap("app", data1)
	cand1, rev1 := sourceRev(data1), c.desired(pods[0])
	c.fakeReloaders(func(_, rev string) reloaderAction {
		if rev == rev1 {
			return hold
		}
		return apply
	})
	c.waitEvents("ConfigMap", "app", ReasonStepReleased)

	data2 := map[string]string{"app.conf": "v=2"}
	c.configMap("app", data2)
	cand2, rev2 := sourceRev(data2), c.desired(pods[0])
	o1, o2 := order(pods, cand1), order(pods, cand2)
	rel := c.waitRelease("app", "complete", phase(v1alpha1.PhaseComplete, cand2))
	assert.Equal(t, []string{
		startedEv(cand1, sourceRev(data0)),
		stepEv(cand1, "ReplicaSet/web", 1, 3, 1, 8, o1[0]),
		ReasonRolloutSuperseded + ": config revision " + cand1 + " superseded by " + cand2 + " before it completed",
		startedEv(cand2, sourceRev(data0)),
		stepEv(cand2, "ReplicaSet/web", 1, 3, 1, 8, o2[0]),
		stepEv(cand2, "ReplicaSet/web", 2, 3, 2, 8, o2[1]),
		stepEv(cand2, "ReplicaSet/web", 3, 3, 8, 8, o2[2:]...),
		completedEv(cand2, 1),
	}, c.waitEvents("ConfigMap", "app", ReasonRolloutCompleted))
	assert.Equal(t, []v1alpha1.Outcome{v1alpha1.OutcomeCompleted, v1alpha1.OutcomeSuperseded, v1alpha1.OutcomeStable}, outcomes(rel))
	assert.Equal(t, all(c.pods("web"), rev2+" "+rev2), podRevisions(c.pods("web")))
}

// At 100% every pod is released at once, and a failure halts and rolls every
// pod back like any step.
func TestIntegrationAHundredPercentHaltsAndRollsBack(t *testing.T) {
	c := newCluster(t, nil)
	data0 := map[string]string{"app.conf": "v=0"}
	c.configMap("app", data0)
	pods := c.replicaSet("web", 3, map[string]string{annotations.RolloutInterval: "1s"}, "app")
	startController(t, c.env, c.ns)
	c.waitRelease("app", "first seen", phase(v1alpha1.PhaseComplete, sourceRev(data0)))
	rev0 := c.desired(pods[0])
	data1 := map[string]string{"app.conf": "broken"}
	c.configMap("app", data1)
	cand, rev1 := sourceRev(data1), c.desired(pods[0])
	c.fakeReloaders(func(pod, rev string) reloaderAction {
		if rev == rev1 && pod == "web-1" {
			return fail
		}
		return apply
	})
	rel := c.waitRelease("app", "rolled back", func(rel *v1alpha1.ConfigRelease) bool {
		return rel.Status.Halt != nil && rel.Status.Halt.RolledBack
	})
	assert.Equal(t, "web-1", rel.Status.Halt.Pod)
	assert.Equal(t, []string{
		startedEv(cand, sourceRev(data0)),
		stepEv(cand, "ReplicaSet/web", 1, 1, 3, 3, "web-0", "web-1", "web-2"),
		haltedEv(cand, "web-1", "ReplicaSet/web", "the app exited", sourceRev(data0)),
		rolledBackEv(sourceRev(data0), cand),
	}, c.waitEvents("ConfigMap", "app", ReasonRolledBack))
	assert.Equal(t, all(c.pods("web"), rev0+" "+rev0), podRevisions(c.pods("web")), "every pod back on stable")
}

// A pod whose sidecar identity writes an applied-at that cannot be true (an
// hour ahead, so that its failure seems to come before it applied the
// revision) still halts the release when it stops being Ready.
func TestIntegrationAForgedAppliedAtDoesNotHideAFailure(t *testing.T) {
	c := newCluster(t, nil)
	data0 := map[string]string{"app.conf": "v=0"}
	c.configMap("app", data0)
	c.replicaSet("web", 3, map[string]string{annotations.Rollout: "1,100%", annotations.RolloutInterval: "1h"}, "app")
	startController(t, c.env, c.ns)
	c.waitRelease("app", "first seen", phase(v1alpha1.PhaseComplete, sourceRev(data0)))
	data1 := map[string]string{"app.conf": "broken"}
	c.configMap("app", data1)
	c.fakeReloaders(func(string, string) reloaderAction { return applyForged })
	rel := c.waitRelease("app", "halted", phase(v1alpha1.PhaseHalted, sourceRev(data1)))
	require.NotNil(t, rel.Status.Halt)
	assert.Equal(t, "stopped being Ready after the revision was released, and its hotreload/applied-at cannot be true", rel.Status.Halt.Cause)
}

// A node clock 60 s ahead of the controller's, or an hour behind, neither
// stalls a step nor skips its bake: the gate counts the interval from the
// controller's own release of the step.
func TestIntegrationASkewedNodeClockNeitherStallsNorSkipsAStep(t *testing.T) {
	const interval = 4 * time.Second
	for _, tc := range []struct {
		name string
		skew reloaderAction
	}{{"60 s ahead", applyAhead}, {"an hour behind", applyBehind}} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, nil)
			data0 := map[string]string{"app.conf": "v=0"}
			c.configMap("app", data0)
			c.replicaSet("web", 3, map[string]string{annotations.Rollout: "1,100%", annotations.RolloutInterval: interval.String()}, "app")
			startController(t, c.env, c.ns)
			c.waitRelease("app", "first seen", phase(v1alpha1.PhaseComplete, sourceRev(data0)))
			c.fakeReloaders(func(string, string) reloaderAction { return tc.skew })
			data1 := map[string]string{"app.conf": "v=1"}
			c.configMap("app", data1)
			cand := sourceRev(data1)
			rel := c.waitRelease("app", "at step 1", func(rel *v1alpha1.ConfigRelease) bool {
				return rel.Status.Candidate == cand && len(rel.Status.Workloads) == 1 && rel.Status.Workloads[0].Step == 1
			})
			step1 := rel.Status.Workloads[0].StepSince.Time
			rel = c.waitRelease("app", "complete, without any other event", phase(v1alpha1.PhaseComplete, cand))
			step2 := rel.Status.Workloads[0].StepSince.Time
			assert.Equal(t, int32(2), rel.Status.Workloads[0].Step)
			// stepSince has whole seconds.
			assert.GreaterOrEqual(t, step2.Sub(step1), interval-time.Second, "step 2 released %s after step 1", step2.Sub(step1))
		})
	}
}

// Pods without rollout annotations use their namespace's; a malformed pod
// value falls back to it with a Warning Event.
func TestIntegrationNamespaceDefaultsApply(t *testing.T) {
	c := newCluster(t, map[string]string{annotations.Rollout: "1,100%", annotations.RolloutInterval: "1s"})
	data0 := map[string]string{"app.conf": "v=0"}
	c.configMap("app", data0)
	pods := c.replicaSet("web", 4, map[string]string{annotations.RolloutInterval: "soon"}, "app")
	startController(t, c.env, c.ns)
	c.waitRelease("app", "first seen", phase(v1alpha1.PhaseComplete, sourceRev(data0)))
	c.fakeReloaders(applyAll)
	data1 := map[string]string{"app.conf": "v=1"}
	c.configMap("app", data1)
	cand := sourceRev(data1)
	o := order(pods, cand)
	c.waitRelease("app", "complete", phase(v1alpha1.PhaseComplete, cand))
	assert.Equal(t, []string{
		startedEv(cand, sourceRev(data0)),
		stepEv(cand, "ReplicaSet/web", 1, 2, 1, 4, o[0]),
		ReasonInvalidSettings + `: hotreload/rollout-interval: invalid interval "soon": not a duration such as 30s or 2m; using 1s`,
		stepEv(cand, "ReplicaSet/web", 2, 2, 4, 4, o[1:]...),
		completedEv(cand, 1),
	}, c.waitEvents("ConfigMap", "app", ReasonRolloutCompleted))
}

// outcomes lists what became of each revision in a release's history.
func outcomes(rel *v1alpha1.ConfigRelease) []v1alpha1.Outcome {
	var out []v1alpha1.Outcome
	for _, h := range rel.Status.History {
		out = append(out, h.Outcome)
	}
	return out
}

// A source grown past MaxSourceKeys is not released (its pods keep what they
// run), with a Warning that says why; once it is back under the limit, its
// next content is released as usual.
func TestIntegrationASourceOverTheKeyLimitIsNotReleased(t *testing.T) {
	c := newCluster(t, nil)
	data0 := map[string]string{"app.conf": "v=0"}
	c.configMap("app", data0)
	pods := c.replicaSet("web", 2, map[string]string{annotations.RolloutInterval: "1s"}, "app")
	startController(t, c.env, c.ns)
	c.waitRelease("app", "first seen", phase(v1alpha1.PhaseComplete, sourceRev(data0)))
	rev0 := c.desired(pods[0])
	c.fakeReloaders(applyAll)

	huge := map[string]string{}
	for i := range MaxSourceKeys + 1 {
		huge[fmt.Sprintf("k%d", i)] = ""
	}
	c.configMap("app", huge)
	blocked := c.waitEvents("ConfigMap", "app", ReasonReleaseBlocked)
	msg := fmt.Sprintf("%s/app has %d keys: over hotreload's limit of %d: its changes are not released, and its pods keep the config they run; split it into several ConfigMaps or Secrets",
		c.ns, MaxSourceKeys+1, MaxSourceKeys)
	assert.Equal(t, ReasonReleaseBlocked+": "+msg, blocked[len(blocked)-1])
	rel := c.waitRelease("app", "blocked", func(rel *v1alpha1.ConfigRelease) bool { return rel.Status.Message != "" })
	assert.Equal(t, msg, rel.Status.Message)
	assert.Equal(t, v1alpha1.PhaseComplete, rel.Status.Phase)
	assert.Equal(t, all(c.pods("web"), " "+rev0), podRevisions(c.pods("web")), "nothing released")

	data1 := map[string]string{"app.conf": "v=1"}
	c.configMap("app", data1)
	c.waitRelease("app", "the next content completes", phase(v1alpha1.PhaseComplete, sourceRev(data1)))
	rev1 := c.desired(pods[0])
	assert.Equal(t, all(c.pods("web"), rev1+" "+rev1), podRevisions(c.pods("web")))
}

// The controller reads a namespace only while it is enabled, through a
// cache of that namespace: a ConfigMap or Secret of a namespace not enabled
// gets no release; the label starts its cache and their releases; once the
// label goes, their changes wait for it, and are released when it is back.
func TestIntegrationANamespaceIsReadOnlyWhileEnabled(t *testing.T) {
	c := newCluster(t, nil)
	label := func(v any) {
		c.patch(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: c.ns}},
			map[string]any{"metadata": map[string]any{"labels": map[string]any{annotations.InjectionLabel: v}}})
	}
	label(nil)
	app0, tls0 := map[string]string{"app.conf": "v=0"}, map[string]string{"tls.key": "key-0"}
	c.configMap("app", app0)
	c.secret("tls", tls0)
	steps := map[string]string{annotations.Rollout: "100%", annotations.RolloutInterval: "1s"}
	c.replicaSet("api", 1, steps, "app")
	rs := c.owner("web")
	for i := range 2 {
		c.addPodWith(fmt.Sprintf("web-%d", i), rs, steps, corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "tls"}})
	}
	// The controller's Lease is in an enabled namespace of its own, where a
	// release completes: the controller has run.
	other := newCluster(t, nil)
	other.configMap("app", app0)
	other.replicaSet("api", 1, steps, "app")
	run := startController(t, c.env, other.ns)
	other.waitRelease("app", "first seen", phase(v1alpha1.PhaseComplete, sourceRev(app0)))
	c.fakeReloaders(applyAll)
	other.fakeReloaders(applyAll)
	assert.Equal(t, map[string]float64{}, namespaceListed(t, run.registry, c.ns), "no cache for a namespace not enabled")
	var list v1alpha1.ConfigReleaseList
	require.NoError(t, c.api.List(c.ctx, &list, client.InNamespace(c.ns)))
	assert.Empty(t, list.Items, "no release in a namespace not enabled")

	label(annotations.InjectionEnabled)
	// Settled: the first status write of a release has no workloads yet; the
	// next one counts them.
	settled := func(rel *v1alpha1.ConfigRelease) bool {
		ws := rel.Status.Workloads
		return rel.Status.Phase == v1alpha1.PhaseComplete && len(ws) == 1 && ws[0].Complete && ws[0].Applied == ws[0].Pods
	}
	firstTLS := c.waitReleaseOf("secret-tls", "first seen once enabled, its workload counted", settled)
	firstApp := c.waitReleaseOf("configmap-app", "first seen once enabled, its workload counted", settled)
	require.Eventually(t, func() bool { return namespaceListed(t, run.registry, c.ns)[c.ns] == 1 }, wait, 20*time.Millisecond,
		"the namespace is listed")

	label(nil)
	require.Eventually(t, func() bool { return len(namespaceListed(t, run.registry, c.ns)) == 0 }, wait, 20*time.Millisecond,
		"the namespace's cache stops with its label")
	tls1, app1 := map[string]string{"tls.key": "key-1"}, map[string]string{"app.conf": "v=1"}
	c.secret("tls", tls1)
	c.configMap("app", app1)
	// A change of the other namespace, released: the controller ran past the edits.
	other.configMap("app", app1)
	other.waitRelease("app", "released", phase(v1alpha1.PhaseComplete, sourceRev(app1)))
	for name, first := range map[string]*v1alpha1.ConfigRelease{"secret-tls": firstTLS, "configmap-app": firstApp} {
		rel := &v1alpha1.ConfigRelease{}
		require.NoError(t, c.api.Get(c.ctx, client.ObjectKey{Namespace: c.ns, Name: name}, rel))
		assert.Equal(t, first.Status, rel.Status, "%s: a change is not released while the namespace is not enabled", name)
	}

	label(annotations.InjectionEnabled)
	c.waitReleaseOf("secret-tls", "released once enabled again", phase(v1alpha1.PhaseComplete, sourceRev(tls1)))
	c.waitReleaseOf("configmap-app", "released once enabled again", phase(v1alpha1.PhaseComplete, sourceRev(app1)))
}

// Junk in a namespace hotreload does not serve costs the controller no
// request and gets no release: opted-in pods with large annotations, pods
// that look injected, ConfigMaps that look like hotreload's own copies with
// the most keys allowed. Nothing of them is listed, watched or read.
func TestIntegrationJunkOfANamespaceNotEnabledIsNeverRead(t *testing.T) {
	junk := newCluster(t, nil)
	junk.patch(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: junk.ns}},
		map[string]any{"metadata": map[string]any{"labels": map[string]any{annotations.InjectionLabel: nil}}})
	junk.configMap("app", map[string]string{"app.conf": "v=0"})
	big := map[string]string{annotations.Rollout: strings.Repeat("x", 200<<10)}
	rs := junk.owner("web")
	for i := range 3 {
		junk.addPod(fmt.Sprintf("web-%d", i), rs, big, "app")
	}
	keys := map[string]string{}
	for i := range MaxSourceKeys {
		keys[fmt.Sprintf("k%d", i)] = strings.Repeat("v", 250)
	}
	for i := range 3 {
		_, err := junk.env.Clientset.CoreV1().ConfigMaps(junk.ns).Create(junk.ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("hotreload-stable-x%d", i), Labels: map[string]string{contract.ManagedByLabel: contract.ManagedBy}},
			Data:       keys}, metav1.CreateOptions{})
		require.NoError(t, err)
	}

	c := newCluster(t, nil)
	data0 := map[string]string{"app.conf": "v=0"}
	c.configMap("app", data0)
	c.replicaSet("web", 2, map[string]string{annotations.Rollout: "100%", annotations.RolloutInterval: "1s"}, "app")
	run := startController(t, c.env, c.ns)
	c.waitRelease("app", "first seen", phase(v1alpha1.PhaseComplete, sourceRev(data0)))
	c.fakeReloaders(applyAll)
	data1 := map[string]string{"app.conf": "v=1"}
	c.configMap("app", data1)
	c.waitRelease("app", "released", phase(v1alpha1.PhaseComplete, sourceRev(data1)))

	inJunk, clusterWide := run.requests.in(junk.ns)
	assert.Zero(t, inJunk, "no request in the junk's namespace")
	for kind, n := range clusterWide {
		for _, r := range []string{" pods", " configmaps", " secrets", " replicasets"} {
			assert.False(t, strings.HasSuffix(kind, r), "no cluster-wide %s (%d)", kind, n)
		}
	}
	var list v1alpha1.ConfigReleaseList
	require.NoError(t, c.api.List(c.ctx, &list, client.InNamespace(junk.ns)))
	assert.Empty(t, list.Items, "no release in the junk's namespace")
}

// namespaceListed returns hotreload_namespace_listed of namespace ns: empty
// while the namespace is not watched.
func namespaceListed(t *testing.T, reg *prometheus.Registry, ns string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "hotreload_namespace_listed" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == ns {
				out[ns] = m.GetGauge().GetValue()
			}
		}
	}
	return out
}
