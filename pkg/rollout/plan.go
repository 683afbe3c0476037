package rollout

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/hotreload/hotreload/pkg/annotations"
)

// Pod is what planning knows of one consuming pod, read from its labels,
// annotations and status.
type Pod struct {
	Name string
	UID  types.UID
	// Released is the hotreload/released annotation: the pod revision it may
	// apply. Holds is true when that release holds the candidate being
	// planned (hotreload/candidates).
	Released string
	Holds    bool
	// Applied is the hotreload/applied label; AppliedAt its hotreload/applied-at
	// time, zero when absent or malformed.
	Applied   string
	AppliedAt time.Time
	// Failed is the revision in hotreload/failed, FailedReason the rest; both
	// empty when the pod has none.
	Failed       string
	FailedReason string
	// Ready is the pod's Ready condition; ReadySince its last transition time.
	Ready      bool
	ReadySince time.Time
	// LastRestart is the latest time an app container terminated and was
	// restarted (its lastState.terminated.finishedAt), zero when none did.
	LastRestart time.Time
	// Created orders the pods of a workload: the newest gives its settings.
	Created time.Time
}

// Input is one workload's pods, for one candidate of one source, with its
// settings and the step it reached (0 before the first).
type Input struct {
	Candidate string
	Pods      []Pod
	Step      int
	Steps     annotations.RolloutSteps
	Interval  time.Duration
	Now       time.Time
	// Since is when the controller first saw the candidate. A holder that
	// says it applied its release at no time, or after now (give or take
	// maxClockSkew), is watched for failures from Since on (see halt).
	Since time.Time
	// StepSince is when the controller released the step reached, by its
	// own clock (the workload status's stepSince); Since stands for it when
	// zero. The gate opens no earlier than the interval after it.
	StepSince time.Time
	// Hold keeps the workload at the step it reached (a paused release):
	// pods that went away are replaced within it, nothing more is released
	// and it does not complete.
	Hold bool
	// Promote opens the gate once: the next step, or every step left, is
	// released now without waiting for the pods to settle.
	Promote Promotion
}

// Promotion is a user's promote command, as planning sees it.
type Promotion int

// The promotions.
const (
	PromoteNone Promotion = iota
	// PromoteNext releases the step after the one reached.
	PromoteNext
	// PromoteFull releases every pod left.
	PromoteFull
)

// Halt is a pod holding the candidate that failed on it.
type Halt struct {
	Pod   string
	Cause string
}

// Decision is what to do now for one workload.
type Decision struct {
	// Release names the pods to give the candidate now, in rollout order.
	Release []string
	// Step is the step reached once Release lands (1-based, of Steps);
	// Advanced is true when that is a new step.
	Step, Steps int
	Advanced    bool
	// Target is the number of pods holding the candidate once Release lands,
	// of Total.
	Target, Total int
	// Halts are the pods that halt the release, by name.
	Halts []Halt
	// Complete is true when every pod holds the candidate, applied it and has
	// been healthy for the interval at the last step.
	Complete bool
	// RequeueAt is when the gate opens, if nothing changes before; zero when
	// only a pod update can open it.
	RequeueAt time.Time
}

// Plan decides, from the workload's pods and the step it reached, what to
// release, what halts and when to look again.
//
//   - A pod that holds the candidate halts the release when it reports the
//     release failed, or, within the interval after applying it, stops being
//     Ready or restarts.
//   - Step k's target is ceil(p_k × N) of the N pods now. Below it, pods that
//     went away are replaced at once (a top-up, within the step).
//   - The next step starts when every pod holding the candidate has applied
//     its release and is Ready, and the interval has passed since the step
//     was released, by the controller's clock, and since each holder applied
//     it and became Ready, where its node's times are believable; at once on a
//     promote (never two steps for one promote: where the pods hold more
//     than the step reached says, that is the step the promote reaches); not
//     while held.
func Plan(in Input) Decision {
	d := plan(in)
	if len(d.Halts) > 0 || d.Advanced || d.Complete {
		return d
	}
	var holders []Pod
	for _, p := range in.Pods {
		if p.Holds {
			holders = append(holders, p)
		}
	}
	if w := notReadyWake(holders, in.Now); !w.IsZero() && (d.RequeueAt.IsZero() || w.Before(d.RequeueAt)) {
		d.RequeueAt = w
	}
	return d
}

