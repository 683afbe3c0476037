package annotations

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Step is one canary step: an absolute count of pods, or a percentage of them.
type Step struct {
	// Count is the number of pods released by this step, when Percent is 0.
	Count int
	// Percent is the share of pods released by this step, 1 to 100.
	Percent int
}

// String formats the step as in the annotation: "3" or "25%".
func (s Step) String() string {
	if s.Percent > 0 {
		return strconv.Itoa(s.Percent) + "%"
	}
	return strconv.Itoa(s.Count)
}

// RolloutSteps is a rollout: counts (strictly increasing) then percentages
// (strictly increasing), the last one 100%.
type RolloutSteps []Step

// DefaultRollout releases every pod at once.
var DefaultRollout = RolloutSteps{{Percent: 100}}

// String formats the rollout as in the annotation: "1,25%,100%".
func (r RolloutSteps) String() string {
	s := make([]string, len(r))
	for i, st := range r {
		s[i] = st.String()
	}
	return strings.Join(s, ",")
}

// Immediate reports whether the rollout is the single step 100%: pods apply a
// change as soon as it is mounted, without waiting for a release.
func (r RolloutSteps) Immediate() bool {
	return len(r) == 1 && r[0].Percent == 100
}

// maxSteps bounds a rollout's length; more steps than this is a typo.
const maxSteps = 20

// ParseRollout parses comma-separated steps such as "1,25%,100%". Counts come
// first, then percentages; each group is strictly increasing, since a count
// after a percentage may release fewer pods than the step before it. The last
// step must be 100%.
func ParseRollout(v string) (RolloutSteps, error) {
	parts := strings.Split(v, ",")
	if len(parts) > maxSteps {
		return nil, fmt.Errorf("more than %d steps", maxSteps)
	}
	r := make(RolloutSteps, 0, len(parts))
	for _, p := range parts {
		p = strings.TrimSpace(p)
		st, err := parseStep(p)
		if err != nil {
			return nil, err
		}
		if n := len(r); n > 0 {
			prev := r[n-1]
			switch {
			case st.Percent == 0 && prev.Percent > 0:
				return nil, fmt.Errorf("count %s after a percentage", p)
			case st.Percent == 0 && st.Count <= prev.Count, st.Percent > 0 && st.Percent <= prev.Percent:
				return nil, fmt.Errorf("steps must increase, %s does not follow %s", p, prev)
			}
		}
		r = append(r, st)
	}
	if last := r[len(r)-1]; last.Percent != 100 {
		return nil, fmt.Errorf("the last step must be 100%%")
	}
	return r, nil
}

func parseStep(p string) (Step, error) {
	if num, ok := strings.CutSuffix(p, "%"); ok {
		n, err := strconv.Atoi(strings.TrimSpace(num))
		if err != nil || n < 1 || n > 100 {
			return Step{}, fmt.Errorf("%q is not a percentage from 1%% to 100%%", p)
		}
		return Step{Percent: n}, nil
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 {
		return Step{}, fmt.Errorf("%q is neither a positive count nor a percentage", p)
	}
	return Step{Count: n}, nil
}

// RolloutOf returns the rollout of a pod: its Rollout annotation, else its
// namespace's, else DefaultRollout. A malformed value is skipped with a warning.
func RolloutOf(pod, namespace map[string]string) (RolloutSteps, []Warning) {
	return merge(pod, namespace, Rollout, DefaultRollout, "invalid rollout", ParseRollout)
}

// Bounds of RolloutInterval: shorter cannot show a pod is healthy, longer is a typo.
const (
	MinRolloutInterval = time.Second
	MaxRolloutInterval = 24 * time.Hour
)

// DefaultRolloutInterval is how long each step stays healthy when
// RolloutInterval is absent or malformed.
const DefaultRolloutInterval = 30 * time.Second

// ParseRolloutInterval parses a Go duration ("30s", "2m") within
// MinRolloutInterval and MaxRolloutInterval.
func ParseRolloutInterval(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		if _, nerr := strconv.Atoi(v); nerr == nil {
			return 0, fmt.Errorf("a unit is required, e.g. %ss", v)
		}
		return 0, fmt.Errorf("not a duration such as 30s or 2m")
	}
	if d < MinRolloutInterval || d > MaxRolloutInterval {
		return 0, fmt.Errorf("must be from %v to %v", MinRolloutInterval, MaxRolloutInterval)
	}
	return d, nil
}

// RolloutIntervalOf returns the rollout interval of a pod: its RolloutInterval
// annotation, else its namespace's, else DefaultRolloutInterval. A malformed
// value is skipped with a warning.
func RolloutIntervalOf(pod, namespace map[string]string) (time.Duration, []Warning) {
	return merge(pod, namespace, RolloutInterval, DefaultRolloutInterval, "invalid interval", ParseRolloutInterval)
}

// merge returns the first of the pod's value, the namespace's value and def that
// parses, with a warning for each malformed value skipped.
func merge[T any](pod, namespace map[string]string, key string, def T, problem string, parse func(string) (T, error)) (T, []Warning) {
	type source struct {
		m  map[string]string
		ns bool
	}
	var ws []Warning
	for _, src := range []source{{pod, false}, {namespace, true}} {
		v, ok := value(src.m, key)
		if !ok {
			continue
		}
		t, err := parse(v)
		if err == nil {
			for i := range ws {
				ws[i].Used = fmt.Sprint(t)
			}
			return t, ws
		}
		ws = append(ws, Warning{Key: key, Namespace: src.ns, Value: v, Problem: problem, Detail: err.Error(), Used: fmt.Sprint(def)})
	}
	return def, ws
}

// The bounds of RevisionHistory.
const (
	DefaultRevisionHistory = 5
	MaxRevisionHistory     = 10
)

// RevisionHistoryOf returns how many revisions of each source the namespace
// keeps, with a warning when its annotation is malformed.
func RevisionHistoryOf(namespace map[string]string) (int, []Warning) {
	return merge(nil, namespace, RevisionHistory, DefaultRevisionHistory, "invalid revision history", ParseRevisionHistory)
}

// ParseRevisionHistory parses a RevisionHistory value: a whole number from 0
// to MaxRevisionHistory.
func ParseRevisionHistory(v string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 || n > MaxRevisionHistory {
		return 0, fmt.Errorf("want a whole number from 0 to %d", MaxRevisionHistory)
	}
	return n, nil
}
