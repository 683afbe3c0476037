package reload

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"

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
	Deliverer  *Deliverer
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
	Log      *slog.Logger
}

// ErrContainerStopped means an app container stopped running, or was
// replaced by a new one, within the grace period after it was told to reload.
var ErrContainerStopped = errors.New("container stopped after the reload")

// Reloader is the sidecar's loop: it watches its own Pod and the mounted
// sources, and applies the newest released (or mounted) revision.
//
// The app never depends on the API server: the live copy it reads exists
// before Run talks to it, a failed report is logged and sent again at the
// next resync, and the loop keeps running whatever the API server answers.
type Reloader struct {
	opts     Options
	log      *slog.Logger
	reporter *Reporter
	ready    atomic.Bool
	mu       sync.Mutex
	pod      *corev1.Pod
	co       *Coalescer
	// unreported is the outcome last reported without success, sent again
	// at each resync until a report succeeds.
	unreported *outcome
}

// outcome is a reload result to write on the pod.
type outcome struct {
	rev, message string
	failed       bool
}

// New returns a Reloader.
func New(opts Options) *Reloader {
	if opts.VerifyTimeout == 0 {
		opts.VerifyTimeout = 2 * time.Minute
	}
	if opts.Resync == 0 {
		opts.Resync = time.Minute
	}
	if opts.Debounce == 0 {
		opts.Debounce = 100 * time.Millisecond
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	return &Reloader{opts: opts, log: opts.Log,
		reporter: &Reporter{Client: opts.Client, Namespace: opts.Namespace, PodName: opts.PodName}}
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

	// An informer on this one pod, on the API alone (no clientset), so that
	// the sidecar links no other API group.
	selector := fields.OneTermEqualSelector("metadata.name", r.opts.PodName).String()
	inf := cache.NewSharedIndexInformer(&cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = selector
			return r.opts.Client.ListPods(ctx, r.opts.Namespace, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = selector
			return r.opts.Client.WatchPods(ctx, r.opts.Namespace, o)
		},
	}, &corev1.Pod{}, 0, cache.Indexers{})
	onPod := func(obj any) {
		pod, ok := obj.(*corev1.Pod)
		if !ok {
			return
		}
		r.mu.Lock()
		r.pod = pod
		co := r.co
		r.mu.Unlock()
		if rel := pod.Annotations[annotations.Released]; rel != "" && co != nil {
			co.Released(rel)
		}
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: onPod, UpdateFunc: func(_, obj any) { onPod(obj) },
	}); err != nil {
		return err
	}
	go inf.RunWithContext(ctx)
	r.log.Info("waiting for this pod from the API server", "pod", r.opts.Namespace+"/"+r.opts.PodName)
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return nil // ctx ended
	}
	r.mu.Lock()
	pod := r.pod
	r.mu.Unlock()
	if pod == nil {
		r.log.Warn("this pod is not visible through the API server: reports will fail until it is", "pod", r.opts.Namespace+"/"+r.opts.PodName)
	} else {
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

	co := NewCoalescer(r.opts.WaitRelease, live)
	co.Debounce = r.opts.Debounce
	r.mu.Lock()
	r.co = co
	pod = r.pod
	r.mu.Unlock()
	r.reportStartup(ctx, pod, live)
	if pod != nil {
		co.Released(pod.Annotations[annotations.Released])
	}

	errc := make(chan error, 2)
	go func() { errc <- r.watchSources(ctx, co) }()
	go func() { errc <- co.Run(ctx, r.apply) }()
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

// reportStartup records the live revision as applied: the app starts on it,
// or (after a sidecar restart) already runs it. A live revision the pod
// reports as failed stays failed: the app may have refused it.
func (r *Reloader) reportStartup(ctx context.Context, pod *corev1.Pod, live string) {
	if pod != nil {
		if pod.Labels[annotations.Applied] == live {
			return
		}
		if rev, _, failed := annotations.FailedOf(pod.Annotations); failed && rev == live {
			r.log.Info("live revision was reported failed: leaving it so", "revision", live)
			return
		}
	}
	r.report(ctx, outcome{rev: live, message: "live copy written at start-up"})
}

// report writes an outcome on the pod; one that cannot be written is kept
// and sent again at the next resync.
func (r *Reloader) report(ctx context.Context, o outcome) {
	var err error
	if o.failed {
		err = r.reporter.Failed(ctx, o.rev, o.message)
	} else {
		err = r.reporter.Applied(ctx, o.rev, o.message)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.log.Error("report on the pod failed; sending it again at the next resync", "revision", o.rev, "failed", o.failed, "err", err)
		r.unreported = &o
		return
	}
	r.unreported = nil
}

// reportAgain sends the outcome whose report failed, if any.
func (r *Reloader) reportAgain(ctx context.Context) {
	r.mu.Lock()
	o := r.unreported
	r.mu.Unlock()
	if o != nil {
		r.report(ctx, *o)
	}
}

// apply makes rev live and tells the app.
//
// A failed revision is reported and not applied again: the controller halts
// the rollout on hotreload/failed, and the fix or the revert is a new
// revision. Failures that may pass on their own (the app not listening yet,
// 429/502/503/504) are tried again by the Deliverer, a bounded number of
// times, before the revision counts as failed.
func (r *Reloader) apply(ctx context.Context, rev string) error {
	log := r.log.With("revision", rev)
	log.Info("applying revision")
	vctx, cancel := context.WithTimeout(ctx, r.opts.VerifyTimeout)
	s, err := r.opts.Live.Stage(vctx, rev)
	cancel()
	if errors.Is(err, context.Canceled) {
		log.Info("revision superseded before it was mounted")
		return err
	}
	if err != nil {
		return r.fail(ctx, log, rev, err)
	}
	// Which containers run is decided before the swap: one that is not
	// running then cannot have been stopped by the new config.
	checked := time.Now()
	ids := r.runningContainers(log)
	if err := s.Swap(); err != nil {
		return r.fail(ctx, log, rev, err)
	}
	log.Info("live copy swapped")
	dctx := context.WithoutCancel(ctx)
	d := r.opts.Deliverer
	var told []string
	for _, name := range r.opts.Containers {
		id, ok := ids[name]
		if !ok {
			continue
		}
		pid, err := d.Deliver(dctx, id)
		if err != nil && isTransient(err) && r.stoppedSince(dctx, name, id) {
			// Never reached, and stopped since it was seen running: the new
			// config cannot have stopped it, it reads it when it starts.
			log.Info("container stopped before it could be told: it reads the live copy when it starts", "container", name, "err", err)
			delete(ids, name)
			continue
		}
		if err != nil {
			return r.fail(dctx, log, rev, fmt.Errorf("container %s: %w", name, err))
		}
		log.Info("reload delivered", "container", name, "method", d.Method.String(), "pid", pid)
		told = append(told, name)
		if d.Method.Signal == 0 {
			break // one POST (or nothing) serves the pod's network namespace
		}
	}
	if len(ids) > 0 {
		if d.Method.Signal == 0 {
			// A signal's delivery waited the grace already.
			time.Sleep(d.GraceOrDefault())
		}
		// Whatever the method, a container that stopped or was replaced
		// since it was told did not survive the new config.
		for _, name := range r.opts.Containers {
			id, ok := ids[name]
			if !ok {
				continue
			}
			if now, running := r.containerID(name); !running || now != id {
				return r.fail(dctx, log, rev, fmt.Errorf("container %s after %s: %w", name, d.Method, ErrContainerStopped))
			}
		}
	}
	msg := fmt.Sprintf("%s delivered to %s", d.Method, strings.Join(told, ","))
	if len(told) == 0 {
		msg = "no running container to tell"
	}
	if len(ids) < len(r.opts.Containers) {
		// hotreload/applied-at and the container statuses the controller
		// compares it with have whole seconds. Reported in the second a
		// container stopped (a crash loop on the previous revision), the
		// apply would look no earlier than the stop, and the controller
		// would take the stop for this revision's doing.
		time.Sleep(time.Until(checked.Truncate(time.Second).Add(time.Second)))
	}
	r.report(dctx, outcome{rev: rev, message: msg})
	return nil
}

// statusLag bounds the wait for the kubelet to report a container's stop in
// the pod status: it notices within its relist period (1s), then writes.
const statusLag = 3 * time.Second

// stoppedSince reports whether app container name, running as id when the
// revision was staged, has stopped or been replaced since, waiting up to
// statusLag for the pod status to show it.
func (r *Reloader) stoppedSince(ctx context.Context, name, id string) bool {
	deadline := time.Now().Add(statusLag)
	for {
		if now, running := r.containerID(name); !running || now != id {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// runningContainers returns the IDs of the app containers that run now, by
// the pod status and, where a signal is delivered in a shared process
// namespace, by /proc too: a container without a process has stopped though
// the kubelet has not reported it yet (it does within a second or so, as in
// a crash loop). The others read the live copy when they start.
func (r *Reloader) runningContainers(log *slog.Logger) map[string]string {
	r.mu.Lock()
	pod := r.pod
	r.mu.Unlock()
	d := r.opts.Deliverer
	seesProcesses := d.Method.Signal != 0 && pod != nil &&
		pod.Spec.ShareProcessNamespace != nil && *pod.Spec.ShareProcessNamespace
	ids := map[string]string{}
	for _, name := range r.opts.Containers {
		id, running := r.containerID(name)
		if !running {
			log.Info("container not running: it reads the live copy when it starts", "container", name)
			continue
		}
		if seesProcesses {
			if procs, err := d.Procs.Container(id); err == nil && len(procs) == 0 {
				log.Info("container has no process left, its stop not reported yet: it reads the live copy when it starts", "container", name, "id", id)
				continue
			}
		}
		ids[name] = id
	}
	return ids
}

func (r *Reloader) fail(ctx context.Context, log *slog.Logger, rev string, err error) error {
	log.Error("reload failed", "err", err)
	r.report(context.WithoutCancel(ctx), outcome{rev: rev, message: err.Error(), failed: true})
	return err
}

// containerID returns the ID of a running, started app container.
func (r *Reloader) containerID(name string) (string, bool) {
	r.mu.Lock()
	pod := r.pod
	r.mu.Unlock()
	if pod == nil {
		return "", false
	}
	for _, st := range pod.Status.ContainerStatuses {
		if st.Name != name || st.State.Running == nil || (st.Started != nil && !*st.Started) {
			continue
		}
		id, err := ParseContainerID(st.ContainerID)
		return id, err == nil
	}
	return "", false
}

// watchSources reports the mounted revision once its watches are in place,
// then on each ..data swap (debounced) and periodically, as a safety net for
// missed events. The first report covers what the kubelet swapped before the
// watches existed: while the reloader waited for its pod, the app may have
// started and Ready on the live copy, and an edit then be mounted.
func (r *Reloader) watchSources(ctx context.Context, co *Coalescer) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch sources: %w", err)
	}
	defer w.Close()
	for _, v := range r.opts.Live.Volumes {
		if err := w.Add(filepath.Join(r.opts.Live.SrcRoot, v)); err != nil {
			return fmt.Errorf("watch source of %s: %w", v, err)
		}
	}
	resync := time.NewTicker(r.opts.Resync)
	defer resync.Stop()
	var debounce <-chan time.Time
	check := func(why string) {
		rev, err := r.opts.Live.SourceRevision()
		if err != nil {
			r.log.Warn("hash mounted sources", "err", err)
			return
		}
		r.log.Debug("mounted revision", "revision", rev, "trigger", why)
		co.Mounted(rev)
	}
	check("watch started")
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			// The kubelet's swap shows as a create or rename of ..data.
			if filepath.Base(ev.Name) == dataDirName {
				debounce = time.After(r.opts.Debounce)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			r.log.Warn("watch sources", "err", err)
		case <-debounce:
			debounce = nil
			check("..data swapped")
		case <-resync.C:
			check("periodic re-hash")
			r.reportAgain(ctx)
		}
	}
}
