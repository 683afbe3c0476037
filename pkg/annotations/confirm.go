package annotations

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// ConfirmMode is how the reloader knows the app runs a revision after it was
// told to reload.
type ConfirmMode string

// The modes of the Confirm annotation.
const (
	// ConfirmProcess: the target process is alive after the grace period.
	ConfirmProcess ConfirmMode = "process"
	// ConfirmWorkers: the target forks a child process it did not have before
	// the signal, within the bound. nginx, apache httpd, haproxy in
	// master-worker mode and php-fpm replace their workers after a reload they
	// accept, and not after one they refuse.
	ConfirmWorkers ConfirmMode = "workers"
	// ConfirmHTTP: a loopback GET answers 2xx within the bound.
	ConfirmHTTP ConfirmMode = "http"
	// ConfirmMetric: a Prometheus-text sample read by a loopback GET has the
	// wanted value within the bound.
	ConfirmMetric ConfirmMode = "metric"
)

// Confirmation is a parsed Confirm annotation. The zero Confirmation is the default of
// the delivery: ConfirmProcess for a signal, the POST's own answer for a URL.
type Confirmation struct {
	Mode ConfirmMode
	// URL is the loopback URL read by ConfirmHTTP and ConfirmMetric.
	URL string
	// Metric and Value are the sample name and the value ConfirmMetric wants.
	Metric, Value string
}

// IsZero reports whether c is the default of the delivery.
func (c Confirmation) IsZero() bool { return c == Confirmation{} }

// String formats c as the annotation's value: "process", "workers", "URL" or
// "URL NAME VALUE"; "" for the default.
func (c Confirmation) String() string {
	switch c.Mode {
	case ConfirmHTTP:
		return c.URL
	case ConfirmMetric:
		return c.URL + " " + c.Metric + " " + c.Value
	}
	return string(c.Mode)
}

// metricName is the Prometheus metric name syntax.
var metricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)

// ParseConfirm parses a Confirm annotation's value: "process", "workers" (in
// any case), a loopback http(s) URL, or a loopback URL, a metric name and a
// number separated by spaces.
func ParseConfirm(v string) (Confirmation, error) {
	f := strings.Fields(v)
	switch len(f) {
	case 0:
		return Confirmation{}, errors.New("empty")
	case 1:
		switch m := ConfirmMode(strings.ToLower(f[0])); m {
		case ConfirmProcess, ConfirmWorkers:
			return Confirmation{Mode: m}, nil
		}
		if !strings.Contains(f[0], "://") {
			return Confirmation{}, errors.New("want process, workers, a loopback URL, or a URL, a metric name and a value")
		}
		if err := CheckLoopbackURL(f[0]); err != nil {
			return Confirmation{}, fmt.Errorf("URL: %w", err)
		}
		return Confirmation{Mode: ConfirmHTTP, URL: f[0]}, nil
	case 3:
		if err := CheckLoopbackURL(f[0]); err != nil {
			return Confirmation{}, fmt.Errorf("URL: %w", err)
		}
		if !metricName.MatchString(f[1]) {
			return Confirmation{}, fmt.Errorf("%q is not a metric name", f[1])
		}
		if _, err := strconv.ParseFloat(f[2], 64); err != nil {
			return Confirmation{}, fmt.Errorf("value %q is not a number", f[2])
		}
		return Confirmation{Mode: ConfirmMetric, URL: f[0], Metric: f[1], Value: f[2]}, nil
	}
	return Confirmation{}, errors.New("want one word, or a URL, a metric name and a value")
}

// ParseConfirmFor parses a Confirm annotation's value (ParseConfirm) for a
// delivery by signal (url empty), by url, or of none, and refuses what cannot
// confirm that delivery: workers need a process that is signalled. The
// webhook and the reloader read the value with it.
func ParseConfirmFor(v string, signal SignalName, url string) (Confirmation, error) {
	c, err := ParseConfirm(v)
	switch {
	case err != nil:
		return Confirmation{}, err
	case c.Mode != ConfirmWorkers:
		return c, nil
	case url != "":
		return Confirmation{}, fmt.Errorf("workers need a signal, and %s is set", URL)
	case signal == SignalNone:
		return Confirmation{}, fmt.Errorf("workers need a signal, and %s is none", Signal)
	}
	return c, nil
}

// ConfirmOf returns the pod's Confirm annotation for a delivery by signal
// (url empty) or by url, else the delivery's default (the zero Confirmation).
func ConfirmOf(pod map[string]string, signal SignalName, url string) (Confirmation, []Warning) {
	v, ok := value(pod, Confirm)
	if !ok {
		return Confirmation{}, nil
	}
	return confirmValue(v, signal, url)
}

// confirmValue reads one value of the Confirm annotation for a delivery by
// signal (url empty) or by url.
func confirmValue(v string, signal SignalName, url string) (Confirmation, []Warning) {
	used := "process"
	if url != "" {
		used = "the reload URL's answer"
	}
	c, err := ParseConfirmFor(v, signal, url)
	if err != nil {
		return Confirmation{}, []Warning{{Key: Confirm, Value: v, Problem: "invalid confirmation", Detail: err.Error(), Used: used}}
	}
	return c, nil
}
