package reload

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/hotreload/hotreload/pkg/annotations"
)

// delivererOf returns how app container name is told.
func (a *applier) delivererOf(name string) *Deliverer {
	if d, ok := a.deliverers[name]; ok {
		return d
	}
	return a.deliverer
}

// tell delivers the reload to each running container in its own way, and
// returns those told: each is sent its own signal; a URL, or nothing, is
// delivered once for the pod (its containers share its network namespace),
// to the first container told so. A container that stops before it could
// be told is dropped from running: the new config cannot have stopped it, it
// reads it when it starts.
func (a *applier) tell(ctx context.Context, log *slog.Logger, running map[string]string) ([]string, error) {
	var told []string
	sent := map[Method]bool{} // the URLs posted, and none
	for _, name := range a.containers {
		id, ok := running[name]
		if !ok {
			continue
		}
		d := a.delivererOf(name)
		if d.Method.Signal == 0 && sent[d.Method] {
			continue
		}
		pid, err := d.Deliver(ctx, id)
		if err != nil && isTransient(err) && a.view.StoppedSince(ctx, name, id, statusLag) {
			log.Info("container stopped before it could be told: it reads the live copy when it starts", "container", name, "err", err)
			delete(running, name)
			continue
		}
		if err != nil && isVerdict(err) {
			return told, fmt.Errorf("%w (container %s)", err, name)
		}
		if err != nil {
			return told, fmt.Errorf("container %s: %w", name, err)
		}
		log.Info("reload delivered", "container", name, "method", d.Method.String(), "pid", pid)
		told = append(told, name)
		if d.Method.Signal == 0 {
			sent[d.Method] = true
		}
	}
	return told, nil
}

// toldMessage says how the containers told were told: "SIGHUP delivered to
// nginx, confirmed by workers; SIGUSR2 delivered to php-fpm".
func (a *applier) toldMessage(told []string) string {
	if len(told) == 0 {
		return "no running container to tell"
	}
	var ways []string // "SIGHUP\x00, confirmed by workers", in order
	names := map[string][]string{}
	for _, name := range told {
		d := a.delivererOf(name)
		way := d.Method.String() + "\x00"
		if !d.Confirm.IsZero() {
			way += ", confirmed by " + d.Confirm.String()
		}
		if names[way] == nil {
			ways = append(ways, way)
		}
		names[way] = append(names[way], name)
	}
	parts := make([]string, len(ways))
	for i, way := range ways {
		method, confirmed, _ := strings.Cut(way, "\x00")
		parts[i] = fmt.Sprintf("%s delivered to %s%s", method, strings.Join(names[way], ","), confirmed)
	}
	return strings.Join(parts, "; ")
}

// confirm checks that every container that ran is still running, as the
// same container, a grace period after it was told: whatever the method, a
// container that stopped or was replaced since did not survive the new config.
// Then, where hotreload/confirm names a URL for a container, the app must
// answer it (with the metric's value) within the confirm timeout from told.
func (a *applier) confirm(ctx context.Context, running map[string]string, told time.Time) error {
	if len(running) == 0 {
		return nil
	}
	// A signal's delivery waited the grace already; a POST or none waits it here.
	var grace time.Duration
	for name := range running {
		if d := a.delivererOf(name); d.Method.Signal == 0 {
			grace = max(grace, d.GraceOrDefault())
		}
	}
	time.Sleep(grace)
	for _, name := range a.containers {
		id, ok := running[name]
		if !ok {
			continue
		}
		if now, ok := a.view.Running(name); !ok || now != id {
			return fmt.Errorf("container %s after %s: %w", name, a.delivererOf(name).Method, ErrContainerStopped)
		}
	}
	read := map[annotations.Confirmation]bool{}
	for _, name := range a.containers {
		d := a.delivererOf(name)
		if _, ok := running[name]; !ok || read[d.Confirm] {
			continue
		}
		switch d.Confirm.Mode {
		case annotations.ConfirmHTTP, annotations.ConfirmMetric:
			read[d.Confirm] = true
			if err := d.confirmURL(ctx, told); err != nil {
				return err
			}
		}
	}
	return nil
}
