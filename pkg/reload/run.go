package reload

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/hotreload/hotreload/pkg/annotations"
)

// Options configure a Reloader.
type Options struct {
	Client    kubernetes.Interface
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

// Reloader is the sidecar's loop: it watches its own Pod and the mounted
// sources, and applies the newest released (or mounted) revision.
type Reloader struct {
	opts     Options
	log      *slog.Logger
	reporter *Reporter
	ready    atomic.Bool
	mu       sync.Mutex
	pod      *corev1.Pod
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

// Run prepares the live copies, then applies revisions until ctx ends.
func (r *Reloader) Run(ctx context.Context) error {
	l := r.opts.Live
	if err := l.Repair(); err != nil {
		return err
	}
	if !l.Exists() {
		sctx, cancel := context.WithTimeout(ctx, r.opts.VerifyTimeout)
		s, err := l.Stage(sctx, "")
		cancel()
		if err != nil {
			return fmt.Errorf("first live copy: %w", err)
		}
		if err := s.Swap(); err != nil {
			return fmt.Errorf("first live copy: %w", err)
		}
	}
	live, err := l.LiveRevision()
	if err != nil {
		return err
	}
	r.ready.Store(true)
	r.log.Info("live copy ready", "revision", live, "volumes", l.Volumes)

	co := NewCoalescer(r.opts.WaitRelease, live)
	co.Debounce = r.opts.Debounce

	factory := informers.NewSharedInformerFactoryWithOptions(r.opts.Client, 0,
		informers.WithNamespace(r.opts.Namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", r.opts.PodName).String()
		}))
	inf := factory.Core().V1().Pods().Informer()
	onPod := func(obj any) {
		pod, ok := obj.(*corev1.Pod)
		if !ok {
			return
		}
		r.mu.Lock()
		r.pod = pod
		r.mu.Unlock()
		if rel := pod.Annotations[annotations.Released]; rel != "" {
			co.Released(rel)
		}
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: onPod, UpdateFunc: func(_, obj any) { onPod(obj) },
	}); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return ctx.Err()
	}
	r.reportStartup(ctx, live)

	errc := make(chan error, 2)
	go func() { errc <- r.watchSources(ctx, co) }()
	go func() { errc <- co.Run(ctx, r.apply) }()
	err = <-errc
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// reportStartup records the live revision as applied: the app starts on it,
// or (after a sidecar restart) already runs it.
func (r *Reloader) reportStartup(ctx context.Context, live string) {
	r.mu.Lock()
	pod := r.pod
	r.mu.Unlock()
	if pod != nil && pod.Labels[annotations.Applied] == live {
		return
	}
	if err := r.reporter.Applied(ctx, live, "live copy written at start-up"); err != nil {
		r.log.Error("report start-up revision", "revision", live, "err", err)
	}
}

// apply makes rev live and tells the app.
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
	if err := s.Swap(); err != nil {
		return r.fail(ctx, log, rev, err)
	}
	log.Info("live copy swapped")
	dctx := context.WithoutCancel(ctx)
	ids := map[string]string{} // running app containers
	for _, name := range r.opts.Containers {
		if id, running := r.containerID(name); running {
			ids[name] = id
		} else {
			log.Info("container not running: it reads the live copy when it starts", "container", name)
		}
	}
	method := r.opts.Deliverer.Method
	var told []string
	for _, name := range r.opts.Containers {
		id, ok := ids[name]
		if !ok {
			continue
		}
		pid, err := r.opts.Deliverer.Deliver(dctx, id)
		if err != nil {
			return r.fail(dctx, log, rev, fmt.Errorf("container %s: %w", name, err))
		}
		log.Info("reload delivered", "container", name, "method", method.String(), "pid", pid)
		told = append(told, name)
		if method.Signal == 0 {
			break // one POST (or nothing) serves the pod's network namespace
		}
	}
	msg := fmt.Sprintf("%s delivered to %s", method, strings.Join(told, ","))
	if len(told) == 0 {
		msg = "no running container to tell"
	}
	if err := r.reporter.Applied(dctx, rev, msg); err != nil {
		log.Error("report applied", "err", err)
	}
	return nil
}

func (r *Reloader) fail(ctx context.Context, log *slog.Logger, rev string, err error) error {
	log.Error("reload failed", "err", err)
	if rerr := r.reporter.Failed(context.WithoutCancel(ctx), rev, err.Error()); rerr != nil {
		log.Error("report failure", "err", rerr)
	}
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

// watchSources reports the mounted revision on each ..data swap (debounced)
// and periodically, as a safety net for missed events.
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
		}
	}
}
