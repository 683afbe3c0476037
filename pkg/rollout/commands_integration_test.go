//go:build integration

package rollout

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/contract"
	"github.com/hotreload/hotreload/pkg/plugin"
	"github.com/hotreload/hotreload/pkg/revision"
)

// slow is a canary whose gate does not open within a test: only a command moves it.
var slow = map[string]string{annotations.Rollout: "1,25%,100%", annotations.RolloutInterval: "1h"}

// command gives the release of ConfigMap name a command for revision rev
// (the candidate when empty), as jane, and returns its ID. paused, when not
// nil, sets spec.paused in the same patch.
func (c *cluster) command(name string, action v1alpha1.Action, rev, reason string, paused *bool) string {
	c.t.Helper()
	c.commands++
	id := fmt.Sprintf("cmd-%d", c.commands)
	if rev == "" {
		rev = c.waitRelease(name, "a candidate", func(*v1alpha1.ConfigRelease) bool { return true }).Status.Candidate
	}
	spec := map[string]any{"command": map[string]any{"id": id, "action": action, "revision": rev, "by": "jane", "reason": reason}}
	if paused != nil {
		spec["paused"] = *paused
	}
	body, err := json.Marshal(map[string]any{"spec": spec})
	require.NoError(c.t, err)
	rel := &v1alpha1.ConfigRelease{ObjectMeta: metav1.ObjectMeta{Namespace: c.ns, Name: "configmap-" + name}}
	require.NoError(c.t, c.api.Patch(c.ctx, rel, client.RawPatch(types.MergePatchType, body)))
	return id
}

// waitCommand waits until the release of name carried out (or refused)
// command id, and returns the release.
func (c *cluster) waitCommand(name, id string) *v1alpha1.ConfigRelease {
	c.t.Helper()
	return c.waitRelease(name, "command "+id+" handled", func(rel *v1alpha1.ConfigRelease) bool {
		return rel.Status.LastCommand != nil && rel.Status.LastCommand.ID == id
	})
}

func result(rel *v1alpha1.ConfigRelease) v1alpha1.CommandResult {
	r := *rel.Status.LastCommand
	r.Time = metav1.Time{}
	return r
}

// A promote releases the next step while the gate is still closed (the
// interval is an hour); a promote --full every pod left. Each is recorded
// with who asked and why, on the source, the release and the workload.
func TestIntegrationAPromoteReleasesTheNextStepNow(t *testing.T) {
	c := newCluster(t, nil)
	data0 := map[string]string{"app.conf": "v=0"}
	c.configMap("app", data0)
	pods := c.replicaSet("web", 8, slow, "app")
	run := startController(t, c.env, c.ns)
	c.waitRelease("app", "first seen", phase(v1alpha1.PhaseComplete, sourceRev(data0)))
	c.fakeReloaders(applyAll)
	data1 := map[string]string{"app.conf": "v=1"}
	c.configMap("app", data1)
	cand, rev1 := sourceRev(data1), c.desired(pods[0])
	o := order(pods, cand)
	step1 := stepEv(cand, "ReplicaSet/web", 1, 3, 1, 8, o[0])
	c.waitEvents("ConfigMap", "app", ReasonStepReleased)

	id := c.command("app", v1alpha1.ActionPromote, "", "the canary looks fine", nil)
	rel := c.waitCommand("app", id)
	step2 := ReasonStepReleased + ": config revision " + cand + " released to ReplicaSet/web, step 2 of 3: 2 of 8 pods (" + o[1] + "), promoted by jane"
	assert.Equal(t, v1alpha1.CommandResult{ID: id, Action: v1alpha1.ActionPromote, By: "jane", Done: true,
		Result: "released ReplicaSet/web, step 2 of 3: 2 of 8 pods (" + o[1] + "), promoted by jane"}, result(rel))
	promoted := ReasonPromoted + `: Promote by jane ("the canary looks fine"): ` + rel.Status.LastCommand.Result
	assert.Equal(t, []string{startedEv(cand, sourceRev(data0)), step1, step2, promoted}, c.waitEvents("ConfigMap", "app", ReasonPromoted))
	assert.Equal(t, []string{step1, step2, promoted}, c.waitEvents("ReplicaSet", "web", ReasonPromoted))
	assert.Equal(t, int32(2), rel.Status.Workloads[0].Step)

	id = c.command("app", v1alpha1.ActionPromoteFull, "", "", nil)
	rel = c.waitCommand("app", id)
	assert.Equal(t, "released ReplicaSet/web, step 3 of 3: 8 of 8 pods ("+sorted(o[2:])+"), promoted by jane", rel.Status.LastCommand.Result)
	want := all(c.pods("web"), rev1+" "+rev1)
	c.waitPods("web", func([]corev1.Pod) map[string]string { return want })
	assert.Equal(t, v1alpha1.PhaseProgressing, c.waitRelease("app", "every pod applied", func(rel *v1alpha1.ConfigRelease) bool {
		return rel.Status.Workloads[0].Applied == 8
	}).Status.Phase, "it completes after the interval, as after any last step")

	// A promote once every workload is at its last step does nothing more.
	id = c.command("app", v1alpha1.ActionPromote, "", "", nil)
	assert.Equal(t, "every workload is at its last step: the candidate becomes stable once its pods ran it healthy for the interval",
		c.waitCommand("app", id).Status.LastCommand.Result)
	// A command is counted before its Event is recorded: started, three
	// steps, three promotes.
	require.Eventually(t, func() bool { return len(c.events("ConfigMap", "app")) == 7 }, wait, 50*time.Millisecond)
	assert.Equal(t, map[string]float64{
		"hotreload_rollouts_started_total{" + c.ns + "}":       1,
		"hotreload_rollout_steps_released_total{" + c.ns + "}": 3,
		"hotreload_release_commands_total{Promote}":            2, // labelled action, namespace, result
		"hotreload_release_commands_total{PromoteFull}":        1,
	}, metricValues(t, run.registry))
}

