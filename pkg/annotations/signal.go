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

// signals are the standard Linux signals a process can catch, without their
// SIG prefix, by the names golang.org/x/sys/unix gives them: the reloader
// resolves a canonical name with unix.SignalNum, and a test checks that every
// name here resolves.
var signals = map[string]bool{
	"HUP": true, "INT": true, "QUIT": true, "ILL": true, "TRAP": true, "ABRT": true,
	"BUS": true, "FPE": true, "USR1": true, "SEGV": true, "USR2": true, "PIPE": true,
	"ALRM": true, "TERM": true, "STKFLT": true, "CHLD": true, "CONT": true, "TSTP": true,
	"TTIN": true, "TTOU": true, "URG": true, "XCPU": true, "XFSZ": true, "VTALRM": true,
	"PROF": true, "WINCH": true, "IO": true, "PWR": true, "SYS": true,
}

// aliases are other names of the same Linux signals; they are written with
// the canonical name.
var aliases = map[string]string{"IOT": "ABRT", "POLL": "IO", "CLD": "CHLD"}

// stopping are signals that stop or kill a process rather than reload it:
// no process can catch them.
var stopping = map[string]bool{"KILL": true, "STOP": true}

// SignalNames returns every canonical signal name ParseSignal accepts, but
// SignalNone.
func SignalNames() []SignalName {
	out := make([]SignalName, 0, len(signals))
	for s := range signals {
		out = append(out, SignalName("SIG"+s))
	}
	return out
}

// ParseSignal returns the canonical name of a signal given as "SIGHUP", "HUP",
// an alias ("SIGIOT" is SIGABRT) or any case variant of them, or SignalNone for
// "none". ok is false for anything else, including SIGKILL and SIGSTOP, which
// stop a process instead of reloading it.
func ParseSignal(v string) (s SignalName, ok bool) {
	v = strings.TrimSpace(v)
	if strings.EqualFold(v, string(SignalNone)) {
		return SignalNone, true
	}
	name := strings.TrimPrefix(strings.ToUpper(v), "SIG")
	if a, ok := aliases[name]; ok {
		name = a
	}
	if !signals[name] {
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
	return signalValue(v)
}

// signalValue reads one value of the Signal annotation.
func signalValue(v string) (SignalName, []Warning) {
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
