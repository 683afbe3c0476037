package annotations

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Targets are the container names a per-container value is read against
// (see the package's "Per-container values": a value is a list when it
// starts with NAME= of a container of the pod, and each entry runs to the
// next ",NAME=" of one).
type Targets struct {
	// Reloaded are the containers hotreload reloads (ContainersOf), in order.
	Reloaded []string
	// All are the names of every container and init container of the pod:
	// an entry of a list starts with one of them.
	All []string
}

// entry is one NAME=VALUE of a per-container list.
type entry struct{ container, value string }

// splitEntries returns the entries of v when v is a per-container list (it
// starts with NAME= of one of the containers all), else false.
func splitEntries(v string, all []string) ([]entry, bool) {
	start := func(piece string) (entry, bool) {
		name, rest, ok := strings.Cut(piece, "=")
		name = strings.TrimSpace(name)
		if !ok || !slices.Contains(all, name) {
			return entry{}, false
		}
		return entry{container: name, value: rest}, true
	}
	var out []entry
	for i, piece := range strings.Split(v, ",") {
		if e, ok := start(piece); ok {
			out = append(out, e)
			continue
		}
		if i == 0 {
			return nil, false
		}
		out[len(out)-1].value += "," + piece
	}
	for i := range out {
		out[i].value = strings.TrimSpace(out[i].value)
	}
	return out, true
}

// perContainer reads key for each reloaded container of t: the entry naming
// it, or the value for all, parsed by parse for that container, else def.
// show formats a value for a warning. named says which containers the
// annotation gave a value, the default aside.
func perContainer[T any](pod map[string]string, key string, t Targets, def T,
	parse func(container, v string) (T, []Warning), show func(T) string,
) (out map[string]T, named map[string]bool, ws []Warning) {
	out = make(map[string]T, len(t.Reloaded))
	named = map[string]bool{}
	for _, c := range t.Reloaded {
		out[c] = def
	}
	v, ok := value(pod, key)
	if !ok {
		return out, named, nil
	}
	entries, list := splitEntries(v, t.All)
	if !list {
		return out, named, forAll(t.Reloaded, v, out, named, parse)
	}
	var unreloaded, twice, empty []string
	var entryWarnings []Warning
	for _, e := range entries {
		switch {
		case !slices.Contains(t.Reloaded, e.container):
			unreloaded = append(unreloaded, e.container)
		case named[e.container]:
			twice = append(twice, e.container)
		case e.value == "":
			empty = append(empty, e.container)
		default:
			named[e.container] = true
			got, w := parse(e.container, e.value)
			out[e.container] = got
			entryWarnings = append(entryWarnings, withContainer(w, e.container)...)
		}
	}
	var details []string
	for _, d := range []struct {
		what  string
		names []string
	}{{"not reloaded", unreloaded}, {"named twice", twice}, {"no value", empty}} {
		if len(d.names) > 0 {
			details = append(details, d.what+": "+quoteAll(d.names))
		}
	}
	if len(details) > 0 {
		ws = append(ws, Warning{Key: key, Value: v, Problem: "bad entries in", Detail: strings.Join(details, "; "), Used: assignment(t.Reloaded, out, show)})
	}
	return out, named, append(ws, entryWarnings...)
}

// forAll reads v, a value for every reloaded container, for each of them. A
// warning that holds for every container is given once, naming none.
func forAll[T any](reloaded []string, v string, out map[string]T, named map[string]bool, parse func(container, v string) (T, []Warning)) []Warning {
	if len(reloaded) == 0 {
		_, ws := parse("", v)
		return ws
	}
	each := make([][]Warning, len(reloaded))
	for i, c := range reloaded {
		out[c], each[i] = parse(c, v)
		named[c] = true
	}
	if slices.IndexFunc(each, func(w []Warning) bool { return !slices.Equal(w, each[0]) }) < 0 {
		return each[0]
	}
	var ws []Warning
	for i, c := range reloaded {
		ws = append(ws, withContainer(each[i], c)...)
	}
	return ws
}

func withContainer(ws []Warning, c string) []Warning {
	for i := range ws {
		ws[i].Container = c
	}
	return ws
}

// assignment formats the value of each container: "nginx=SIGHUP,php-fpm=SIGUSR2".
func assignment[T any](containers []string, values map[string]T, show func(T) string) string {
	if len(containers) == 0 {
		return "no container"
	}
	s := make([]string, len(containers))
	for i, c := range containers {
		s[i] = fmt.Sprintf("%s=%s", c, show(values[c]))
	}
	return strings.Join(s, ",")
}

// SignalsOf returns the signal of each reloaded container (SignalOf, per
// container), DefaultSignal where the annotation names none.
func SignalsOf(pod map[string]string, t Targets) (map[string]SignalName, []Warning) {
	out, _, ws := signalsOf(pod, t)
	return out, ws
}

func signalsOf(pod map[string]string, t Targets) (map[string]SignalName, map[string]bool, []Warning) {
	return perContainer(pod, Signal, t, DefaultSignal,
		func(_, v string) (SignalName, []Warning) { return signalValue(v) },
		func(s SignalName) string { return string(s) })
}

// URLsOf returns the reload URL of each reloaded container (URLOf, per
// container), "" (the signal) where the annotation names none.
func URLsOf(pod map[string]string, t Targets) (map[string]string, []Warning) {
	return values(perContainer(pod, URL, t, "",
		func(_, v string) (string, []Warning) { return urlValue(v) },
		func(u string) string { return cmp.Or(u, "the signal") }))
}

// ProcessesOf returns the process regexp of each reloaded container
// (ProcessOf, per container), "" (its main process) where the annotation
// names none.
func ProcessesOf(pod map[string]string, t Targets) (map[string]string, []Warning) {
	return values(perContainer(pod, Process, t, "",
		func(_, v string) (string, []Warning) { return processValue(v) },
		func(p string) string { return cmp.Or(p, "the main process") }))
}

// ValidatesOf returns the check of each reloaded container (ValidateOf, per
// container), nil (none) where the annotation names none.
func ValidatesOf(pod map[string]string, t Targets) (map[string][]string, []Warning) {
	return values(perContainer(pod, Validate, t, nil,
		func(_, v string) ([]string, []Warning) { return validateValue(v) },
		func(c []string) string { return cmp.Or(strings.Join(c, " "), "no validation") }))
}

// ConfirmsOf returns the confirmation of each reloaded container (ConfirmOf,
// per container) for its delivery by signal (its URL empty) or by URL, the
// delivery's default (the zero Confirmation) where the annotation names none.
func ConfirmsOf(pod map[string]string, t Targets, signals map[string]SignalName, urls map[string]string) (map[string]Confirmation, []Warning) {
	return values(perContainer(pod, Confirm, t, Confirmation{},
		func(c, v string) (Confirmation, []Warning) { return confirmValue(v, signals[c], urls[c]) },
		func(c Confirmation) string { return cmp.Or(c.String(), "the default") }))
}

func values[T any](out map[string]T, _ map[string]bool, ws []Warning) (map[string]T, []Warning) {
	return out, ws
}