// A pause holds the release at its step across a controller restart: a pod
// that joins is counted and given nothing; resume goes on from there.
func TestIntegrationAPauseHoldsAcrossARestart(t *testing.T) {
	c := newCluster(t, nil)
	data0 := map[string]string{"app.conf": "v=0"}
	c.configMap("app", data0)
	c.replicaSet("web", 4, canary, "app")
	first := startController(t, c.env, c.ns)
	c.waitRelease("app", "first seen", phase(v1alpha1.PhaseComplete, sourceRev(data0)))
	c.startOn = func(p *corev1.Pod) string { return c.at(p, map[string]map[string]string{"ConfigMap/app": data0}) }
	c.fakeReloaders(applyAll)
	yes, no := true, false
	id := c.command("app", v1alpha1.ActionPause, "", "release window closed", &yes)
	assert.Equal(t, "paused: nothing more is released until it is resumed", c.waitCommand("app", id).Status.LastCommand.Result)

	data1 := map[string]string{"app.conf": "v=1"}
	c.configMap("app", data1)
	cand := sourceRev(data1)
	rel := c.waitRelease("app", "paused on the candidate", phase(v1alpha1.PhasePaused, cand))
	assert.Equal(t, int32(0), rel.Status.Workloads[0].Step)
	first.stop()
	startController(t, c.env, c.ns)
	c.addPod("web-new", c.replicaSetObject("web"), canary, "app")
	rel = c.waitRelease("app", "the new pod counted, still paused", func(rel *v1alpha1.ConfigRelease) bool {
		return rel.Status.Phase == v1alpha1.PhasePaused && len(rel.Status.Workloads) == 1 && rel.Status.Workloads[0].Pods == 5
	})
	assert.Equal(t, int32(0), rel.Status.Workloads[0].Released)
	for _, p := range c.pods("web") {
		assert.Empty(t, p.Annotations[annotations.Released], "pod %s was released nothing", p.Name)
	}

	id = c.command("app", v1alpha1.ActionResume, "", "", &no)
	c.waitCommand("app", id)
	c.waitRelease("app", "complete", phase(v1alpha1.PhaseComplete, cand))
	paused := ReasonPaused + `: Pause by jane ("release window closed"): paused: nothing more is released until it is resumed`
	resumed := ReasonResumed + ": Resume by jane: resumed"
	events := c.waitEvents("ConfigMap", "app", ReasonRolloutCompleted)
	require.Len(t, events, 7)
	assert.Equal(t, []string{paused, startedEv(cand, sourceRev(data0)), resumed}, events[:3])
	assert.Equal(t, ReasonStepReleased, events[3][:len(ReasonStepReleased)])
}

