package contract

import (
	"cmp"
	"flag"
	"fmt"
	"slices"
	"strings"

	"github.com/hotreload/hotreload/pkg/annotations"
)

// Delivery is how the app is told: a signal, a loopback URL to POST, or
// nothing (annotations.SignalNone).
type Delivery struct {
	// Signal is a canonical signal name or annotations.SignalNone; empty when URL is set.
	Signal annotations.SignalName
	URL    string
	// Process is a regexp on the command line picking the process to
	// signal; empty for the container's main process.
	Process string
	// Confirm is how the reloader knows the app runs the revision after it
	// was told; the zero value is the delivery's default.
	Confirm annotations.Confirmation
}

// Each container is told as --signal, --url, --process and --confirm say,
// but where --signal-for, --url-for, --process-for or --confirm-for
// CONTAINER=VALUE (contract version 3) give it another value: VALUE stands
// for that container instead of the flag's, an empty VALUE for the flag's
// default. --signal-for a container tells it by that signal, not by --url.
// Container names hold no "=", so the first one ends the name, and VALUE is
// taken whole: a URL or a regexp may hold "=" and ",".

// DeliveryOf returns how container c is told.
func (r Run) DeliveryOf(c string) Delivery {
	if d, ok := r.Deliveries[c]; ok {
		return d
	}
	return r.Delivery
}

// SetDeliveries sets how each container is told, from per (by container):
// Delivery to the first container's, Deliveries to the others that are told
// otherwise. Set Containers first.
func (r *Run) SetDeliveries(per map[string]Delivery) {
	r.Delivery, r.Deliveries = Delivery{}, nil
	if len(r.Containers) == 0 {
		return
	}
	r.Delivery = per[r.Containers[0]]
	for _, c := range r.Containers[1:] {
		if d := per[c]; d != r.Delivery {
			if r.Deliveries == nil {
				r.Deliveries = map[string]Delivery{}
			}
			r.Deliveries[c] = d
		}
	}
}

// args returns the flags of d, the delivery of every container.
func (d Delivery) args() []string {
	var args []string
	if d.URL != "" {
		args = append(args, "--url", d.URL)
	} else {
		args = append(args, "--signal", string(cmp.Or(d.Signal, annotations.DefaultSignal)))
	}
	if d.Process != "" {
		args = append(args, "--process", d.Process)
	}
	if !d.Confirm.IsZero() {
		args = append(args, "--confirm", d.Confirm.String())
	}
	return args
}

// deliveriesArgs returns the --*-for flags of Deliveries, in the order of
// Containers (then any other name, sorted, which ParseRun refuses): for each
// container, the values that differ from Delivery's, and its signal or URL
// at least.
func (r Run) deliveriesArgs() []string {
	names := slices.Sorted(func(yield func(string) bool) {
		for c := range r.Deliveries {
			if !slices.Contains(r.Containers, c) && !yield(c) {
				return
			}
		}
	})
	var args []string
	for _, c := range append(slices.Clone(r.Containers), names...) {
		d, ok := r.Deliveries[c]
		if !ok {
			continue
		}
		base := r.Delivery
		method := d.URL != base.URL || cmp.Or(d.Signal, annotations.DefaultSignal) != cmp.Or(base.Signal, annotations.DefaultSignal)
		process, confirm := d.Process != base.Process, d.Confirm != base.Confirm
		switch {
		case d.URL != "" && (method || !process && !confirm):
			args = append(args, "--url-for", c+"="+d.URL)
		case method || !process && !confirm:
			args = append(args, "--signal-for", c+"="+string(cmp.Or(d.Signal, annotations.DefaultSignal)))
		}
		if process {
			args = append(args, "--process-for", c+"="+d.Process)
		}
		if confirm {
			args = append(args, "--confirm-for", c+"="+d.Confirm.String())
		}
	}
	return args
}

// flagValue is a value of a delivery flag, with the flag it came from:
// "--signal", or "--signal-for php-fpm".
type flagValue struct{ flag, v string }

func (f flagValue) String() string { return fmt.Sprintf("%s %q", f.flag, f.v) }

// rawDelivery is a delivery as its flags give it.
type rawDelivery struct{ signal, url, process, confirm flagValue }

