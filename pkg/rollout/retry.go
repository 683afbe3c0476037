package rollout

import (
	"fmt"
	"time"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/release"
)

// The halt policy (hotreload/on-halt, docs/design/2026-12-07-ignore-and-on-halt.md):
// with retry, a candidate a pod halted is retried from step 1, as the retry
// command does, once the backoff has passed since the halt and every pod
// went back to stable, up to RetryLimit times; a paused release waits until
// it is resumed.

const (
	// DefaultRetryBackoff is how long after a candidate's first halt it is
	// retried; each later wait doubles, up to retryBackoffCap times it.
	DefaultRetryBackoff = time.Minute
	// RetryLimit is how many automatic retries a candidate gets: waits of 1,
	// 2, 4, 8, 16, 30, 30 and 30 minutes, about two hours in all.
	RetryLimit = release.RetryLimit
	// retryBackoffCap bounds each wait, as a multiple of the first.
	retryBackoffCap = 30
)

// retryDelay is how long after a halt the retry that follows n earlier
// ones comes: base doubled n times, at most retryBackoffCap times base.
// (wait.Backoff steps through delays; this is the n-th, from nothing.)
func retryDelay(base time.Duration, n int32) time.Duration {
	d := base
	for range n {
		d = min(2*d, retryBackoffCap*base)
	}
	return d
}

// retryAt returns when the halted candidate of a release in state st is
// retried under policy p (base the first wait), and false when the halt
// holds: the policy is hold, a user aborted it, the halted revision is not
// the candidate, or its retries are spent.
func retryAt(st v1alpha1.ConfigReleaseStatus, p annotations.HaltPolicy, base time.Duration) (time.Time, bool) {
	h := st.Halt
	if p != annotations.HaltRetry || st.Phase != v1alpha1.PhaseHalted || h == nil || h.Pod == "" ||
		h.Revision != st.Candidate || st.Retries >= RetryLimit {
		return time.Time{}, false
	}
	return h.Time.Add(retryDelay(base, st.Retries)), true
}

// retriedText says what an automatic retry, the n-th, does, and what comes
// should the candidate halt again.
func retriedText(cand string, n int32, base time.Duration) string {
	msg := fmt.Sprintf("%s: %s: config revision %s starts again from step 1, retry %d of %d", annotations.OnHalt, annotations.HaltRetry, cand, n, RetryLimit)
	if n >= RetryLimit {
		return msg + ", the last: should it halt again, the halt holds"
	}
	return msg + fmt.Sprintf("; should it halt again, the next retry comes %s after that halt", retryDelay(base, n))
}

// haltRetryText says, after a halt under policy p, when the candidate is
// retried, or that its retries are spent; "" when the policy holds.
func haltRetryText(st v1alpha1.ConfigReleaseStatus, p annotations.HaltPolicy) string {
	switch {
	case p != annotations.HaltRetry || st.Halt == nil || st.Halt.Pod == "":
		return ""
	case st.Halt.NextRetry == nil:
		return fmt.Sprintf("%s: %s: its %d retries are spent, the halt holds", annotations.OnHalt, annotations.HaltRetry, RetryLimit)
	}
	return fmt.Sprintf("%s: %s: retried from step 1 at %s, once every pod is back on stable (retry %d of %d)",
		annotations.OnHalt, annotations.HaltRetry, st.Halt.NextRetry.UTC().Format(time.RFC3339), st.Retries+1, RetryLimit)
}
