package reload

import (
	"context"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/revision"
)

// Options configure a Reloader.
type Options struct {
	Client    API
	Namespace string
	PodName   string
	Live      *Live
	// Containers are the app containers to tell about a new revision.
	Containers []string
	// Deliverer tells the containers Deliverers does not name.
	Deliverer *Deliverer
	// Deliverers tell particular containers, each in its own way.
	Deliverers map[string]*Deliverer
	// Validators, when set, check each staged revision before the swap.
	Validators *Validators
	// WaitRelease makes the reloader apply only released revisions; without
	// it (rollout 100%) it applies what is mounted as soon as it changes.
	WaitRelease bool
	// VerifyTimeout bounds the wait for the mounted sources to reach a
	// released revision; 2m when zero.
	VerifyTimeout time.Duration
	// Resync is the period of the safety-net re-hash of the sources; 1m when zero.
	Resync time.Duration
	// Debounce is the quiet period after an event before acting; 100ms when zero.
	Debounce time.Duration
	// ReportRetry is the first wait before a report the API server refused
	// is sent again; it doubles up to a minute. 1s when zero.
	ReportRetry time.Duration
	Log         *slog.Logger
}

// Reloader is the sidecar: it wires its parts together. The Live copy is
// written first; the PodView tells the Coalescer each release, the Watcher
// each mounted revision; the Coalescer runs the applier on the newest target;
// the Reporter writes the outcomes.
//
// The app never depends on the API server: the live copy it reads exists
// before Run talks to it, a failed report is sent again in the background,
// and the loop keeps running whatever the API server answers.
type Reloader struct {
	opts     Options
	log      *slog.Logger
	view     *PodView
	reporter *Reporter
	ready    atomic.Bool
}

// New returns a Reloader.
func New(opts Options) *Reloader {
	if opts.VerifyTimeout == 0 {
		opts.VerifyTimeout = 2 * time.Minute
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	return &Reloader{opts: opts, log: opts.Log,
		view: NewPodView(opts.Client, opts.Namespace, opts.PodName),
		reporter: &Reporter{Client: opts.Client, Namespace: opts.Namespace, PodName: opts.PodName,
			Log: opts.Log, RetryAfter: opts.ReportRetry}}
}

// Ready reports whether the live copies exist (the startup probe).
func (r *Reloader) Ready() bool { return r.ready.Load() }

// Run prepares the live copies, then applies revisions until ctx ends. It
// fails at once, with ErrSourceMissing, when a volume's source is not
// mounted. It then waits for its Pod from the API server for as long as it
// takes (the app runs on the live copy meanwhile): the Pod's volume specs
// tell which files are not config (downwardAPI items of projected volumes).
func (r *Reloader) Run(ctx context.Context) error {
	l := r.opts.Live
	if err := l.FirstCopy(ctx, r.opts.VerifyTimeout); err != nil {
		return err
	}
	r.ready.Store(true)
	r.log.Info("live copy ready", "volumes", l.Volumes)

	// Releases seen before the Coalescer exists are read from the pod below.
	var co atomic.Pointer[Coalescer]
	// The pod's watch hearing from the API server again sends at once a
	// report it could not take.
	r.view.OnSeen(r.reporter.Nudge)
	r.view.OnReleased(func(rev string) {
		if c := co.Load(); c != nil {
			c.Released(rev)
		}
	})
	r.log.Info("waiting for this pod from the API server", "pod", r.opts.Namespace+"/"+r.opts.PodName)
	if !r.view.Start(ctx) {
		return nil // ctx ended
	}
	pod := r.view.Pod()
	if pod == nil {
		r.log.Warn("this pod is not visible through the API server: reports will fail until it is", "pod", r.opts.Namespace+"/"+r.opts.PodName)
	} else if len(l.Layout) == 0 {
		// Contract version 1: downwardAPI items share their volume's mount.
		l.Exclude = ExcludedPaths(pod, l.Volumes)
		if len(l.Exclude) > 0 {
			r.log.Info("downwardAPI files are copied but left out of the revision", "paths", l.Exclude)
		}
	}
	live, err := l.LiveRevision()
	if err != nil {
		return err
	}
	r.log.Info("live revision", "revision", live)

	c := NewCoalescer(r.opts.WaitRelease, live)
	c.Debounce = r.opts.Debounce
	if rev := failedRelease(pod, live); rev != "" {
		r.log.Info("the released revision failed on this pod: it is applied again only once released again", "revision", rev)
		c.Failed(rev)
	}
	co.Store(c)
	go r.reporter.Run(ctx)
	r.reportStartup(ctx, pod, live)
	c.Released(r.view.Released())

	a := &applier{live: l, view: r.view, deliverer: r.opts.Deliverer, deliverers: r.opts.Deliverers, containers: r.opts.Containers,
		reporter: r.reporter, verifyTimeout: r.opts.VerifyTimeout, validators: r.opts.Validators, log: r.log}
	errc := make(chan error, 2)
	if !r.opts.WaitRelease {
		// Contract version 1 at 100%: what is mounted is applied.
		w := &Watcher{Live: l, Resync: r.opts.Resync, Log: r.log}
		go func() { errc <- w.Run(ctx, c.Mounted) }()
	}
	go func() { errc <- c.Run(ctx, a.apply) }()
	err = <-errc
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// ExcludedPaths returns, for each of the named volumes of pod that has any,
// the paths that are not config (revision.ExcludedPaths).
func ExcludedPaths(pod *corev1.Pod, volumes []string) map[string][]string {
	out := map[string][]string{}
	for _, v := range pod.Spec.Volumes {
		if !slices.Contains(volumes, v.Name) {
			continue
		}
		if ex := revision.ExcludedPaths(v); len(ex) > 0 {
			out[v.Name] = ex
		}
	}
	return out
}

// failedRelease returns the revision released to pod when pod reports it
// failed and live is another (the previous copy was swapped back): this
// sidecar restarted after the failure. Applied again now, it may pass (the
// app that failed on it restarted too), and that report would clear the
// failure before the controller halts its release. "" otherwise.
func failedRelease(pod *corev1.Pod, live string) string {
	if pod == nil {
		return ""
	}
	released := annotations.ReleasedOf(pod.Annotations)
	if rev, _, failed := annotations.FailedOf(pod.Annotations); failed && rev == released && rev != live {
		return rev
	}
	return ""
}

// reportStartup records the live revision as applied: the app starts on it,
// or (after a sidecar restart) already runs it. A live revision the pod
// reports as failed stays failed: the app may have refused it.
func (r *Reloader) reportStartup(ctx context.Context, pod *corev1.Pod, live string) {
	if pod != nil {
		if annotations.AppliedOf(pod.Labels) == live {
			return
		}
		if rev, _, failed := annotations.FailedOf(pod.Annotations); failed && rev == live {
			r.log.Info("live revision was reported failed: leaving it so", "revision", live)
			return
		}
	}
	_ = r.reporter.Report(ctx, Outcome{Revision: live, Message: "live copy written at start-up"})
}
