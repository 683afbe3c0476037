package rollout

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/release"
)

// A step of a release, read as observe → decide → act
// (docs/design/2026-12-07-controller-shape.md): Reconciler.step gathers a
// stepWorld from its caches, decideStep computes what the step does from it
// alone, and the step writes that, in the order the decision says.

// stepWorld is everything a step's decision reads, gathered once.
type stepWorld struct {
	// Status, Paused and Generation are the release's.
	Status     v1alpha1.ConfigReleaseStatus
	Paused     bool
	Generation int64
	// Namespace holds the namespace's annotations (rollout defaults).
	Namespace map[string]string
	// Pods are the consumers, each with what the step needs of it.
	Pods []stepPod
	// Source holds the source's annotations (its halt policy).
	Source map[string]string
	// Command is the pending command the step carries out, or nil.
	Command *v1alpha1.Command
	Now     time.Time
	// RetryBackoff is the wait before a halted candidate's first automatic
	// retry (hotreload/on-halt: retry).
	RetryBackoff time.Duration
	// Unavailable counts, per workload, its pods not Ready or leaving.
	Unavailable map[Workload]int
	// Replacing are the workloads with evicted pods whose replacements have
	// not come: each counts as unavailable, and their owners stay admitted,
	// until it comes.
	Replacing map[Workload]awaited
	// Rolling is, per workload, what its own update strategy says of
	// replacing its pods (rollingOf); defaultRolling for one not in it.
	Rolling map[Workload]rolling
	// NotDelivered counts, per workload, the pods that read the source in
	// ways that cannot change in place and are never replaced (no
	// controller recreates them, or hotreload/restart: never).
	NotDelivered map[Workload]int
}

// stepPod is what a step's decision knows of one consumer.
type stepPod struct {
	Workload Workload
	Name     string
	UID      types.UID
	// Annotations and Created give the workload's rollout settings: those of
	// its newest pod.
	Annotations map[string]string
	Created     time.Time
	State       Pod
	// Holds is true when the pod holds the candidate (contents.holds).
	Holds bool
	// HoldsEntry is true when its hotreload/candidates names the candidate.
	HoldsEntry bool
	// Legacy is true for a pod of contract version 1, which cannot go back
	// to stable in place.
	Legacy bool
	// Restart is true for a pod that reads the source in ways that cannot
	// change in place (env, envFrom, mounts left alone) and that can be
	// replaced; EnvCandidate and EnvStable say whether what it reads so is
	// the candidate's content and the stable revision's.
	Restart, EnvCandidate, EnvStable bool
	// Owner is its controller, as status.admit names it.
	Owner v1alpha1.PodOwner
}

// stepDecision is what a step does.
type stepDecision struct {
	// Next is the release's status once the step's writes land.
	Next v1alpha1.ConfigReleaseStatus
	// Give says, by pod UID, which pods hold the candidate after the step.
	Give map[types.UID]bool
	// Order is the workloads, in the order of their statuses.
	Order []Workload
	// Advanced are the workloads that reached a new step.
	Advanced []stepped
	// Warnings are the malformed rollout settings, said when a release's
	// first step is released; HaltWarnings the malformed halt policy, said
	// when it halts.
	Warnings, HaltWarnings []string
	// Retried, when not empty, says that the halted candidate starts again
	// from step 1 (hotreload/on-halt: retry); RetryNote, for a halt, when it
	// will, or that it will not.
	Retried, RetryNote string
	// Halt, at HaltedAt, is the pod failure that halts the release.
	Halt     *Halt
	HaltedAt Workload
	// Completes is true when the candidate becomes stable: its stable copy
	// is written before the status.
	Completes bool
	// Halting is true when this step halts the release: the status, which
	// records the halt, is written before the pods go back.
	Halting bool
	// RolledBack is true when every pod that can has just gone back to stable.
	RolledBack bool
	// NotDelivered says, once per revision (at its first step), per
	// workload with pods the release never replaces, that they keep what
	// they started with.
	NotDelivered []stepped
	// Evict are the pods replaced now, within each workload's budget: to
	// take the candidate (their owners in Next.Admit), or, halted, to go
	// back.
	Evict []stepPod
	// RequeueAt is when to look again; zero for no time.
	RequeueAt time.Time
	// Now is the time the step was decided at.
	Now time.Time
}