// An abort in the middle of a step halts the release and rolls every pod
// given the candidate back to stable, as a failing pod would; the halt says
// who aborted and why, and holds.
func TestIntegrationAnAbortDuringAStepRollsBack(t *testing.T) {
	c := newCluster(t, nil)
	data0 := map[string]string{"app.conf": "v=0"}
	c.configMap("app", data0)
	pods := c.replicaSet("web", 8, slow, "app")
	run := startController(t, c.env, c.ns)
	stable := sourceRev(data0)
	c.waitRelease("app", "first seen", phase(v1alpha1.PhaseComplete, stable))
	rev0 := c.desired(pods[0])
	c.startOn = func(p *corev1.Pod) string { return c.at(p, map[string]map[string]string{"ConfigMap/app": data0}) }
	c.fakeReloaders(applyAll)
	data1 := map[string]string{"app.conf": "v=1"}
	c.configMap("app", data1)
	cand := sourceRev(data1)
	o := order(pods, cand)
	c.waitRelease("app", "step 1 applied", func(rel *v1alpha1.ConfigRelease) bool {
		return len(rel.Status.Workloads) == 1 && rel.Status.Workloads[0].Applied == 1
	})
	id := c.command("app", v1alpha1.ActionPromote, "", "", nil)
	c.waitCommand("app", id)

	id = c.command("app", v1alpha1.ActionAbort, "", "error rate up", nil)
	rel := c.waitCommand("app", id)
	assert.Equal(t, "aborted: every pod goes back to stable revision "+stable, rel.Status.LastCommand.Result)
	rel = c.waitRelease("app", "rolled back", func(rel *v1alpha1.ConfigRelease) bool { return rel.Status.Halt != nil && rel.Status.Halt.RolledBack })
	halt := *rel.Status.Halt
	halt.Time = metav1.Time{}
	assert.Equal(t, v1alpha1.Halt{By: "jane", Revision: cand, Cause: "aborted by jane: error rate up", RolledBack: true}, halt)
	assert.Equal(t, []v1alpha1.Outcome{v1alpha1.OutcomeAborted, v1alpha1.OutcomeStable}, outcomes(rel))
	assert.Equal(t, []string{"ReplicaSet/web 2 of 3"}, rel.Status.History[0].Reached)
	want := all(c.pods("web"), " "+rev0)
	want[o[0]], want[o[1]] = rev0+" "+rev0, rev0+" "+rev0
	assert.Equal(t, want, podRevisions(c.pods("web")), "the two pods given the candidate back on stable")
	events := c.waitEvents("ConfigMap", "app", ReasonRolledBack)
	assert.Equal(t, []string{
		ReasonAborted + `: Abort by jane ("error rate up"): aborted: every pod goes back to stable revision ` + stable,
		rolledBackEv(stable, cand),
	}, events[len(events)-2:])
	counted := metricValues(t, run.registry)
	assert.Equal(t, 1.0, counted["hotreload_rollbacks_total{"+c.ns+"}"], "the rollback is counted")
	assert.NotContains(t, counted, "hotreload_rollouts_halted_total{"+c.ns+"}", "an abort is a command, not a reload failure")

	// It holds: a new pod starts on stable, and a promote is refused.
	c.addPod("web-new", c.replicaSetObject("web"), slow, "app")
	id = c.command("app", v1alpha1.ActionPromote, "", "", nil)
	rel = c.waitCommand("app", id)
	assert.Equal(t, v1alpha1.CommandResult{ID: id, Action: v1alpha1.ActionPromote, By: "jane",
		Result: "not carried out: the release is Halted: there is no candidate in progress"}, result(rel))
	events = c.waitEvents("ConfigMap", "app", ReasonCommandRefused)
	assert.Equal(t, ReasonCommandRefused+": Promote by jane: not carried out: the release is Halted: there is no candidate in progress", events[len(events)-1])
	assert.Equal(t, v1alpha1.PhaseHalted, rel.Status.Phase)
}