// plan is Plan but for the wake of a holder not Ready for less than
// notReadyGrace.
func plan(in Input) Decision {
	steps := in.Steps
	if len(steps) == 0 {
		steps = annotations.DefaultRollout
	}
	d := Decision{Steps: len(steps), Total: len(in.Pods), Step: min(max(in.Step, 0), len(steps))}
	pods := Order(in.Pods, in.Candidate)
	var holders []Pod
	for _, p := range pods {
		if p.Holds {
			holders = append(holders, p)
		}
	}
	for _, p := range holders {
		if h, ok := halt(p, in); ok {
			d.Halts = append(d.Halts, h)
		}
	}
	if len(d.Halts) > 0 {
		slices.SortFunc(d.Halts, func(a, b Halt) int { return strings.Compare(a.Pod, b.Pod) })
		return d
	}
	if len(pods) == 0 {
		return d
	}
	targets := Targets(steps, len(pods))
	c := len(holders)
	d.Target = c
	if in.Promote != PromoteNone && d.Step < len(steps) {
		k := covered(targets, c)
		if d.Step > 0 && c > targets[d.Step-1] {
			// The pods hold a later step than the status says: its write
			// was lost after theirs. That step is what the promote reached.
			d.Step, d.Advanced = k, true
			return d
		}
		next := min(max(k, d.Step)+1, len(steps)) // the first step that needs more pods
		if in.Promote == PromoteFull {
			next = len(steps)
		}
		return releaseUpTo(d, pods, next, targets, c)
	}
	if d.Step == 0 {
		if in.Hold {
			return d
		}
		return releaseUpTo(d, pods, 1, targets, c)
	}
	if t := targets[d.Step-1]; c < t {
		d = releaseUpTo(d, pods, d.Step, targets, c) // a top-up
		d.Advanced = false
		return d
	}
	settled, at, known := gate(holders, in)
	if in.Hold {
		return d
	}
	if !settled {
		if known {
			d.RequeueAt = at
		}
		return d
	}
	next := d.Step + 1
	for next <= len(steps) && targets[next-1] <= c {
		next++
	}
	if next > len(steps) {
		d.Step, d.Complete = len(steps), c == len(pods)
		return d
	}
	return releaseUpTo(d, pods, next, targets, c)
}

// covered returns the last step whose target c pods already meet, 0 for none.
func covered(targets []int, c int) int {
	k := 0
	for k < len(targets) && targets[k] <= c {
		k++
	}
	return k
}

// releaseUpTo releases step k: pods in order until targets[k-1] hold the candidate.
func releaseUpTo(d Decision, pods []Pod, k int, targets []int, c int) Decision {
	d.Step, d.Advanced, d.Target = k, true, targets[k-1]
	for _, p := range pods {
		if len(d.Release) >= d.Target-c {
			break
		}
		if !p.Holds {
			d.Release = append(d.Release, p.Name)
		}
	}
	return d
}

// maxClockSkew is how far a node's clock may be from the controller's: a
// node's time that far ahead of now, or before the step's release, is still
// believed.
const maxClockSkew = 10 * time.Second

// released is when the step reached was released, by the controller's clock.
func (in Input) released() time.Time {
	if in.StepSince.IsZero() {
		return in.Since
	}
	return in.StepSince
}

// believable reports whether a node's time t of a holder (its applied-at, its
// Ready transition) can be of the step reached: from its release to now,
// give or take maxClockSkew. The reloader writes applied-at, so an app that
// has its sidecar's identity can write any time there, and a node's clock
// may be off.
func believable(t time.Time, in Input) bool {
	return !t.IsZero() && !t.Before(in.released().Add(-maxClockSkew)) && !t.After(in.Now.Add(maxClockSkew))
}

// notReadyGrace is how long a pod holding the candidate may be not Ready,
// without a container restart, before that halts the release: a restart of
// the node's agents (the kubelet, containerd) turns every pod of the node not
// Ready for a moment, which says nothing of the config. A restart halts at
// once.
const notReadyGrace = 5 * time.Second

// notReadyWake is when a holder not Ready now will have been so for
// notReadyGrace (its halt is decided then, if it still is), zero for none.
func notReadyWake(holders []Pod, now time.Time) time.Time {
	var wake time.Time
	for _, p := range holders {
		t := p.ReadySince.Add(notReadyGrace)
		if !p.Ready && !p.ReadySince.IsZero() && t.After(now) && (wake.IsZero() || t.Before(wake)) {
			wake = t
		}
	}
	return wake
}