// decideStep is the pure decision of a step: each workload's step (Plan),
// the halt, abort or completion, the phase, the command's result and the
// counts as they stand once the writes land.
func decideStep(w stepWorld) stepDecision {
	d := stepDecision{Give: map[types.UID]bool{}, Now: w.Now}
	st := w.Status
	policy, policyWarnings := annotations.OnHaltOf(w.Source, w.Namespace)
	if at, ok := retryAt(st, policy, w.RetryBackoff); ok && !w.Now.Before(at) && st.Halt.RolledBack && !w.Paused {
		st = retried(st, w.Now)
		st.Retries++
		d.Retried = retriedText(st.Candidate, st.Retries, w.RetryBackoff)
	}
	cand := st.Candidate
	active := release.InProgress(st)
	cmd := w.Command
	promote := PromoteNone
	switch {
	case cmd == nil:
	case cmd.Action == v1alpha1.ActionPromote:
		promote = PromoteNext
	case cmd.Action == v1alpha1.ActionPromoteFull:
		promote = PromoteFull
	}
	w.Pods = pastDeadline(w, cand)
	var pods map[Workload][]stepPod
	d.Order, pods = byWorkload(w.Pods, func(p stepPod) Workload { return p.Workload })
	for _, p := range w.Pods {
		// A pod admitted on the candidate (status.admit) holds it from its
		// start: it is part of the step that replaced its predecessor.
		d.Give[p.UID] = p.Holds || p.Restart && p.EnvCandidate && !p.EnvStable
	}
	prevSteps := map[string]v1alpha1.WorkloadStatus{}
	for _, ws := range st.Workloads {
		prevSteps[release.WorkloadName(ws.Kind, ws.Name)] = ws
	}
	var since time.Time
	if st.CandidateSince != nil {
		since = st.CandidateSince.Time
	}

	var workloads []v1alpha1.WorkloadStatus
	complete := true
	for _, wl := range d.Order {
		wpods := pods[wl]
		settings := newestOf(wpods)
		steps, ws := annotations.RolloutOf(settings.Annotations, w.Namespace)
		interval, iws := annotations.RolloutIntervalOf(settings.Annotations, w.Namespace)
		d.Warnings = append(d.Warnings, annotations.Strings(append(ws, iws...))...)
		prev := prevSteps[wl.String()]
		status := v1alpha1.WorkloadStatus{Kind: wl.Kind, Name: wl.Name, Steps: int32(len(steps)), Rollout: steps.String(),
			Interval: interval.String(), Step: prev.Step, StepSince: prev.StepSince, Pods: int32(len(wpods))}
		if !active {
			status.Complete = st.Phase == v1alpha1.PhaseComplete
			workloads = append(workloads, status)
			continue
		}
		in := Input{Candidate: cand, Step: int(prev.Step), Steps: steps, Interval: interval, Now: w.Now, Since: since,
			Hold: w.Paused, Promote: promote}
		if prev.StepSince != nil {
			in.StepSince = prev.StepSince.Time
		}
		for _, p := range wpods {
			in.Pods = append(in.Pods, plannedState(p.State, d.Give[p.UID]))
		}
		plan := Plan(in)
		if len(plan.Halts) > 0 && d.Halt == nil {
			d.Halt, d.HaltedAt = &plan.Halts[0], wl
		}
		for _, name := range plan.Release {
			for _, p := range wpods {
				if p.Name == name {
					d.Give[p.UID] = true
				}
			}
		}
		if plan.Advanced && int32(plan.Step) != prev.Step {
			status.StepSince = &metav1.Time{Time: w.Now}
			released := slices.Clone(plan.Release)
			slices.Sort(released)
			what := fmt.Sprintf("%s, step %d of %d: %d of %d pods (%s)", wl, plan.Step, plan.Steps, plan.Target, plan.Total, abbreviate(released))
			if promote != PromoteNone {
				what += ", promoted by " + cmp.Or(cmd.By, "an unknown user")
			}
			d.Advanced = append(d.Advanced, stepped{wl, what})
		}
		status.Step, status.Complete = int32(plan.Step), plan.Complete
		complete = complete && plan.Complete
		if !plan.RequeueAt.IsZero() && (d.RequeueAt.IsZero() || plan.RequeueAt.Before(d.RequeueAt)) {
			d.RequeueAt = plan.RequeueAt
		}
		workloads = append(workloads, status)
	}

	if len(d.Advanced) > 0 && prevStepsAllZero(st.Workloads) {
		d.NotDelivered = notDelivered(w.NotDelivered, cand)
	}

	next := *st.DeepCopy()
	switch {
	case d.Halt != nil:
		next = halted(next, d.HaltedAt.String(), *d.Halt, w.Now)
	case cmd != nil && cmd.Action == v1alpha1.ActionAbort:
		next = aborted(next, *cmd, w.Now)
	case active && complete:
		// Every consumer ran the candidate, healthy, for its interval: it
		// becomes stable. Pods already run it; only the stable copy changes.
		d.Completes = true
		next = completed(next, w.Now)
	}
	switch {
	case next.Phase == v1alpha1.PhaseHalted:
		for uid := range d.Give {
			d.Give[uid] = false
		}
	case next.Phase == v1alpha1.PhaseProgressing && w.Paused:
		next.Phase = v1alpha1.PhasePaused
	case next.Phase == v1alpha1.PhasePaused && !w.Paused:
		next.Phase = v1alpha1.PhaseProgressing
	}
	d.Evict, next.Admit = replacements(d, pods, w, active && next.Phase != v1alpha1.PhaseHalted, next.Phase == v1alpha1.PhaseHalted)
	if cmd != nil {
		next.LastCommand = &v1alpha1.CommandResult{ID: cmd.ID, Action: cmd.Action, By: cmd.By, Done: true,
			Result: commandResult(cmd, d.Advanced, next), Time: metav1.NewTime(w.Now)}
	}

	// Counts as they stand once the writes land.
	for i, wl := range d.Order {
		for _, p := range pods[wl] {
			if d.Give[p.UID] {
				workloads[i].Released++
				if s := plannedState(p.State, true); s.Applied == s.Released && p.Holds {
					workloads[i].Applied++
				}
			}
			if p.State.Ready {
				workloads[i].Ready++
			}
		}
		workloads[i].NotDelivered = int32(w.NotDelivered[wl])
	}
	next.Workloads = workloads
	if next.Phase == v1alpha1.PhaseHalted && next.Halt != nil && !next.Halt.RolledBack && rolledBackEvery(w.Pods) {
		next.Halt.RolledBack = true
		d.RolledBack = true
	}
	if next.Phase == v1alpha1.PhaseHalted && next.Halt != nil {
		next.Halt.NextRetry = nil
		if at, ok := retryAt(next, policy, w.RetryBackoff); ok {
			next.Halt.NextRetry = &metav1.Time{Time: at}
			switch {
			case at.After(w.Now):
			case next.Halt.RolledBack && !w.Paused:
				at = w.Now // due, and every pod just went back
			default:
				at = time.Time{} // due: the pods going back, or a resume, bring it
			}
			if !at.IsZero() && (d.RequeueAt.IsZero() || at.Before(d.RequeueAt)) {
				d.RequeueAt = at
			}
		}
	}
	next.Summary = summary(next)
	next.ObservedGeneration = w.Generation
	if next.Phase != v1alpha1.PhaseHalted {
		next.Message = ""
	}
	d.Halting = next.Phase == v1alpha1.PhaseHalted && st.Phase != v1alpha1.PhaseHalted
	if d.Halting {
		d.HaltWarnings = annotations.Strings(policyWarnings)
		d.RetryNote = haltRetryText(next, policy)
	}
	d.Next = next
	return d
}

