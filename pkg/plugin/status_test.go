package plugin

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/annotations"
)

const appKey = "ConfigMap/app-config"

const (
	intervalWarning = `hotreload/rollout-interval: invalid interval "soon": not a duration such as 30s or 2m; using 30s`
	shareWarning    = "shareProcessNamespace is turned on so that the reloader can send SIGHUP to the process; the pod's containers see each other's processes (and, running as one user, their environments and files); set hotreload/signal to none, or a URL in hotreload/url, to avoid it"
)

func webWorkload(step int32, released, applied, ready int32) v1alpha1.WorkloadStatus {
	return v1alpha1.WorkloadStatus{Kind: "Deployment", Name: "web", Step: step, Steps: 3, Rollout: "1,50%,100%", Interval: "30s",
		Pods: 3, Released: released, Applied: applied, Ready: ready, StepSince: beforePtr(40 * time.Second)}
}

var webReplicaSets = []metav1.PartialObjectMetadata{replicaSet("web-7d9f8c6b5", "web"), replicaSet("web-5c6d7e8f9", "web")}

func TestRenderStatus(t *testing.T) {
	tests := []struct {
		name    string
		release *v1alpha1.ConfigRelease
		pods    []corev1.Pod
	}{
		{
			name: "status_progressing",
			release: newRelease(appConfig, v1alpha1.ConfigReleaseStatus{
				Phase: v1alpha1.PhaseProgressing, Stable: stableRev, Candidate: candidateRev, CandidateSince: beforePtr(5 * time.Minute),
				Workloads: []v1alpha1.WorkloadStatus{
					webWorkload(1, 1, 1, 3),
					{Kind: "StatefulSet", Name: "db", Step: 1, Steps: 2, Rollout: "50%,100%", Interval: "1m", Pods: 2, Released: 1, Applied: 0, Ready: 2, NotDelivered: 1},
				},
				Summary: "Deployment/web 1/3 (1/3 pods), StatefulSet/db 1/2 (0/2 pods)",
				LastCommand: &v1alpha1.CommandResult{ID: "0a1b2c3d4e5f", Action: v1alpha1.ActionResume, By: "jane@example.com", Done: true,
					Result: "resumed", Time: before(3 * time.Minute)},
			}),
			pods: pods(
				newPod("web-7d9f8c6b5-a1").of("ReplicaSet", "web-7d9f8c6b5").runs("r-web-cand").holds(appKey, candidateRev),
				newPod("web-7d9f8c6b5-b2").of("ReplicaSet", "web-7d9f8c6b5").runs("r-web-stable"),
				// a pod of the Deployment's newer ReplicaSet, projecting the source
				newPod("web-5c6d7e8f9-c3").of("ReplicaSet", "web-5c6d7e8f9").runs("r-web-stable").mounting(corev1.VolumeSource{
					Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{{ConfigMap: &corev1.ConfigMapProjection{
						LocalObjectReference: corev1.LocalObjectReference{Name: "app-config"}}}}}}),
				newPod("db-0").of("StatefulSet", "db").releasedRev("r-db-cand").appliedRev("r-db-stable").holds(appKey, candidateRev),
				newPod("db-1").of("StatefulSet", "db").runs("r-db-stable").restarted(2),
				// neither of these is the release's
				newPod("other-0").of("StatefulSet", "other").mounting(corev1.VolumeSource{
					ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "other-config"}}}),
				newPod("web-7d9f8c6b5-x9").of("ReplicaSet", "web-7d9f8c6b5").optedOut(),
			),
		},
		{
			name: "status_halted",
			release: newRelease(appConfig, v1alpha1.ConfigReleaseStatus{
				Phase: v1alpha1.PhaseHalted, Stable: stableRev, Candidate: candidateRev, CandidateSince: beforePtr(10 * time.Minute),
				Halt: &v1alpha1.Halt{Pod: "web-7d9f8c6b5-b2", Workload: "Deployment/web", Revision: candidateRev,
					Cause: `reload failed: nginx: [emerg] unknown directive "sever" in /etc/nginx/nginx.conf:12`, Time: before(4 * time.Minute), RolledBack: true},
				Workloads: []v1alpha1.WorkloadStatus{webWorkload(2, 0, 0, 3)},
				Summary:   "Deployment/web 2/3 (0/3 pods)",
				LastCommand: &v1alpha1.CommandResult{ID: "0a1b2c3d4e5f", Action: v1alpha1.ActionPromote, By: "jane@example.com", Done: true,
					Result: "released Deployment/web step 2 of 3", Time: before(6 * time.Minute)},
			}),
			pods: pods(
				newPod("web-7d9f8c6b5-a1").of("ReplicaSet", "web-7d9f8c6b5").runs("r-web-stable"),
				newPod("web-7d9f8c6b5-b2").of("ReplicaSet", "web-7d9f8c6b5").runs("r-web-stable").restarted(1).
					failed("r-web-cand", `reload failed: nginx: [emerg] unknown directive "sever" in /etc/nginx/nginx.conf:12`),
				newPod("web-7d9f8c6b5-c3").of("ReplicaSet", "web-7d9f8c6b5").runs("r-web-stable"),
			),
		},
		{
			name: "status_retry_scheduled",
			release: newRelease(appConfig, v1alpha1.ConfigReleaseStatus{
				Phase: v1alpha1.PhaseHalted, Stable: stableRev, Candidate: candidateRev, CandidateSince: beforePtr(10 * time.Minute),
				Halt: &v1alpha1.Halt{Pod: "web-7d9f8c6b5-b2", Workload: "Deployment/web", Revision: candidateRev,
					Cause: "stopped being Ready 3s after applying the revision", Time: before(time.Minute), RolledBack: true, NextRetry: beforePtr(-3 * time.Minute)},
				Retries:   2,
				Workloads: []v1alpha1.WorkloadStatus{webWorkload(1, 0, 0, 3)},
				Summary:   "Deployment/web 1/3 (0/3 pods)",
			}),
			pods: pods(
				newPod("web-7d9f8c6b5-a1").of("ReplicaSet", "web-7d9f8c6b5").runs("r-web-stable"),
				newPod("web-7d9f8c6b5-b2").of("ReplicaSet", "web-7d9f8c6b5").runs("r-web-stable"),
				newPod("web-7d9f8c6b5-c3").of("ReplicaSet", "web-7d9f8c6b5").runs("r-web-stable"),
			),
		},
		{
			name: "status_aborted",
			release: func() *v1alpha1.ConfigRelease {
				rel := newRelease(appConfig, v1alpha1.ConfigReleaseStatus{
					Phase: v1alpha1.PhaseHalted, Stable: stableRev, Candidate: candidateRev, CandidateSince: beforePtr(10 * time.Minute),
					Halt:      &v1alpha1.Halt{By: "jane@example.com", Revision: candidateRev, Cause: "aborted by jane@example.com: error rate up", Time: before(20 * time.Second)},
					Workloads: []v1alpha1.WorkloadStatus{webWorkload(2, 1, 2, 3)},
					LastCommand: &v1alpha1.CommandResult{ID: "0a1b2c3d4e5f", Action: v1alpha1.ActionAbort, By: "jane@example.com", Done: true,
						Result: "aborted: every pod goes back to stable revision " + stableRev, Time: before(20 * time.Second)},
				})
				rel.Spec.Command = &v1alpha1.Command{ID: "ffeeddccbbaa", Action: v1alpha1.ActionRetry, Revision: candidateRev, By: "bob@example.com"}
				return rel
			}(),
			pods: pods(
				newPod("web-7d9f8c6b5-a1").of("ReplicaSet", "web-7d9f8c6b5").releasedRev("r-web-stable").appliedRev("r-web-cand"),
				newPod("web-7d9f8c6b5-b2").of("ReplicaSet", "web-7d9f8c6b5").runs("r-web-stable"),
				newPod("web-7d9f8c6b5-c3").of("ReplicaSet", "web-7d9f8c6b5").runs("r-web-stable").notReady(),
			),
		},
		{
			name: "status_paused",
			release: func() *v1alpha1.ConfigRelease {
				rel := newRelease(appConfig, v1alpha1.ConfigReleaseStatus{
					Phase: v1alpha1.PhasePaused, Stable: stableRev, Candidate: candidateRev, CandidateSince: beforePtr(10 * time.Minute),
					Workloads: []v1alpha1.WorkloadStatus{webWorkload(1, 1, 1, 3)},
					Message:   "paused by jane@example.com",
					LastCommand: &v1alpha1.CommandResult{ID: "0a1b2c3d4e5f", Action: v1alpha1.ActionPause, By: "jane@example.com", Done: true,
						Result: "paused: nothing more is released until it is resumed", Time: before(2 * time.Minute)},
				})
				rel.Spec.Paused = true
				rel.Spec.Command = &v1alpha1.Command{ID: "0a1b2c3d4e5f", Action: v1alpha1.ActionPause, Revision: candidateRev, By: "jane@example.com"}
				return rel
			}(),
			pods: pods(
				newPod("web-7d9f8c6b5-a1").of("ReplicaSet", "web-7d9f8c6b5").runs("r-web-cand").holds(appKey, candidateRev),
				newPod("web-7d9f8c6b5-b2").of("ReplicaSet", "web-7d9f8c6b5").runs("r-web-stable"),
				newPod("web-7d9f8c6b5-c3").of("ReplicaSet", "web-7d9f8c6b5").runs("r-web-stable"),
			),
		},
		{
			name: "status_complete",
			release: newRelease(appConfig, v1alpha1.ConfigReleaseStatus{
				Phase: v1alpha1.PhaseComplete, Stable: candidateRev, Candidate: candidateRev, CandidateSince: beforePtr(3 * time.Hour),
				Workloads: []v1alpha1.WorkloadStatus{
					{Kind: "Deployment", Name: "web", Step: 3, Steps: 3, Rollout: "1,50%,100%", Interval: "30s", Pods: 2, Released: 2, Applied: 2, Ready: 2, Complete: true},
					{Kind: "Pod", Step: 1, Steps: 1, Rollout: "100%", Interval: "30s", Pods: 1, Released: 1, Applied: 1, Ready: 1, Complete: true},
				},
				Summary: "2 workloads, 3 pods",
			}),
			pods: pods(
				newPod("web-7d9f8c6b5-a1").of("ReplicaSet", "web-7d9f8c6b5").runs("r-web"),
				newPod("web-7d9f8c6b5-b2").of("ReplicaSet", "web-7d9f8c6b5").runs("r-web"),
				newPod("debug").runs("r-debug"),
				// a pod the controller has not counted yet
				newPod("api-6b7c8d9e0f-z1").of("ReplicaSet", "api-6b7c8d9e0f"),
			),
		},
		{
			name: "status_warnings",
			release: newRelease(appConfig, v1alpha1.ConfigReleaseStatus{
				Phase: v1alpha1.PhaseProgressing, Stable: stableRev, Candidate: candidateRev, CandidateSince: beforePtr(5 * time.Minute),
				Workloads: []v1alpha1.WorkloadStatus{
					{Kind: "Deployment", Name: "web", Step: 1, Steps: 1, Rollout: "100%", Interval: "30s", Pods: 3, Released: 3, Applied: 3, Ready: 3},
					{Kind: "Pod", Step: 1, Steps: 1, Rollout: "100%", Interval: "30s", Pods: 1, Released: 1, Applied: 1, Ready: 1},
				},
			}),
			pods: pods(
				newPod("web-7d9f8c6b5-a1").of("ReplicaSet", "web-7d9f8c6b5").runs("r-web-cand").holds(appKey, candidateRev).
					warnings(annotations.FormatWarnings([]string{intervalWarning, shareWarning})),
				newPod("web-7d9f8c6b5-b2").of("ReplicaSet", "web-7d9f8c6b5").runs("r-web-cand").holds(appKey, candidateRev).
					warnings(annotations.FormatWarnings([]string{intervalWarning, shareWarning})),
				// the Deployment's new template sets hotreload/signal: none
				newPod("web-5c6d7e8f9-c3").of("ReplicaSet", "web-5c6d7e8f9").runs("r-web-cand").holds(appKey, candidateRev).
					warnings(annotations.FormatWarnings([]string{intervalWarning})),
				newPod("debug").runs("r-debug-cand").holds(appKey, candidateRev).warnings(`hotreload/signal: unknown signal "SIGFOO"; using SIGHUP`),
				// a pod the controller has not counted yet
				newPod("api-6b7c8d9e0f-z1").of("ReplicaSet", "api-6b7c8d9e0f").warnings(intervalWarning),
			),
		},
		{
			// admitted while the webhook was down: the controller replaces
			// what its controller recreates, and says why not the others
			name: "status_without_sidecar",
			release: newRelease(appConfig, v1alpha1.ConfigReleaseStatus{
				Phase: v1alpha1.PhaseComplete, Stable: stableRev, Candidate: stableRev, CandidateSince: beforePtr(3 * time.Hour),
				Workloads: []v1alpha1.WorkloadStatus{{Kind: "Deployment", Name: "web", Step: 1, Steps: 1, Rollout: "100%", Interval: "30s",
					Pods: 1, Released: 1, Applied: 1, Ready: 1, Complete: true}},
			}),
			pods: pods(
				newPod("web-7d9f8c6b5-a1").of("ReplicaSet", "web-7d9f8c6b5").runs("r-web").app(),
				newPod("web-7d9f8c6b5-b2").of("ReplicaSet", "web-7d9f8c6b5").app().notInjected(),
				newPod("web-7d9f8c6b5-c3").of("ReplicaSet", "web-7d9f8c6b5").app().notInjected(),
				// nothing for the webhook to reload: it would leave it so again
				newPod("web-7d9f8c6b5-d4").of("ReplicaSet", "web-7d9f8c6b5").notInjected(),
				newPod("migrate-x1").of("Job", "migrate").app().notInjected(),
				newPod("debug").app().notInjected(),
			),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := render(func(w *strings.Builder) {
				renderStatus(w, statusView{Release: tt.release, Pods: tt.pods, ReplicaSets: webReplicaSets}, now, false)
			})
			golden(t, tt.name, got)
		})
	}
}

