package plugin

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/mutate"
	"github.com/hotreload/hotreload/pkg/release"
)

// statusView is what status shows of one release: the release, and the pods
// and ReplicaSets of its namespace (renderStatus picks those of the source).
type statusView struct {
	Release     *v1alpha1.ConfigRelease
	Pods        []corev1.Pod
	ReplicaSets []metav1.PartialObjectMetadata
}

// failedWidth is how much of a pod's hotreload/failed reason status shows.
const failedWidth = 48

// renderStatus prints one release at a glance: its source, phase and halt,
// revisions and last command; per workload its step, the warnings its pods
// were admitted with and its pods; and what to do next.
func renderStatus(w io.Writer, v statusView, now time.Time, colour bool) {
	rel, st := v.Release, v.Release.Status
	s := sourceOf(rel)
	head := &table{colour: colour}
	head.add("Source:", fmt.Sprintf("%s in namespace %s", s, rel.Namespace))
	head.addCells(cell{text: "Phase:"}, cell{text: phaseText(rel), c: phaseColour(st.Phase)})
	if h := st.Halt; h != nil && st.Phase == v1alpha1.PhaseHalted {
		head.add("Halt:", haltText(h, now))
		if h.NextRetry != nil {
			head.add("Retry:", retryText(*h.NextRetry, st.Retries, now))
		}
	}
	head.add("Stable:", cmp.Or(st.Stable, "-"))
	if st.Candidate == "" || st.Candidate == st.Stable {
		head.add("Candidate:", "none: the source holds the stable revision")
	} else {
		seen := ""
		if st.CandidateSince != nil {
			seen = ", seen " + ago(*st.CandidateSince, now)
		}
		head.add("Candidate:", st.Candidate+seen)
	}
	if lc := st.LastCommand; lc != nil {
		head.add("Last command:", fmt.Sprintf("%s by %s, %s: %s", lc.Action, cmp.Or(lc.By, "an unknown user"), ago(lc.Time, now), lc.Result))
	}
	if c := rel.Spec.Command; c != nil && (st.LastCommand == nil || st.LastCommand.ID != c.ID) {
		head.add("Pending:", fmt.Sprintf("%s by %s, not carried out yet", c.Action, cmp.Or(c.By, "an unknown user")))
	}
	if st.Message != "" {
		head.add("Message:", st.Message)
	}
	head.write(w)

	groups, without := map[string][]*corev1.Pod{}, map[string][]*corev1.Pod{}
	for _, p := range consumers(v.Pods, s) {
		name := workloadOf(p, v.ReplicaSets)
		groups[name] = append(groups[name], p)
	}
	for _, p := range uninjected(v.Pods, s) {
		name := workloadOf(p, v.ReplicaSets)
		without[name] = append(without[name], p)
	}
	for _, ws := range st.Workloads {
		name := release.WorkloadName(ws.Kind, ws.Name)
		printf(w, "\n%s  %s  %s: %d released, %d applied, %d ready\n", name, stepText(ws), count(int(ws.Pods), "pod"), ws.Released, ws.Applied, ws.Ready)
		writeWarnings(w, groups[name])
		writeWithoutSidecar(w, without[name])
		writePods(w, groups[name], s, st, now, colour)
		delete(groups, name)
		delete(without, name)
	}
	for _, name := range slices.Sorted(maps.Keys(groups)) {
		printf(w, "\n%s  not in the release yet  %s\n", name, count(len(groups[name]), "pod"))
		writeWarnings(w, groups[name])
		writeWithoutSidecar(w, without[name])
		writePods(w, groups[name], s, st, now, colour)
		delete(without, name)
	}
	for _, name := range slices.Sorted(maps.Keys(without)) {
		printf(w, "\n%s  not in the release\n", name)
		writeWithoutSidecar(w, without[name])
	}
	fmt.Fprintln(w)
	writeNext(w, rel)
}

// phaseText is the phase, and whether the release is paused when the phase
// does not say so.
func phaseText(rel *v1alpha1.ConfigRelease) string {
	p := cmp.Or(string(rel.Status.Phase), "Unknown (the controller has not written it yet)")
	if rel.Spec.Paused && rel.Status.Phase != v1alpha1.PhasePaused {
		p += " (paused)"
	}
	return p
}

