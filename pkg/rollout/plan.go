package rollout

import (
	"crypto/sha256"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/hotreload/hotreload/pkg/annotations"
)

// Pod is what planning knows of one pod, read from its labels, annotations
// and status.
type Pod struct {
	Name string
	UID  types.UID
	// Released is the hotreload/released annotation.
	Released string
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
}

// Input is one rollout unit: the pods of one group whose desired revision is
// Revision, with the group's settings.
type Input struct {
	Revision string
	Pods     []Pod
	Steps    annotations.RolloutSteps
	Interval time.Duration
	Now      time.Time
}

// Halt is a released pod that halts the rollout.
type Halt struct {
	Pod   string
	Cause string
	// Announced is true when the pod's hotreload/failed already says that the
	// rollout halted: the Event was recorded and nothing is left to write.
	Announced bool
}

// Decision is what to do now for one rollout unit.
type Decision struct {
	// Release names the pods to release now, in rollout order.
	Release []string
	// Step is the 1-based step Release belongs to, of Steps; Target is the
	// number of pods released once Release lands, of Total.
	Step, Steps   int
	Target, Total int
	// Started is true when Release is the revision's first release.
	Started bool
	// Halts are the released pods that halt the rollout, by name.
	Halts []Halt
	// Complete is true when every pod runs the revision and has been healthy
	// for the interval since CompletedAt minus the interval. StartedAt is the
	// earliest applied-at of a released pod (zero when no pod was released).
	Complete    bool
	CompletedAt time.Time
	StartedAt   time.Time
	// RequeueAt is when the gate opens, if nothing changes before; zero when
	// the next change can only come from a pod update.
	RequeueAt time.Time
	// UnderWay is true while the revision is still rolling out: a pod has
	// yet to be released or to apply it, or one it was released to is within
	// its interval. A group that rolled out long ago and where a pod is not
	// Ready now is not under way.
	UnderWay bool
}

// haltedSuffix ends the hotreload/failed reason of a pod once the halt it
// causes was announced, so that a restarted controller does not announce it again.
const haltedSuffix = "; rollout halted"

// Plan decides, from the pods' state alone, what to release, what halts and
// when to look again.
func Plan(in Input) Decision {
	if len(in.Steps) == 0 {
		in.Steps = annotations.DefaultRollout
	}
	d := Decision{Steps: len(in.Steps), Total: len(in.Pods)}
	if len(in.Pods) == 0 {
		return d
	}
	pods := Order(in.Pods, in.Revision)
	rev := in.Revision

	var released []Pod
	d.Started = true
	for _, p := range pods {
		if p.Released == rev {
			d.Started = false
		}
		if isReleased(p, rev) {
			released = append(released, p)
		}
	}
	for _, p := range released {
		if h, ok := halt(p, rev, in.Interval); ok {
			d.Halts = append(d.Halts, h)
		}
		if p.Released == rev && !p.AppliedAt.IsZero() && p.Applied == rev && (d.StartedAt.IsZero() || p.AppliedAt.Before(d.StartedAt)) {
			d.StartedAt = p.AppliedAt
		}
	}
	if len(d.Halts) > 0 {
		slices.SortFunc(d.Halts, func(a, b Halt) int { return strings.Compare(a.Pod, b.Pod) })
		return d
	}

	if in.Steps.Immediate() {
		// Everything at once, with no gate. A pod whose reloader applied the
		// mounted revision before its release is released too when it carries
		// an older release, so that no pod is left holding a stale one.
		for _, p := range pods {
			if !isReleased(p, rev) || (p.Released != "" && p.Released != rev) {
				d.Release = append(d.Release, p.Name)
			}
		}
		if len(d.Release) > 0 {
			d.Step, d.Target, d.UnderWay = 1, len(pods), true
			return d
		}
	}
	settled, at, known := gate(released, rev, in.Interval, in.Now)
	c := len(released)
	d.UnderWay = c < len(pods) || slices.ContainsFunc(released, func(p Pod) bool {
		return p.Released == rev && (p.Applied != rev || in.Now.Before(p.AppliedAt.Add(in.Interval)))
	})
	if c == len(pods) {
		if settled {
			d.Complete, d.CompletedAt, d.UnderWay = true, at, false
		} else if known {
			d.RequeueAt = at
		}
		return d
	}
	targets := Targets(in.Steps, len(pods))
	k := slices.IndexFunc(targets, func(t int) bool { return t > c })
	if !settled {
		if known {
			d.RequeueAt = at
		}
		return d
	}
	d.Step, d.Target = k+1, targets[k]
	for _, p := range pods {
		if len(d.Release) == d.Target-c {
			break
		}
		if !isReleased(p, rev) {
			d.Release = append(d.Release, p.Name)
		}
	}
	return d
}

// isReleased reports whether the pod counts as released at rev: released to
// it, or already running it (a pod created during the rollout starts on what
// is mounted then). A pod whose last release failed does not run rev even if
// its label says so: its live copy holds the failed revision, so a revert must
// be released to it again.
func isReleased(p Pod, rev string) bool {
	if p.Released == rev {
		return true
	}
	failedLast := p.Released != "" && p.Failed == p.Released
	return p.Applied == rev && !failedLast
}

// halt reports whether a released pod halts the rollout of rev: it failed to
// apply rev, or within the interval after applying a release of rev, it
// stopped being Ready or restarted. A pod that started on rev (created during
// the rollout) was never reloaded: its start-up is not the reload's doing.
func halt(p Pod, rev string, interval time.Duration) (Halt, bool) {
	if p.Failed == rev {
		return Halt{Pod: p.Name, Cause: strings.TrimSuffix(p.FailedReason, haltedSuffix), Announced: strings.HasSuffix(p.FailedReason, haltedSuffix)}, true
	}
	if p.Released != rev || p.Applied != rev || p.AppliedAt.IsZero() {
		return Halt{}, false
	}
	end := p.AppliedAt.Add(interval)
	within := func(t time.Time) bool { return !t.IsZero() && !t.Before(p.AppliedAt) && t.Before(end) }
	switch {
	case !p.Ready && within(p.ReadySince):
		return Halt{Pod: p.Name, Cause: "stopped being Ready " + p.ReadySince.Sub(p.AppliedAt).String() + " after applying the revision"}, true
	case within(p.LastRestart):
		return Halt{Pod: p.Name, Cause: "a container restarted " + p.LastRestart.Sub(p.AppliedAt).String() + " after applying the revision"}, true
	}
	return Halt{}, false
}

// gate reports whether every released pod has run rev, Ready, for the
// interval (settled), and when the last of them does (at). When some pod has
// not applied rev or is not Ready, known is false: only a pod update can open
// the gate.
func gate(released []Pod, rev string, interval time.Duration, now time.Time) (settled bool, at time.Time, known bool) {
	for _, p := range released {
		if p.Applied != rev || p.AppliedAt.IsZero() || !p.Ready {
			return false, time.Time{}, false
		}
		since := p.AppliedAt
		if p.ReadySince.After(since) {
			since = p.ReadySince
		}
		if t := since.Add(interval); t.After(at) {
			at = t
		}
	}
	return !at.After(now), at, true
}

// Targets returns how many pods of n are released once each step is done:
// counts clamped to n, percentages rounded up, never fewer than the step
// before.
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