// check checks the delivery's flags with the webhook's own rules
// (pkg/annotations), replacing what the reloader could not use.
func (raw rawDelivery) check() (Delivery, []string) {
	var d Delivery
	var ws []string
	if raw.url.v != "" {
		if err := annotations.CheckLoopbackURL(raw.url.v); err != nil {
			ws = append(ws, fmt.Sprintf("%s: %v; using the signal instead", raw.url, err))
		} else {
			d.URL = raw.url.v
		}
	}
	if d.URL == "" {
		s, ok := annotations.ParseSignal(raw.signal.v)
		if !ok {
			ws = append(ws, fmt.Sprintf("%s: not a signal the reloader can send; using %s", raw.signal, annotations.DefaultSignal))
			s = annotations.DefaultSignal
		}
		d.Signal = s
	}
	if raw.process.v != "" {
		if err := annotations.CheckProcess(raw.process.v); err != nil {
			ws = append(ws, fmt.Sprintf("%s: %v; using the container's main process", raw.process, err))
		} else {
			d.Process = raw.process.v
		}
	}
	if raw.confirm.v != "" {
		c, err := annotations.ParseConfirmFor(raw.confirm.v, d.Signal, d.URL)
		if err != nil {
			ws = append(ws, fmt.Sprintf("%s: %v; using the delivery's default", raw.confirm, err))
		} else {
			d.Confirm = c
		}
	}
	return d, ws
}

// containerValues is a repeatable flag of CONTAINER=VALUE pairs.
type containerValues map[string]string

func (m *containerValues) String() string {
	if m == nil {
		return ""
	}
	var s []string
	for _, c := range slices.Sorted(func(yield func(string) bool) {
		for c := range *m {
			if !yield(c) {
				return
			}
		}
	}) {
		s = append(s, c+"="+(*m)[c])
	}
	return strings.Join(s, " ")
}

func (m *containerValues) Set(v string) error {
	c, value, ok := strings.Cut(v, "=")
	if !ok || c == "" {
		return fmt.Errorf("%q: want CONTAINER=VALUE", v)
	}
	if _, dup := (*m)[c]; dup {
		return fmt.Errorf("container %q given twice", c)
	}
	if *m == nil {
		*m = containerValues{}
	}
	(*m)[c] = value
	return nil
}

// perContainerFlags are the --*-for flags.
type perContainerFlags struct{ signal, url, process, confirm containerValues }

func (p *perContainerFlags) register(fs *flag.FlagSet) {
	fs.Var(&p.signal, "signal-for", "`CONTAINER=SIGNAL`: tell CONTAINER by SIGNAL, instead of --signal or --url (repeatable)")
	fs.Var(&p.url, "url-for", "`CONTAINER=URL`: tell CONTAINER by a POST to URL instead of --url (repeatable)")
	fs.Var(&p.process, "process-for", "`CONTAINER=REGEXP`: the process of CONTAINER to signal, instead of --process; empty for its main process (repeatable)")
	fs.Var(&p.confirm, "confirm-for", "`CONTAINER=HOW`: how to know CONTAINER runs the new config, instead of --confirm; empty for the default (repeatable)")
}

// deliveries returns the delivery of each container a --*-for flag names,
// built over base (the flags for every container), and the warnings about
// values it replaced that ws does not hold yet. It fails for a container
// that is not one of containers.
func (p *perContainerFlags) deliveries(containers []string, base rawDelivery, ws []string) (map[string]Delivery, []string, error) {
	var out map[string]Delivery
	for _, f := range []struct {
		name string
		m    containerValues
	}{{"signal-for", p.signal}, {"url-for", p.url}, {"process-for", p.process}, {"confirm-for", p.confirm}} {
		for c := range f.m {
			if !slices.Contains(containers, c) {
				return nil, nil, fmt.Errorf("--%s of %q, which is not a --container", f.name, c)
			}
		}
	}
	for _, c := range containers {
		raw, named := base, false
		set := func(fv *flagValue, name string, m containerValues) {
			if v, ok := m[c]; ok {
				*fv, named = flagValue{"--" + name + " " + c, v}, true
			}
		}
		set(&raw.signal, "signal-for", p.signal)
		if named {
			raw.url = flagValue{}
		}
		set(&raw.url, "url-for", p.url)
		set(&raw.process, "process-for", p.process)
		set(&raw.confirm, "confirm-for", p.confirm)
		if !named {
			continue
		}
		d, dws := raw.check()
		for _, w := range dws {
			if !slices.Contains(ws, w) {
				ws = append(ws, w)
			}
		}
		if out == nil {
			out = map[string]Delivery{}
		}
		out[c] = d
	}
	return out, ws, nil
}