// plannedState is a pod's state for planning. A pod never released runs
// what it started on: that is its release.
func plannedState(st Pod, holds bool) Pod {
	st.Holds = holds
	if st.Released == "" {
		st.Released = st.Applied
	}
	return st
}

// rolledBackEvery reports whether no consumer of contract version 2 holds or
// runs the candidate any more: each runs what it was released.
func rolledBackEvery(pods []stepPod) bool {
	for _, p := range pods {
		if p.Legacy {
			continue // cannot go back in place; said so
		}
		if s := plannedState(p.State, false); p.HoldsEntry || s.Applied != s.Released {
			return false
		}
		if p.Restart && !p.EnvStable {
			return false // until it is replaced
		}
	}
	return true
}

// newestOf returns the newest pod of a workload: its annotations give the
// workload's rollout settings (a Deployment's new template, mid-update).
func newestOf(pods []stepPod) stepPod {
	best := pods[0]
	for _, p := range pods[1:] {
		if p.Created.After(best.Created) || p.Created.Equal(best.Created) && p.Name > best.Name {
			best = p
		}
	}
	return best
}

// replacements returns the pods to replace now and the owners whose new pods
// start on the candidate. Releasing, a pod given the candidate that does not
// read it is replaced, and its owner admitted on the candidate; halted, a
// pod that does not read stable is replaced. A pod not Ready costs nothing
// to replace (the failing one of a halt, above all); a Ready one only while
// fewer of the workload's pods than its budget are unavailable, an evicted
// pod whose replacement has not come counting as one.
func replacements(d stepDecision, pods map[Workload][]stepPod, w stepWorld, releasing, halted bool) ([]stepPod, []v1alpha1.PodOwner) {
	var evict []stepPod
	var admit []v1alpha1.PodOwner
	if releasing {
		for _, a := range w.Replacing {
			admit = append(admit, a.Owners...)
		}
	}
	for _, wl := range d.Order {
		var want []stepPod
		for _, p := range pods[wl] {
			switch {
			case !p.Restart, slices.Contains(w.Replacing[wl].Evicted, p.UID):
			case halted && !p.EnvStable:
				want = append(want, p)
			case releasing && d.Give[p.UID] && !p.EnvCandidate:
				want = append(want, p)
				admit = append(admit, p.Owner)
			}
		}
		if wl.Kind == "StatefulSet" {
			// Its own update order: the highest ordinal first.
			slices.SortStableFunc(want, func(a, b stepPod) int { return ordinal(b.Name) - ordinal(a.Name) })
		}
		free := max(rollingFor(w, wl).Unavailable, 1) - w.Unavailable[wl] - w.Replacing[wl].Pods
		for _, p := range want {
			switch {
			case !p.State.Ready:
				evict = append(evict, p)
			case free > 0:
				evict = append(evict, p)
				free--
			}
		}
	}
	if len(admit) == 0 {
		return evict, nil
	}
	return evict, sortedOwners(admit)
}