// A retry starts a halted revision again from step 1 without an edit: after
// a halt whose pod is gone, and with the pod that failed still there (its
// old failure report does not halt the new attempt).
func TestIntegrationARetryStartsAHaltedRevisionAgain(t *testing.T) {
	for _, podGone := range []bool{true, false} {
		t.Run(fmt.Sprintf("halted pod gone: %v", podGone), func(t *testing.T) {
			c := newCluster(t, nil)
			data0 := map[string]string{"app.conf": "v=0"}
			c.configMap("app", data0)
			pods := c.replicaSet("web", 3, map[string]string{annotations.Rollout: "1,100%", annotations.RolloutInterval: "1s"}, "app")
			startController(t, c.env, c.ns)
			stable := sourceRev(data0)
			c.waitRelease("app", "first seen", phase(v1alpha1.PhaseComplete, stable))
			c.startOn = func(p *corev1.Pod) string { return c.at(p, map[string]map[string]string{"ConfigMap/app": data0}) }
			data1 := map[string]string{"app.conf": "v=1"}
			c.configMap("app", data1)
			cand, rev1 := sourceRev(data1), c.desired(pods[0])
			o := order(pods, cand)
			var healthy atomic.Bool
			c.fakeReloaders(func(_, rev string) reloaderAction {
				if rev == rev1 && !healthy.Load() {
					return fail // a node problem, say
				}
				return apply
			})
			rel := c.waitRelease("app", "rolled back", func(rel *v1alpha1.ConfigRelease) bool { return rel.Status.Halt != nil && rel.Status.Halt.RolledBack })
			require.Equal(t, o[0], rel.Status.Halt.Pod)
			if podGone {
				require.NoError(t, c.env.Clientset.CoreV1().Pods(c.ns).Delete(c.ctx, o[0], metav1.DeleteOptions{GracePeriodSeconds: ptrTo(int64(0))}))
				c.addPod("web-new", c.replicaSetObject("web"), map[string]string{annotations.Rollout: "1,100%", annotations.RolloutInterval: "1s"}, "app")
			} else {
				pod, err := c.env.Clientset.CoreV1().Pods(c.ns).Get(c.ctx, o[0], metav1.GetOptions{})
				require.NoError(t, err)
				failed, _, _ := annotations.FailedOf(pod.Annotations)
				require.Equal(t, rev1, failed, "the failure report stays on the pod")
			}
			healthy.Store(true)

			id := c.command("app", v1alpha1.ActionRetry, "", "the node was replaced", nil)
			assert.Equal(t, "revision "+cand+" starts again from step 1", c.waitCommand("app", id).Status.LastCommand.Result)
			rel = c.waitRelease("app", "complete", phase(v1alpha1.PhaseComplete, cand))
			assert.Equal(t, []v1alpha1.Outcome{v1alpha1.OutcomeCompleted, v1alpha1.OutcomeHalted, v1alpha1.OutcomeStable}, outcomes(rel))
			assert.Equal(t, []string{cand, cand, stable}, []string{rel.Status.History[0].Revision, rel.Status.History[1].Revision, rel.Status.History[2].Revision})
			final := c.pods("web")
			assert.Equal(t, all(final, c.desired(&final[0])+" "+c.desired(&final[0])), podRevisions(final))
			for _, p := range final {
				assert.NotContains(t, p.Annotations, annotations.Failed, "pod %s", p.Name)
			}
			events := c.events("ConfigMap", "app")
			assert.Contains(t, events, ReasonRetried+`: Retry by jane ("the node was replaced"): revision `+cand+" starts again from step 1")
		})
	}
}

// A command for a revision that is no longer the candidate, or that does not
// apply in the phase, does nothing and says why.
func TestIntegrationACommandThatDoesNotApplyIsRefused(t *testing.T) {
	c := newCluster(t, nil)
	data0 := map[string]string{"app.conf": "v=0"}
	c.configMap("app", data0)
	c.replicaSet("web", 2, slow, "app")
	startController(t, c.env, c.ns)
	stable := sourceRev(data0)
	c.waitRelease("app", "first seen", phase(v1alpha1.PhaseComplete, stable))
	for _, tc := range []struct {
		action v1alpha1.Action
		rev    string
		want   string
	}{
		{v1alpha1.ActionRetry, "", "not carried out: the release is Complete, not Halted"},
		{v1alpha1.ActionAbort, "", "not carried out: the release is Complete: there is no candidate in progress"},
		{v1alpha1.ActionPromote, "0123456789ab", "not carried out: it was for revision 0123456789ab, and the candidate is now " + stable},
	} {
		id := c.command("app", tc.action, tc.rev, "", nil)
		rel := c.waitCommand("app", id)
		assert.Equal(t, v1alpha1.CommandResult{ID: id, Action: tc.action, By: "jane", Result: tc.want}, result(rel))
		assert.Equal(t, v1alpha1.PhaseComplete, rel.Status.Phase)
	}
}

// canaryInFlight starts the controller on ConfigMap app, and edits it from
// data0 to data1: step 1 of a slow rollout is released to ReplicaSet web.
func canaryInFlight(t *testing.T) (c *cluster, run *controllerRun, data0, data1 map[string]string) {
	c = newCluster(t, nil)
	data0, data1 = map[string]string{"app.conf": "v=0"}, map[string]string{"app.conf": "v=1"}
	c.configMap("app", data0)
	c.replicaSet("web", 4, slow, "app")
	run = startController(t, c.env, c.ns)
	c.waitRelease("app", "first seen", phase(v1alpha1.PhaseComplete, sourceRev(data0)))
	c.fakeReloaders(applyAll)
	c.configMap("app", data1)
	c.waitEvents("ConfigMap", "app", ReasonStepReleased)
	return c, run, data0, data1
}