// haltText says what halted the release, when, and whether every pod is
// back on stable.
func haltText(h *v1alpha1.Halt, now time.Time) string {
	var what string
	switch {
	case h.Pod != "" && h.Workload != "":
		what = fmt.Sprintf("pod %s of %s: %s", h.Pod, h.Workload, h.Cause)
	case h.Pod != "":
		what = fmt.Sprintf("pod %s: %s", h.Pod, h.Cause)
	default:
		what = cmp.Or(h.Cause, "aborted by "+cmp.Or(h.By, "an unknown user"))
	}
	back := "rolled back"
	if !h.RolledBack {
		back = "rolling back: some pods still run the candidate"
	}
	return fmt.Sprintf("%s, %s; %s", what, ago(h.Time, now), back)
}

// retryText says when the automatic retry of a halted candidate comes
// (hotreload/on-halt: retry), the retries before it counted.
func retryText(at metav1.Time, retries int32, now time.Time) string {
	when := "now"
	if at.After(now) {
		when = "in " + duration.HumanDuration(at.Sub(now))
	}
	return fmt.Sprintf("from step 1 %s, once every pod is back on stable (retry %d of %d, %s: %s)",
		when, retries+1, release.RetryLimit, annotations.OnHalt, annotations.HaltRetry)
}

// stepText is a workload's step and its settings: "step 1 of 3 (1,50%,100%;
// interval 30s)".
func stepText(ws v1alpha1.WorkloadStatus) string {
	t := fmt.Sprintf("step %d of %d", ws.Step, ws.Steps)
	if ws.Complete {
		t += ", complete"
	}
	var settings []string
	if ws.Rollout != "" {
		settings = append(settings, ws.Rollout)
	}
	if ws.Interval != "" {
		settings = append(settings, "interval "+ws.Interval)
	}
	if len(settings) > 0 {
		t += " (" + strings.Join(settings, "; ") + ")"
	}
	if ws.NotDelivered > 0 {
		t += fmt.Sprintf("; not delivered to %d of its pods (they read it through env, envFrom or a mount left alone, and no controller recreates them, or %s: never)",
			ws.NotDelivered, annotations.Restart)
	}
	return t
}

// writeWarnings prints the warnings a workload's pods were admitted with,
// each with how many of them carry it (the controller says each once per
// template, as an AdmissionWarning Event on the workload).
func writeWarnings(w io.Writer, pods []*corev1.Pod) {
	ws := admissionWarnings(pods)
	if len(ws) == 0 {
		return
	}
	fmt.Fprintln(w, "  Admitted with warnings:")
	t := &table{indent: "    "}
	for _, pw := range ws {
		t.add(fmt.Sprintf("%d of %s", pw.pods, count(len(pods), "pod")), pw.text)
	}
	t.write(w)
}

// writeWithoutSidecar says which of a workload's pods were admitted without
// the sidecar, and whether and why not the controller replaces them.
func writeWithoutSidecar(w io.Writer, pods []*corev1.Pod) {
	if len(pods) == 0 {
		return
	}
	byWhy := map[string][]string{}
	for _, p := range pods {
		why := release.NotRecreated(p)
		if why == "" {
			why = mutate.LeftWithoutSidecar(p)
		}
		byWhy[why] = append(byWhy[why], p.Name)
	}
	fmt.Fprintln(w, "  Admitted without the sidecar (they do not reload):")
	t := &table{indent: "    "}
	for _, why := range slices.Sorted(maps.Keys(byWhy)) {
		then := "replaced one at a time once the webhook admits this workload's pods again"
		if why != "" {
			then = "not replaced: " + why + "; recreate them to have them injected"
		}
		t.add(strings.Join(byWhy[why], ", "), then)
	}
	t.write(w)
}

