package annotations

// Delivery is how one reloaded container is told of a new revision, as the
// pod's annotations say.
type Delivery struct {
	// Signal is a canonical signal name or SignalNone; "" when URL is set.
	Signal SignalName
	// URL is the loopback URL to POST instead of a signal.
	URL string
	// Process is a regexp on the command line picking the process to
	// signal; "" for the container's main process.
	Process string
	// Confirm is how the app's acceptance is known; the zero value is the
	// delivery's default.
	Confirm Confirmation
}

// DeliveriesOf returns the delivery of each reloaded container, from Signal,
// URL, Process and Confirm, each a value for all or a per-container list. A
// container with a URL gets no signal: a signal given for it is ignored with
// a warning (once, naming no container, when one value for all is ignored
// for every container).
func DeliveriesOf(pod map[string]string, t Targets) (map[string]Delivery, []Warning) {
	signals, signalNamed, ws := signalsOf(pod, t)
	urls, w := URLsOf(pod, t)
	ws = append(ws, w...)
	ws = append(ws, ignoredSignals(pod, t, signalNamed, urls)...)
	for c, u := range urls {
		if u != "" {
			signals[c] = ""
		}
	}
	processes, w := ProcessesOf(pod, t)
	ws = append(ws, w...)
	confirms, w := ConfirmsOf(pod, t, signals, urls)
	ws = append(ws, w...)
	out := make(map[string]Delivery, len(t.Reloaded))
	for _, c := range t.Reloaded {
		out[c] = Delivery{Signal: signals[c], URL: urls[c], Process: processes[c], Confirm: confirms[c]}
	}
	return out, ws
}

// ignoredSignals warns about the signals given for containers that have a
// URL. A value for all is ignored only where every container has a URL; it
// is the signal of the others.
func ignoredSignals(pod map[string]string, t Targets, named map[string]bool, urls map[string]string) []Warning {
	v, ok := value(pod, Signal)
	if !ok {
		return nil
	}
	entries, list := splitEntries(v, t.All)
	if !list {
		for _, c := range t.Reloaded {
			if urls[c] == "" {
				return nil
			}
		}
		return []Warning{{Key: Signal, Value: v, Problem: "ignored signal", Detail: URL + " is set", Used: "the URL"}}
	}
	var ws []Warning
	warned := map[string]bool{}
	for _, e := range entries {
		if c := e.container; named[c] && urls[c] != "" && !warned[c] {
			warned[c] = true
			ws = append(ws, Warning{Key: Signal, Value: e.value, Container: c, Problem: "ignored signal", Detail: URL + " is set for it", Used: "the URL"})
		}
	}
	return ws
}