// An undo is recorded with who asked and why once the source holds the
// revision written back (the plugin writes the source, then the command):
// back to stable mid-step, then to the revision it had just undone. An undo
// for a revision the source does not hold is refused.
func TestIntegrationAnUndoIsRecordedWithWhoAndWhy(t *testing.T) {
	c, _, data0, data1 := canaryInFlight(t)
	stable, cand := sourceRev(data0), sourceRev(data1)

	id := c.command("app", v1alpha1.ActionUndo, stable, "", nil)
	assert.Equal(t, v1alpha1.CommandResult{ID: id, Action: v1alpha1.ActionUndo, By: "jane",
		Result: fmt.Sprintf("not carried out: the source holds revision %s, not %q", cand, stable)}, result(c.waitCommand("app", id)))

	c.configMap("app", data0)
	id = c.command("app", v1alpha1.ActionUndo, stable, "latency doubled on the canary", nil)
	rel := c.waitCommand("app", id)
	want := v1alpha1.CommandResult{ID: id, Action: v1alpha1.ActionUndo, By: "jane", Done: true,
		Result: "revision " + stable + " written back into the source; it is the stable revision, which every pod runs again"}
	assert.Equal(t, want, result(rel))
	assert.Equal(t, v1alpha1.PhaseComplete, rel.Status.Phase)
	undone := ReasonUndone + `: Undo by jane ("latency doubled on the canary"): ` + want.Result
	c.waitEvent("ConfigMap", "app", undone)
	c.waitEvent("ReplicaSet", "web", undone)

	c.configMap("app", data1)
	id = c.command("app", v1alpha1.ActionUndo, cand, "", nil)
	rel = c.waitCommand("app", id)
	assert.Equal(t, "revision "+cand+" written back into the source; its release started, stable revision "+stable, rel.Status.LastCommand.Result)
	events := c.waitEvent("ConfigMap", "app", ReasonUndone+": Undo by jane: "+rel.Status.LastCommand.Result)
	assert.Equal(t, startedEv(cand, stable), events[len(events)-2], "the release starts, then the undo is recorded")
}

// waitEvent waits until the Events of the object include event, and returns
// them up to it.
func (c *cluster) waitEvent(kind, name, event string) []string {
	c.t.Helper()
	var got []string
	require.Eventually(c.t, func() bool {
		got = c.events(kind, name)
		return slices.Contains(got, event)
	}, wait, 50*time.Millisecond, "events of %s %s include %q", kind, name, event)
	return got[:slices.Index(got, event)+1]
}

