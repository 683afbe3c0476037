package annotations

import (
	"fmt"
	"strings"
)

// The annotations of a ConfigMap or Secret: what its owner says of how
// hotreload treats it, whichever pods mount it.

// IgnoredOf reports whether a source's annotations ask hotreload to leave it
// alone: Ignore is "true" (in any case). A value other than true or false is
// skipped with a warning.
func IgnoredOf(source map[string]string) (bool, []Warning) {
	v, ok := value(source, Ignore)
	if !ok {
		return false, nil
	}
	switch strings.ToLower(v) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, []Warning{{Key: Ignore, Value: v, Problem: "invalid value", Detail: `want "true" or "false"`, Used: "false"}}
}

// HaltPolicy is what becomes of a candidate a pod halted.
type HaltPolicy string

// The halt policies.
const (
	// HaltHold keeps the halt until the source changes or someone runs a command.
	HaltHold HaltPolicy = "hold"
	// HaltRetry retries the candidate from step 1 with backoff, a bounded
	// number of times.
	HaltRetry HaltPolicy = "retry"
)

// ParseHaltPolicy parses an OnHalt value: hold or retry, in any case.
func ParseHaltPolicy(v string) (HaltPolicy, error) { return oneOf(v, HaltHold, HaltRetry) }

// OnHaltOf returns the halt policy of a source: its OnHalt annotation, else
// its namespace's, else HaltHold. A malformed value is skipped with a warning.
func OnHaltOf(source, namespace map[string]string) (HaltPolicy, []Warning) {
	return merge(source, namespace, OnHalt, HaltHold, "invalid policy", ParseHaltPolicy)
}

// RestartPolicy is how a change that cannot reach a pod in place reaches it.
type RestartPolicy string

// The restart policies.
const (
	// RestartAuto replaces the pod in the release's steps.
	RestartAuto RestartPolicy = "auto"
	// RestartNever leaves the pod as it is: the change is not delivered to it.
	RestartNever RestartPolicy = "never"
)

// ParseRestartPolicy parses a Restart value: auto or never, in any case.
func ParseRestartPolicy(v string) (RestartPolicy, error) { return oneOf(v, RestartAuto, RestartNever) }

// oneOf parses v, in any case, as one of two words.
func oneOf[T ~string](v string, a, b T) (T, error) {
	switch p := T(strings.ToLower(strings.TrimSpace(v))); p {
	case a, b:
		return p, nil
	}
	return "", fmt.Errorf("want %s or %s", a, b)
}

// RestartOf returns the restart policy of a pod: its Restart annotation, else
// RestartAuto. A malformed value is skipped with a warning.
func RestartOf(pod map[string]string) (RestartPolicy, []Warning) {
	return merge(pod, nil, Restart, RestartAuto, "invalid policy", ParseRestartPolicy)
}