// writePods prints a table of a workload's pods: what each runs of the
// source, its failure, readiness, restarts and age.
func writePods(w io.Writer, pods []*corev1.Pod, s source, st v1alpha1.ConfigReleaseStatus, now time.Time, colour bool) {
	if len(pods) == 0 {
		return
	}
	t := &table{indent: "  ", colour: colour}
	t.add("NAME", "CONFIG", "FAILED", "READY", "RESTARTS", "AGE")
	for _, p := range pods {
		failed := ""
		if _, reason, ok := annotations.FailedOf(p.Annotations); ok {
			failed = shorten(cmp.Or(reason, "failed"), failedWidth)
		}
		ready := "no"
		if isReady(p) {
			ready = "yes"
		}
		t.addCells(cell{text: p.Name}, cell{text: configOf(p, s, st)}, cell{text: failed, c: red},
			cell{text: ready}, cell{text: fmt.Sprint(restarts(p))}, cell{text: age(p.CreationTimestamp, now)})
	}
	t.write(w)
}

// writeNext says what the user can do next, by phase.
func writeNext(w io.Writer, rel *v1alpha1.ConfigRelease) {
	s, st := sourceOf(rel), rel.Status
	cmd := func(verb string) string { return fmt.Sprintf("kubectl hotreload %s %s -n %s", verb, s, rel.Namespace) }
	t := &table{indent: "  "}
	switch st.Phase {
	case v1alpha1.PhaseProgressing:
		fmt.Fprintln(w, "Next: wait: each step goes on once its pods ran the candidate healthy for the interval; or")
		t.add(cmd("promote"), "release each workload's next step now (--full: every pod)")
		t.add(cmd("pause"), "hold the release at the step each workload reached")
		t.add(cmd("abort"), "halt it now and put every pod back on stable")
	case v1alpha1.PhasePaused:
		fmt.Fprintln(w, "Next: the release is paused: nothing more is released until it is resumed")
		t.add(cmd("resume"), "go on from the step each workload reached")
		t.add(cmd("promote"), "or release each workload's next step now")
		t.add(cmd("abort"), "or halt it and put every pod back on stable")
	case v1alpha1.PhaseHalted:
		wait := ""
		if st.Halt != nil && st.Halt.NextRetry != nil {
			wait = "wait for the retry above; or "
		}
		printf(w, "Next: %sfix %s and edit it (its new content starts a new release); or\n", wait, s)
		t.add(cmd("retry"), fmt.Sprintf("release revision %s again from step 1, if the cause was not the config", st.Candidate))
		t.add(cmd("undo"), fmt.Sprintf("write stable revision %s back into the source", st.Stable))
	case v1alpha1.PhaseComplete:
		printf(w, "Next: nothing to do: every pod runs stable revision %s, the source's content.\n", st.Stable)
	default:
		fmt.Fprintln(w, "Next: wait for the controller to write the release's status; is it running? (kubectl -n hotreload-system get pods)")
	}
	if rel.Spec.Paused && st.Phase != v1alpha1.PhasePaused {
		t.add(cmd("resume"), "the release is paused: a new candidate is held at step 0 until resumed")
	}
	t.write(w)
}

// renderList prints one line per release: its source, phase, revisions,
// progress and age, with the namespace first when listing all of them.
func renderList(w io.Writer, rels []v1alpha1.ConfigRelease, allNamespaces bool, now time.Time, colour bool) {
	rels = slices.Clone(rels)
	slices.SortFunc(rels, func(a, b v1alpha1.ConfigRelease) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(sourceOf(&a).String(), sourceOf(&b).String()))
	})
	t := &table{colour: colour}
	header := []string{"SOURCE", "PHASE", "STABLE", "CANDIDATE", "PROGRESS", "AGE"}
	if allNamespaces {
		header = append([]string{"NAMESPACE"}, header...)
	}
	t.add(header...)
	for i := range rels {
		st := rels[i].Status
		candidate := st.Candidate
		if candidate == st.Stable {
			candidate = "-"
		}
		row := []cell{{text: sourceOf(&rels[i]).String()}, {text: cmp.Or(string(st.Phase), "-"), c: phaseColour(st.Phase)},
			{text: cmp.Or(st.Stable, "-")}, {text: cmp.Or(candidate, "-")}, {text: cmp.Or(st.Summary, "-")}, {text: age(rels[i].CreationTimestamp, now)}}
		if allNamespaces {
			row = append([]cell{{text: rels[i].Namespace}}, row...)
		}
		t.addCells(row...)
	}
	t.write(w)
}