// kubectl hotreload undo, run against the API server and this controller:
// the source holds the stable revision again, and the Event names the user
// and the reason. With the controller stopped, undo writes the revision
// back all the same and says that the undo is not recorded yet.
func TestIntegrationThePluginsUndoIsRecorded(t *testing.T) {
	c, run, data0, data1 := canaryInFlight(t)
	stable, cand := sourceRev(data0), sourceRev(data1)
	kubeconfig := c.kubeconfig()
	review, err := c.env.Clientset.AuthenticationV1().SelfSubjectReviews().Create(c.ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	require.NoError(t, err)
	user := review.Status.UserInfo.Username
	data := func() map[string]string {
		cm, err := c.env.Clientset.CoreV1().ConfigMaps(c.ns).Get(c.ctx, "app", metav1.GetOptions{})
		require.NoError(t, err)
		return cm.Data
	}
	undo := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := plugin.Run(c.ctx, append([]string{"undo", "configmap/app", "-n", c.ns, "--kubeconfig", kubeconfig, "--yes"}, args...), &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}

	code, stdout, stderr := undo("--reason=the canary is slow")
	require.Equal(t, 0, code, stderr)
	done := "revision " + stable + " written back into the source; it is the stable revision, which every pod runs again"
	assert.Equal(t, "configmap/app: "+done+" (kubectl hotreload status configmap/app -n "+c.ns+" -w)\n", stdout)
	assert.Equal(t, data0, data())
	c.waitEvent("ConfigMap", "app", ReasonUndone+": Undo by "+user+` ("the canary is slow"): `+done)

	run.stop()
	code, _, stderr = undo("--to-revision="+cand, "--wait=1s")
	assert.Equal(t, 1, code)
	assert.Equal(t, "error: configmap/app: revision "+cand+" is written back, which starts its release; recording who undid it: the command is recorded in the release but the controller has not carried it out within 1s; is the hotreload controller running? (kubectl -n hotreload-system get pods)\n", stderr)
	assert.Equal(t, data1, data())
	rel := c.waitRelease("app", "the undo waits in the spec", func(*v1alpha1.ConfigRelease) bool { return true })
	assert.Equal(t, &v1alpha1.Command{ID: rel.Spec.Command.ID, Action: v1alpha1.ActionUndo, Revision: cand, By: user}, rel.Spec.Command)
}

// An undo's revision that the API server's source holds but the cache does
// not show yet is not refused: its record waits for the release to take it.
func TestIntegrationAnUndoAheadOfTheCacheWaits(t *testing.T) {
	c := newCluster(t, nil)
	data0, data1 := map[string]string{"app.conf": "v=0"}, map[string]string{"app.conf": "v=1"}
	c.configMap("app", data1)
	r := &Reconciler{API: c.api}
	s := SourceRef{Namespace: c.ns, Kind: revision.KindConfigMap, Name: "app"}
	st := v1alpha1.ConfigReleaseStatus{Stable: sourceRev(data0), Candidate: sourceRev(data0)}
	for _, tc := range []struct {
		cmd  *v1alpha1.Command
		want bool
	}{
		{&v1alpha1.Command{Action: v1alpha1.ActionUndo, Revision: sourceRev(data1)}, true},
		{&v1alpha1.Command{Action: v1alpha1.ActionUndo, Revision: "0123456789ab"}, false},
		{&v1alpha1.Command{Action: v1alpha1.ActionUndo, Revision: sourceRev(data0)}, false},
		{&v1alpha1.Command{Action: v1alpha1.ActionPromote, Revision: sourceRev(data1)}, false},
		{nil, false},
	} {
		got, err := r.undoNotSeen(c.ctx, s, tc.cmd, st)
		require.NoError(t, err)
		assert.Equal(t, tc.want, got, "%+v", tc.cmd)
	}
	_, err := r.undoNotSeen(c.ctx, SourceRef{Namespace: c.ns, Kind: revision.KindConfigMap, Name: "gone"}, &v1alpha1.Command{Action: v1alpha1.ActionUndo, Revision: "x"}, st)
	require.ErrorContains(t, err, "reading "+c.ns+"/ConfigMap/gone")
}

// The release keeps the content of its last revisions for history, undo and
// diff: as many as the namespace says besides stable and candidate, none
// over the size limit but stable and candidate.
func TestIntegrationTheLastRevisionsAreKept(t *testing.T) {
	c := newCluster(t, map[string]string{annotations.RevisionHistory: "2", annotations.RolloutInterval: "1s"})
	big := string(make([]byte, maxKeptSize))
	datas := []map[string]string{{"app.conf": "v=0"}, {"app.conf": "v=1"}, {"app.conf": "v=2", "big": big}, {"app.conf": "v=3"}, {"app.conf": "v=4"}}
	c.configMap("app", datas[0])
	c.replicaSet("web", 1, nil, "app")
	startController(t, c.env, c.ns)
	c.waitRelease("app", "first seen", phase(v1alpha1.PhaseComplete, sourceRev(datas[0])))
	c.fakeReloaders(applyAll)
	kept := c.keptRevisions
	for i, d := range datas[1:] {
		c.configMap("app", d)
		rel := c.waitRelease("app", fmt.Sprintf("revision %d complete", i+1), phase(v1alpha1.PhaseComplete, sourceRev(d)))
		assert.Equal(t, content{data: d}.size(), rel.Status.History[0].Size)
	}
	revs := make([]string, len(datas))
	for i, d := range datas {
		revs[i] = sourceRev(d)
	}
	// The status says Complete before the revisions no longer kept are deleted.
	require.Eventually(t, func() bool { return len(kept()) == 3 }, wait, 50*time.Millisecond, "kept: %v", kept())
	assert.ElementsMatch(t, []string{revs[4], revs[3], revs[1]}, kept(), "stable, then the last two not over the limit")
}

// A pod that opted in, in an enabled namespace, but was admitted without the
// sidecar (the webhook was down) gets a Warning Event, once, and is counted:
// it would otherwise never reload, silently. An injected pod gets nothing.
func TestIntegrationAnOptedInPodAdmittedWithoutTheSidecarIsAnnounced(t *testing.T) {
	c := newCluster(t, nil)
	c.configMap("app", map[string]string{"app.conf": "v=0"})
	c.replicaSet("web", 1, nil, "app")
	run := startController(t, c.env, c.ns)
	plain := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "plain", Labels: map[string]string{annotations.EnableLabel: annotations.EnableValue}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app"}}},
	}
	_, err := c.env.Clientset.CoreV1().Pods(c.ns).Create(c.ctx, plain, metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { // not left for the next tests' controllers to count
		_ = c.env.Clientset.CoreV1().Pods(c.ns).Delete(context.Background(), "plain", metav1.DeleteOptions{GracePeriodSeconds: ptrTo(int64(0))})
	})
	want := []string{ReasonNotInjected + ": labelled hotreload/enable=true in a namespace labelled hotreload/injection=enabled, but admitted without hotreload's sidecar " +
		"(the webhook was unreachable, the namespace was enabled after the pod was made, or the pod uses names hotreload reserves): it does not reload its config; " +
		"it is not replaced (no controller owns it): delete it, or kubectl rollout restart its workload, to have it injected"}
	assert.Equal(t, want, c.waitEvents("Pod", "plain", ReasonNotInjected))
	c.patch(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "plain"}}, map[string]any{"metadata": map[string]any{"labels": map[string]string{"touched": "yes"}}})
	c.waitRelease("app", "first seen", phase(v1alpha1.PhaseComplete, sourceRev(map[string]string{"app.conf": "v=0"})))
	assert.Equal(t, map[string]float64{"hotreload_pods_not_injected_total{" + c.ns + "}": 1}, metricValues(t, run.registry))
	assert.Equal(t, want, c.events("Pod", "plain"), "said once")
	assert.Empty(t, c.events("Pod", "web-0"), "an injected pod is not announced")
}