// rollingFor is workload wl's rolling as w read it; defaultRolling when not
// read.
func rollingFor(w stepWorld, wl Workload) rolling {
	if r, ok := w.Rolling[wl]; ok {
		return r
	}
	return defaultRolling
}

// pastDeadline returns w's pods with each replacement started on candidate
// cand that is still not Ready past its workload's deadline failed: it
// neither came up nor crashed (a readiness probe that never passes, an
// image never pulled), and a rolling update would call that no progress.
func pastDeadline(w stepWorld, cand string) []stepPod {
	out := slices.Clone(w.Pods)
	for i, p := range out {
		st := p.State
		deadline := rollingFor(w, p.Workload).Deadline
		if !p.Restart || st.Released != cand || st.Applied == cand || st.Failed != "" || st.Ready || w.Now.Sub(st.Created) <= deadline {
			continue
		}
		st.Applied, st.AppliedAt = cand, st.Created
		st.Failed, st.FailedReason = cand, fmt.Sprintf("not Ready %s after it started on the revision: it reads it from its environment (env, envFrom or a mount left alone)", deadline)
		out[i].State = st
	}
	return out
}

// notDelivered says, per workload with pods the release never replaces, that
// revision cand does not reach them: said at the release's first step.
func notDelivered(counts map[Workload]int, cand string) []stepped {
	var out []stepped
	for wl, n := range counts {
		out = append(out, stepped{wl, fmt.Sprintf(
			"config revision %s is not delivered to %d pods of %s: they read the source through env, envFrom or a mount left alone, and no controller recreates them, or they are annotated %s: never; they keep what they started with",
			cand, n, wl, annotations.Restart)})
	}
	slices.SortFunc(out, func(a, b stepped) int { return strings.Compare(a.workload.String(), b.workload.String()) })
	return out
}

// ordinal is a StatefulSet pod's ordinal, the number its name ends with; -1
// for a name that ends with none.
func ordinal(name string) int {
	i := strings.LastIndexByte(name, '-')
	n, err := strconv.Atoi(name[i+1:])
	if i < 0 || err != nil {
		return -1
	}
	return n
}