func TestRenderStatusColoursThePhaseAndFailuresOnly(t *testing.T) {
	rel := newRelease(appConfig, v1alpha1.ConfigReleaseStatus{Phase: v1alpha1.PhaseHalted, Stable: stableRev, Candidate: candidateRev,
		Halt:      &v1alpha1.Halt{Pod: "web-a", Cause: "reload failed", Time: before(time.Minute), RolledBack: true},
		Workloads: []v1alpha1.WorkloadStatus{webWorkload(1, 0, 0, 1)}})
	ps := pods(newPod("web-a").of("ReplicaSet", "web-7d9f8c6b5").runs("r").failed("r2", "reload failed"))
	view := statusView{Release: rel, Pods: ps, ReplicaSets: webReplicaSets}

	coloured := render(func(w *strings.Builder) { renderStatus(w, view, now, true) })
	plain := render(func(w *strings.Builder) { renderStatus(w, view, now, false) })

	assert.Contains(t, coloured, "Phase:       \x1b[31mHalted\x1b[0m\n")
	assert.Contains(t, coloured, "  web-a   stable   \x1b[31mreload failed\x1b[0m   yes     0          120m\n", "colour does not shift the columns")
	assert.Equal(t, plain, strings.NewReplacer("\x1b[31m", "", "\x1b[0m", "").Replace(coloured))
	assert.NotContains(t, plain, "\x1b[")
}

