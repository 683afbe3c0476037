package annotations

import (
	"strings"
)

// SignalName is a canonical signal name ("SIGHUP"), or SignalNone.
type SignalName string

const (
	// SignalNone means no signal: the app watches its files itself.
	SignalNone SignalName = "none"
	// DefaultSignal is sent when Signal is absent or malformed.
	DefaultSignal SignalName = "SIGHUP"
)

// signals maps the standard Linux signals, without their SIG prefix, to their
// numbers on Linux amd64 and arm64.
var signals = map[string]int{
	"HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "IOT": 6,
	"BUS": 7, "FPE": 8, "USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13,
	"ALRM": 14, "TERM": 15, "STKFLT": 16, "CHLD": 17, "CONT": 18, "TSTP": 20,
	"TTIN": 21, "TTOU": 22, "URG": 23, "XCPU": 24, "XFSZ": 25, "VTALRM": 26,
	"PROF": 27, "WINCH": 28, "IO": 29, "POLL": 29, "PWR": 30, "SYS": 31,
}

// stopping are signals that stop or kill a process rather than reload it.
var stopping = map[string]bool{"KILL": true, "STOP": true}

// Number returns the signal's number on Linux, or 0 for SignalNone.
func (s SignalName) Number() int {
	return signals[strings.TrimPrefix(string(s), "SIG")]
}

// ParseSignal returns the canonical name of a signal given as "SIGHUP", "HUP"
// or any case variant of them, or SignalNone for "none". ok is false for
// anything else, including SIGKILL and SIGSTOP, which stop a process instead of
// reloading it.
func ParseSignal(v string) (s SignalName, ok bool) {
	v = strings.TrimSpace(v)
	if strings.EqualFold(v, string(SignalNone)) {
		return SignalNone, true
	}
	name := strings.TrimPrefix(strings.ToUpper(v), "SIG")
	if _, ok := signals[name]; !ok {
		return "", false
	}
	return SignalName("SIG" + name), true
}

// SignalOf returns the signal named by the pod's Signal annotation, else
// DefaultSignal.
func SignalOf(pod map[string]string) (SignalName, []Warning) {
	v, ok := value(pod, Signal)
	if !ok {
		return DefaultSignal, nil
	}
	if s, ok := ParseSignal(v); ok {
		return s, nil
	}
	w := Warning{Key: Signal, Value: v, Problem: "unknown signal", Used: string(DefaultSignal)}
	if stopping[strings.TrimPrefix(strings.ToUpper(v), "SIG")] {
		w.Problem = "unsupported signal"
		w.Detail = "it stops the process instead of reloading it"
	}
	return DefaultSignal, []Warning{w}
}