// A pod its controller recreates, admitted without the sidecar, is replaced
// once the webhook has injected a pod of its workload made after it: its
// owner then makes one the webhook admits. A Job's pod is not, and its
// Event says why.
func TestIntegrationAPodAdmittedWithoutTheSidecarIsReplacedOnceTheWebhookIsBack(t *testing.T) {
	c := newCluster(t, nil)
	c.configMap("app", map[string]string{"app.conf": "v=0"})
	rs := c.owner("web")
	uninjected := func(name string, owner metav1.OwnerReference, config bool) {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{annotations.EnableLabel: annotations.EnableValue},
				OwnerReferences: []metav1.OwnerReference{owner}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app"}}},
		}
		if config {
			pod.Spec.Volumes = []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{
				ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "app"}}}}}
			pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "config", MountPath: "/etc/app"}}
		}
		_, err := c.env.Clientset.CoreV1().Pods(c.ns).Create(c.ctx, pod, metav1.CreateOptions{})
		require.NoError(t, err)
		c.setStatus(name, true, time.Now(), time.Time{})
	}
	byRS := metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: ptrTo(true)}
	uninjected("web-old", byRS, true)
	uninjected("web-plain", byRS, false) // nothing the webhook would reload
	uninjected("migrate-x", metav1.OwnerReference{APIVersion: "batch/v1", Kind: "Job", Name: "migrate", UID: "uid-migrate", Controller: ptrTo(true)}, true)
	t.Cleanup(func() {
		for _, name := range []string{"migrate-x", "web-plain"} {
			_ = c.env.Clientset.CoreV1().Pods(c.ns).Delete(context.Background(), name, metav1.DeleteOptions{GracePeriodSeconds: ptrTo(int64(0))})
		}
	})
	// The webhook is back: it injected a pod of the same ReplicaSet, made
	// after (creation times count whole seconds: the next one).
	require.Eventually(t, func() bool { return time.Since(c.pods("web")[1].CreationTimestamp.Time) > time.Second }, wait, 100*time.Millisecond,
		"a second later than the uninjected pod")
	c.addPod("web-new", rs, nil, "app")
	startController(t, c.env, c.ns)

	require.Eventually(t, func() bool {
		_, err := c.env.Clientset.CoreV1().Pods(c.ns).Get(c.ctx, "web-old", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	}, wait, 50*time.Millisecond, "the uninjected pod of the ReplicaSet is replaced")
	assert.Equal(t, []string{ReasonNotInjected + ": labelled hotreload/enable=true in a namespace labelled hotreload/injection=enabled, but admitted without hotreload's sidecar " +
		"(the webhook was unreachable, the namespace was enabled after the pod was made, or the pod uses names hotreload reserves): it does not reload its config; " +
		"it is replaced, one pod of its workload at a time, once the webhook admits its workload's pods again",
		ReasonPodReplaced + ": replaced so that its owner makes one hotreload's webhook admits with the sidecar: it was admitted without it"},
		c.waitEvents("Pod", "web-old", ReasonPodReplaced))
	assert.Equal(t, []string{ReasonNotInjected + ": labelled hotreload/enable=true in a namespace labelled hotreload/injection=enabled, but admitted without hotreload's sidecar " +
		"(the webhook was unreachable, the namespace was enabled after the pod was made, or the pod uses names hotreload reserves): it does not reload its config; " +
		"it is not replaced (it is a Job's pod): delete it, or kubectl rollout restart its workload, to have it injected"},
		c.waitEvents("Pod", "migrate-x", ReasonNotInjected))
	assert.Equal(t, []string{ReasonNotInjected + ": labelled hotreload/enable=true in a namespace labelled hotreload/injection=enabled, but admitted without hotreload's sidecar " +
		"(the webhook was unreachable, the namespace was enabled after the pod was made, or the pod uses names hotreload reserves): it does not reload its config; " +
		"it is not replaced (the webhook leaves such a pod without the sidecar: no config volume of the reloaded containers can be reloaded: pod left unchanged): delete it, or kubectl rollout restart its workload, to have it injected"},
		c.waitEvents("Pod", "web-plain", ReasonNotInjected))
	for _, name := range []string{"migrate-x", "web-plain"} {
		_, err := c.env.Clientset.CoreV1().Pods(c.ns).Get(c.ctx, name, metav1.GetOptions{})
		assert.NoError(t, err, "%s stays", name)
	}
}