// halt reports whether a pod holding the candidate halts the release: it
// failed to apply its release, or it stopped being Ready or restarted within
// the interval after the step was released (the controller's clock) or after
// it applied the release (its node's, the clock of its Ready and restart
// times): a backdated applied-at hides no failure after the release. A pod
// that says it applied the release at a time that cannot be true (after now)
// or at no time is watched from when the candidate was seen on.
func halt(p Pod, in Input) (Halt, bool) {
	if p.Failed != "" && p.Failed == p.Released {
		return Halt{Pod: p.Name, Cause: p.FailedReason}, true
	}
	if p.Applied != p.Released {
		return Halt{}, false
	}
	if at := p.AppliedAt; at.IsZero() || at.After(in.Now.Add(maxClockSkew)) {
		if what, _, ok := failure(p, in.Since, time.Time{}, in.Now); ok {
			return Halt{Pod: p.Name, Cause: what + " after the revision was released, and its hotreload/applied-at cannot be true"}, true
		}
		return Halt{}, false
	}
	if what, t, ok := failure(p, p.AppliedAt, p.AppliedAt.Add(in.Interval), in.Now); ok {
		return Halt{Pod: p.Name, Cause: fmt.Sprintf("%s %s after applying the revision", what, t.Sub(p.AppliedAt))}, true
	}
	released := in.released()
	if what, t, ok := failure(p, released, released.Add(in.Interval), in.Now); ok {
		return Halt{Pod: p.Name, Cause: fmt.Sprintf("%s %s after the step was released", what, t.Sub(released))}, true
	}
	return Halt{}, false
}

// failure returns what failed on p from start until end (no end when zero),
// and when: it stopped being Ready (and stayed so for notReadyGrace by now),
// or a container restarted.
func failure(p Pod, start, end, now time.Time) (what string, at time.Time, ok bool) {
	within := func(t time.Time) bool { return !t.IsZero() && !t.Before(start) && (end.IsZero() || t.Before(end)) }
	switch {
	case !p.Ready && within(p.ReadySince) && !now.Before(p.ReadySince.Add(notReadyGrace)):
		return "stopped being Ready", p.ReadySince, true
	case within(p.LastRestart):
		return "a container restarted", p.LastRestart, true
	}
	return "", time.Time{}, false
}

// gate reports whether every holder has run its release, Ready, for the
// interval (settled), and when the gate opens (at): the interval after the
// step's release, or after a holder's believable applied-at or Ready
// transition, whichever is latest. A time that is not believable is left
// out: it neither stalls nor skips the step. When some holder has not
// applied its release or is not Ready, known is false: only a pod update
// can open the gate.
func gate(holders []Pod, in Input) (settled bool, at time.Time, known bool) {
	at = in.released().Add(in.Interval)
	for _, p := range holders {
		if p.Applied != p.Released || !p.Ready {
			return false, time.Time{}, false
		}
		for _, t := range []time.Time{p.AppliedAt, p.ReadySince} {
			if believable(t, in) && t.Add(in.Interval).After(at) {
				at = t.Add(in.Interval)
			}
		}
	}
	return !at.After(in.Now), at, true
}

// Targets returns how many pods of n hold the candidate once each step is
// done: counts clamped to n, percentages rounded up, never fewer than the
// step before.
func Targets(steps annotations.RolloutSteps, n int) []int {
	out := make([]int, len(steps))
	prev := 0
	for i, s := range steps {
		t := s.Count
		if s.Percent > 0 {
			t = (s.Percent*n + 99) / 100
		}
		t = min(max(t, prev), n)
		out[i], prev = t, t
	}
	return out
}

// Order sorts pods by a stable hash of (UID, revision): the same revision
// always reaches the same pods first, and another revision other pods.
func Order(pods []Pod, rev string) []Pod {
	type keyed struct {
		key [sha256.Size]byte
		pod Pod
	}
	ks := make([]keyed, len(pods))
	for i, p := range pods {
		ks[i] = keyed{sha256.Sum256([]byte(string(p.UID) + "/" + rev)), p}
	}
	slices.SortFunc(ks, func(a, b keyed) int {
		if c := strings.Compare(string(a.key[:]), string(b.key[:])); c != 0 {
			return c
		}
		return strings.Compare(a.pod.Name, b.pod.Name)
	})
	out := make([]Pod, len(ks))
	for i, k := range ks {
		out[i] = k.pod
	}
	return out
}
