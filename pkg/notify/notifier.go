package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Options configure a Notifier.
type Options struct {
	// Reader reads the Secret: an uncached reader (a manager's API reader),
	// so that no Secret is watched.
	Reader client.Reader
	// Secret names the notifications Secret.
	Secret types.NamespacedName
	// Registry receives hotreload_notifications_total.
	Registry prometheus.Registerer
	Log      logr.Logger
	// Retry is how sends are tried again (default DefaultRetry).
	Retry Retry
	// ConfigTTL is how long a read of the Secret is reused (default 10 s).
	ConfigTTL time.Duration
	// QueueSize bounds each sink's queue (default 256).
	QueueSize int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Retry says how a failed send is tried again: after First, doubling up to
// Cap, Attempts in all.
type Retry struct {
	First, Cap time.Duration
	Attempts   int
}

// DefaultRetry tries a send 8 times in about 3 minutes.
var DefaultRetry = Retry{First: time.Second, Cap: time.Minute, Attempts: 8}

// wait is the pause before attempt i+1 (i from 1), at least after, within
// Cap.
func (r Retry) wait(i int, after time.Duration) time.Duration {
	d := r.First
	for ; i > 1 && d < r.Cap; i-- {
		d *= 2
	}
	return min(max(d, after), r.Cap)
}

// Notifier sends notifications to the sinks its Secret names, one queue and
// one goroutine per sink: Notify never blocks, and a sink that is down delays
// only itself. It is a manager.Runnable of every replica: only the leader's
// reconciles notify, and what a replica queued before it lost the lease is
// still sent.
type Notifier struct {
	o       Options
	queues  map[Sink]chan Notification
	results *prometheus.CounterVec
	// read reads the Secret's configuration (readSecret).
	read func(context.Context) (Config, error)

	mu     sync.Mutex
	cached *loaded
	// said is the last configuration problem logged, so that it is logged
	// once rather than at every send.
	said string
}

// loaded is one read of the Secret.
type loaded struct {
	at  time.Time
	cfg Config
	err error // nil, errNotConfigured or what is wrong with the Secret
}

var errNotConfigured = errors.New("no notifications Secret")

// New returns a Notifier; Start runs it.
func New(o Options) (*Notifier, error) {
	if o.Retry == (Retry{}) {
		o.Retry = DefaultRetry
	}
	if o.ConfigTTL == 0 {
		o.ConfigTTL = 10 * time.Second
	}
	if o.QueueSize == 0 {
		o.QueueSize = 256
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	n := &Notifier{o: o, queues: map[Sink]chan Notification{},
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hotreload_notifications_total",
			Help: "Notifications by sink (webhook, slack) and result: sent, failed (refused by the receiver, or after the last attempt), dropped (the sink's queue was full).",
		}, []string{"sink", "result"}),
	}
	n.read = n.readSecret
	for _, s := range Sinks {
		n.queues[s] = make(chan Notification, o.QueueSize)
	}
	if o.Registry != nil {
		if err := o.Registry.Register(n.results); err != nil {
			return nil, fmt.Errorf("registering hotreload_notifications_total: %w", err)
		}
	}
	return n, nil
}

// Notify queues x for every sink, without waiting. The sinks' workers decide,
// from the Secret as it is when they send, whether x goes anywhere.
func (n *Notifier) Notify(x Notification) {
	if x.Time.IsZero() {
		x.Time = n.o.Now()
	}
	for _, s := range Sinks {
		select {
		case n.queues[s] <- x:
		default:
			n.results.WithLabelValues(string(s), "dropped").Inc()
			n.o.Log.Info("notification dropped: the sink's queue is full", "sink", s, "kind", x.Kind, "namespace", x.Namespace, "source", x.Source.Name)
		}
	}
}

// NeedLeaderElection says the notifier runs on every replica.
func (n *Notifier) NeedLeaderElection() bool { return false }

// Start sends what is queued until ctx ends.
func (n *Notifier) Start(ctx context.Context) error {
	var wg sync.WaitGroup
	for s, q := range n.queues {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case x := <-q:
					n.deliver(ctx, s, x)
				}
			}
		})
	}
	wg.Wait()
	return nil
}