// A revision the env references of a live pod are pinned to
// (hotreload/pinned) is kept however old: the kubelet reads it at each of the
// pod's container starts. Once no live pod reads it, the next prune removes it.
func TestIntegrationARevisionALivePodIsPinnedToIsKept(t *testing.T) {
	c := newCluster(t, map[string]string{annotations.RevisionHistory: "0", annotations.RolloutInterval: "1s"})
	datas := []map[string]string{{"app.conf": "v=0"}, {"app.conf": "v=1"}, {"app.conf": "v=2"}, {"app.conf": "v=3"}}
	revs := make([]string, len(datas))
	for i, d := range datas {
		revs[i] = sourceRev(d)
	}
	c.configMap("app", datas[0])
	c.replicaSet("web", 1, nil, "app")
	pinned := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "pinned", Labels: map[string]string{annotations.EnableLabel: annotations.EnableValue},
			Annotations: map[string]string{annotations.Injected: "v1.0.0", annotations.Pinned: "ConfigMap/app=" + revs[0]}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app", EnvFrom: []corev1.EnvFromSource{
			{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: contract.RevisionName("app", revs[0])}}}}}}},
	}
	_, err := c.env.Clientset.CoreV1().Pods(c.ns).Create(c.ctx, pinned, metav1.CreateOptions{})
	require.NoError(t, err)
	startController(t, c.env, c.ns)
	c.waitRelease("app", "first seen", phase(v1alpha1.PhaseComplete, revs[0]))
	c.fakeReloaders(applyAll)
	kept := c.keptRevisions
	for i, d := range datas[1:3] {
		c.configMap("app", d)
		c.waitRelease("app", fmt.Sprintf("revision %d complete", i+1), phase(v1alpha1.PhaseComplete, revs[i+1]))
	}
	want := []string{revs[0], revs[2]}
	slices.Sort(want)
	require.Eventually(t, func() bool { return slices.Equal(kept(), want) }, wait, 50*time.Millisecond, "kept: %v, want stable and the pinned one %v", kept(), want)

	require.NoError(t, c.env.Clientset.CoreV1().Pods(c.ns).Delete(c.ctx, "pinned", metav1.DeleteOptions{GracePeriodSeconds: ptrTo(int64(0))}))
	c.configMap("app", datas[3])
	c.waitRelease("app", "revision 3 complete", phase(v1alpha1.PhaseComplete, revs[3]))
	require.Eventually(t, func() bool { return slices.Equal(kept(), []string{revs[3]}) }, wait, 50*time.Millisecond, "kept: %v, want stable only", kept())
}

// keptRevisions returns the revisions whose objects the release keeps, sorted.
func (c *cluster) keptRevisions() []string {
	var list corev1.ConfigMapList
	require.NoError(c.t, c.api.List(c.ctx, &list, client.InNamespace(c.ns), client.MatchingLabels{contract.RoleLabel: contract.RoleRevision}))
	var out []string
	for _, cm := range list.Items {
		out = append(out, cm.Labels[contract.RevisionLabel])
	}
	slices.Sort(out)
	return out
}