func TestConfigOf(t *testing.T) {
	progressing := v1alpha1.ConfigReleaseStatus{Phase: v1alpha1.PhaseProgressing, Stable: stableRev, Candidate: candidateRev}
	complete := v1alpha1.ConfigReleaseStatus{Phase: v1alpha1.PhaseComplete, Stable: stableRev, Candidate: stableRev}
	tests := []struct {
		name string
		pod  *podBuilder
		st   v1alpha1.ConfigReleaseStatus
		want string
	}{
		{"runs the candidate it was given", newPod("p").runs("r1").holds(appKey, candidateRev), progressing, "candidate"},
		{"applies the candidate it was given", newPod("p").releasedRev("r1").appliedRev("r0").holds(appKey, candidateRev), progressing, "candidate (applying)"},
		{"runs stable when not given the candidate", newPod("p").runs("r0"), progressing, "stable"},
		{"goes back to stable when given it again", newPod("p").releasedRev("r0").appliedRev("r1"), progressing, "stable (rolling back)"},
		{"runs stable when given an older candidate", newPod("p").runs("r0").holds(appKey, olderRev), progressing, "stable"},
		{"runs stable when given another source's candidate", newPod("p").runs("r1").holds("Secret/tls", candidateRev), progressing, "stable"},
		{"starts on stable when released nothing yet", newPod("p"), progressing, "stable"},
		{"runs stable in a complete release", newPod("p").runs("r0"), complete, "stable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.pod.build()
			assert.Equal(t, tt.want, configOf(&p, appConfig, tt.st))
		})
	}
}

