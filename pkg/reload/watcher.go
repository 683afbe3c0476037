package reload

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watcher reports the revision of the mounted sources: once its watches are
// in place, after each ..data swap, and every Resync as a safety net for a
// missed event. It does not debounce: the Coalescer it feeds does, once for
// every kind of event.
type Watcher struct {
	Live *Live
	// Resync is the period of the safety-net re-hash; 1m when zero.
	Resync time.Duration
	Log    *slog.Logger
}

// Run watches the sources until ctx ends, telling mounted each revision it
// hashes. The first report covers what the kubelet swapped before the
// watches existed: while the reloader waited for its pod, the app may have
// started and turned Ready on the live copy, and an edit been mounted since.
func (w *Watcher) Run(ctx context.Context, mounted func(rev string)) error {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch sources: %w", err)
	}
	defer fw.Close()
	for _, v := range w.Live.Volumes {
		if err := fw.Add(filepath.Join(w.Live.SrcRoot, v)); err != nil {
			return fmt.Errorf("watch source of %s: %w", v, err)
		}
	}
	resync := w.Resync
	if resync == 0 {
		resync = time.Minute
	}
	tick := time.NewTicker(resync)
	defer tick.Stop()
	log := w.Log
	if log == nil {
		log = slog.Default()
	}
	check := func(why string) {
		rev, err := w.Live.SourceRevision()
		if err != nil {
			log.Warn("hash mounted sources", "err", err)
			return
		}
		log.Debug("mounted revision", "revision", rev, "trigger", why)
		mounted(rev)
	}
	check("watch started")
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev, ok := <-fw.Events:
			if !ok {
				return nil
			}
			// The kubelet's swap shows as a create or rename of ..data, among
			// the events of its timestamped directory: hash once the events
			// already queued are read.
			swapped := filepath.Base(ev.Name) == dataDirName
			for drained := false; !drained; {
				select {
				case ev, ok := <-fw.Events:
					swapped = swapped || ok && filepath.Base(ev.Name) == dataDirName
					drained = !ok
				default:
					drained = true
				}
			}
			if swapped {
				check("..data swapped")
			}
		case err, ok := <-fw.Errors:
			if !ok {
				return nil
			}
			log.Warn("watch sources", "err", err)
		case <-tick.C:
			check("periodic re-hash")
		}
	}
}