// deliver sends x to sink s if the Secret says so, trying again as o.Retry
// says.
func (n *Notifier) deliver(ctx context.Context, s Sink, x Notification) {
	log := n.o.Log.WithValues("sink", s, "kind", x.Kind, "namespace", x.Namespace, "source", x.Source.Kind+"/"+x.Source.Name)
	var last error
	for i := 1; i <= n.o.Retry.Attempts; i++ {
		cfg, err := n.config(ctx)
		if err != nil && !isTransient(err) {
			return // no Secret, or an unusable one (logged once)
		}
		if err == nil && !cfg.sends(s, x.Kind) {
			return
		}
		var after time.Duration
		if err == nil {
			after, err = send(ctx, cfg, s, x)
			if err == nil {
				n.results.WithLabelValues(string(s), "sent").Inc()
				log.V(1).Info("notification sent", "attempt", i)
				return
			}
			var refused refusal
			if errors.As(err, &refused) {
				log.Info("notification refused by its receiver; not sent again", "status", int(refused))
				n.results.WithLabelValues(string(s), "failed").Inc()
				return
			}
		}
		last = err
		if i == n.o.Retry.Attempts {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(n.o.Retry.wait(i, after)):
		}
	}
	log.Info("notification not sent", "attempts", n.o.Retry.Attempts, "error", last.Error())
	n.results.WithLabelValues(string(s), "failed").Inc()
}

// refusal is a receiver's final no: a 4xx other than 408 and 429.
type refusal int

func (r refusal) Error() string { return fmt.Sprintf("the receiver answered %d", int(r)) }

// send makes one attempt; after is how long a 429 asks to wait. Its errors
// never quote the URL, which can hold a credential.
func send(ctx context.Context, cfg Config, s Sink, x Notification) (after time.Duration, err error) {
	x.Cluster = cfg.Cluster
	x = withMessage(Withheld(x))
	var body []byte
	switch s {
	case Slack:
		body, err = slackBody(x)
	default:
		body, err = webhookBody(x)
	}
	if err != nil {
		return 0, err
	}
	ep := cfg.Endpoints[s]
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		return 0, errors.New("building the request failed")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "hotreload-notifier")
	if ep.Authorization != "" {
		req.Header.Set("Authorization", ep.Authorization)
	}
	resp, err := cfg.Client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			return 0, ue.Err // the cause without the URL
		}
		return 0, errors.New("the request failed")
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return 0, nil
	case c == http.StatusTooManyRequests:
		secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		return time.Duration(max(secs, 0)) * time.Second, fmt.Errorf("the receiver answered %d", c)
	case c == http.StatusRequestTimeout || c >= 500:
		return 0, fmt.Errorf("the receiver answered %d", c)
	default:
		return 0, refusal(c)
	}
}

// config returns the Secret's configuration, read at most once per
// o.ConfigTTL: errNotConfigured without the Secret, an unusable error when
// it is wrong (both kept for o.ConfigTTL and logged once), a transient one
// when it could not be read (not kept: the next attempt reads again).
func (n *Notifier) config(ctx context.Context) (Config, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	now := n.o.Now()
	if n.cached != nil && now.Sub(n.cached.at) < n.o.ConfigTTL {
		return n.cached.cfg, n.cached.err
	}
	cfg, err := n.read(ctx)
	if isTransient(err) {
		return Config{}, err
	}
	n.cached = &loaded{at: now, cfg: cfg, err: err}
	if said := fmt.Sprint(err); said != n.said {
		n.said = said
		switch {
		case err == nil:
			n.o.Log.Info("notifications configured", "secret", n.o.Secret.String(), "sinks", len(cfg.Endpoints), "events", cfg.Kinds)
		case errors.Is(err, errNotConfigured):
			n.o.Log.V(1).Info("no notifications Secret: notifications are off", "secret", n.o.Secret.String())
		default:
			n.o.Log.Info("the notifications Secret is unusable: notifications are off until it is mended", "secret", n.o.Secret.String(), "problem", err.Error())
		}
	}
	return cfg, err
}

// readSecret reads the Secret.
func (n *Notifier) readSecret(ctx context.Context) (Config, error) {
	var s corev1.Secret
	if err := n.o.Reader.Get(ctx, n.o.Secret, &s); err != nil {
		if apierrors.IsNotFound(err) {
			return Config{}, errNotConfigured
		}
		return Config{}, transient{err}
	}
	return ParseConfig(s.Data)
}

// transient is an error reading the Secret that a later attempt may not meet.
type transient struct{ error }

func (t transient) Unwrap() error { return t.error }

func isTransient(err error) bool {
	var t transient
	return errors.As(err, &t)
}