func TestWorkloadOf(t *testing.T) {
	tests := []struct {
		name string
		pod  *podBuilder
		want string
	}{
		{"follows a ReplicaSet to its Deployment", newPod("p").of("ReplicaSet", "web-7d9f8c6b5"), "Deployment/web"},
		{"stops at a ReplicaSet it cannot find", newPod("p").of("ReplicaSet", "gone-1"), "ReplicaSet/gone-1"},
		{"names a StatefulSet", newPod("p").of("StatefulSet", "db"), "StatefulSet/db"},
		{"puts a pod without a controller among the bare pods", newPod("p"), "Pods"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.pod.build()
			assert.Equal(t, tt.want, workloadOf(&p, webReplicaSets))
		})
	}
}

func TestRenderList(t *testing.T) {
	rels := []v1alpha1.ConfigRelease{
		*newRelease(source{Kind: v1alpha1.SourceSecret, Name: "tls"}, v1alpha1.ConfigReleaseStatus{Phase: v1alpha1.PhaseComplete,
			Stable: olderRev, Candidate: olderRev, Summary: "1 workloads, 3 pods"}),
		*newRelease(appConfig, v1alpha1.ConfigReleaseStatus{Phase: v1alpha1.PhaseProgressing, Stable: stableRev, Candidate: candidateRev,
			Summary: "Deployment/web 1/3 (1/3 pods)"}),
		*newRelease(source{Kind: v1alpha1.SourceConfigMap, Name: "new"}, v1alpha1.ConfigReleaseStatus{}),
	}
	rels[1].Namespace = "checkout"
	rels[1].CreationTimestamp = before(10 * time.Minute)

	golden(t, "list", render(func(w *strings.Builder) { renderList(w, rels, false, now, false) }))
	golden(t, "list_all_namespaces", render(func(w *strings.Builder) { renderList(w, rels, true, now, false) }))
}

func TestPrintReleases(t *testing.T) {
	rel := newRelease(appConfig, v1alpha1.ConfigReleaseStatus{Phase: v1alpha1.PhaseComplete, Stable: stableRev, Candidate: stableRev})
	rel.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "hotreload"}}
	for _, tt := range []struct {
		name, format string
		listing      bool
	}{{"release_yaml", "yaml", false}, {"release_json", "json", false}, {"releases_yaml", "yaml", true}} {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			assert.NoError(t, printReleases(&b, tt.format, []v1alpha1.ConfigRelease{*rel}, tt.listing))
			golden(t, tt.name, b.String())
		})
	}
	assert.Equal(t, "hotreload", rel.ManagedFields[0].Manager, "the release given is left alone")
}
