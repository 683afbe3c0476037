package reload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/contract"
)

var (
	// ErrProcessDied means the target process was gone or a zombie after the
	// grace period that followed the signal: the app's verdict on the config.
	ErrProcessDied = errors.New("process died after")
	// ErrHTTPStatus means the reload URL answered with a non-2xx status.
	ErrHTTPStatus = errors.New("reload URL answered with an error status")
	// ErrNotLoopback means the reload URL does not reach a loopback address.
	ErrNotLoopback = errors.New("reload URL must reach a loopback address (127.0.0.0/8, ::1 or localhost)")
	// ErrUnknownSignal means a signal name does not resolve to a Linux signal.
	ErrUnknownSignal = errors.New("unknown signal")
)

// transientError marks a delivery failure that may pass on its own: the app
// not listening yet, answering 429, 502, 503 or 504, or the container's
// process not visible yet. Deliver tries those again, a bounded number of
// times; every other failure (a non-2xx answer such as 500 for a bad config,
// a process that dies after the signal) is final at once.
type transientError struct{ error }

func (e transientError) Unwrap() error { return e.error }

func isTransient(err error) bool {
	var t transientError
	return errors.As(err, &t) || errors.Is(err, ErrNoProcess)
}

// Method is how the app is told to reload: a signal, an HTTP POST to a
// loopback URL, or nothing (the zero Method) for apps that watch their files.
type Method struct {
	Signal syscall.Signal
	URL    string
}

// MethodOf returns the Method of a delivery parsed by pkg/contract: the
// signal resolved by its Linux name (golang.org/x/sys/unix), the URL checked
// with the webhook's own rule.
func MethodOf(d contract.Delivery) (Method, error) {
	if d.URL != "" {
		if err := annotations.CheckLoopbackURL(d.URL); err != nil {
			return Method{}, fmt.Errorf("reload URL %q: %v: %w", d.URL, err, ErrNotLoopback)
		}
		return Method{URL: d.URL}, nil
	}
	if d.Signal == "" || d.Signal == annotations.SignalNone {
		return Method{}, nil
	}
	sig := unix.SignalNum(string(d.Signal))
	if sig == 0 {
		return Method{}, fmt.Errorf("%q: %w", d.Signal, ErrUnknownSignal)
	}
	return Method{Signal: sig}, nil
}

// String names the method for logs and reports.
func (m Method) String() string {
	switch {
	case m.URL != "":
		return "POST " + m.URL
	case m.Signal != 0:
		if name := unix.SignalName(m.Signal); name != "" {
			return name
		}
		return m.Signal.String()
	}
	return "none"
}

// Deliverer tells the app's process to reload.
type Deliverer struct {
	Procs  Procs
	Method Method
	// Process, when set, picks the target process by its command line
	// instead of the container's main process.
	Process *regexp.Regexp
	// Grace is how long the app must keep running after it is told; 1s when
	// zero.
	Grace time.Duration
	// Timeout bounds an HTTP delivery; 5s when zero.
	Timeout time.Duration
	// Retries is how often a delivery that failed transiently is tried again
	// (none when zero), after RetryDelay, doubling each time (250ms when zero).
	Retries    int
	RetryDelay time.Duration
	// Confirm is how the app's acceptance is known after it was told; the
	// zero value is the method's default (the process alive after the grace,
	// the POST's own answer).
	Confirm annotations.Confirmation
	// ConfirmTimeout bounds a confirmation that waits for the app, from the
	// delivery; contract.DefaultConfirmTimeout when zero.
	ConfirmTimeout time.Duration
}

// NewDeliverer returns the Deliverer of a delivery and timing parsed by
// pkg/contract.
func NewDeliverer(d contract.Delivery, t contract.Timing) (*Deliverer, error) {
	m, err := MethodOf(d)
	if err != nil {
		return nil, err
	}
	out := &Deliverer{Method: m, Grace: t.Grace, Retries: t.Retries, Confirm: d.Confirm, ConfirmTimeout: t.ConfirmTimeout}
	if d.Process != "" {
		if out.Process, err = regexp.Compile(d.Process); err != nil {
			return nil, fmt.Errorf("--process %q: %w", d.Process, err)
		}
	}
	return out, nil
}

// GraceOrDefault returns Grace, or 1s when it is zero.
func (d *Deliverer) GraceOrDefault() time.Duration {
	if d.Grace == 0 {
		return time.Second
	}
	return d.Grace
}

// Deliver tells the app in container id (the ID from the pod status, without
// the runtime prefix) to reload, and for a signal checks that the process is
// still alive after the grace period. A transient failure is tried again up
// to Retries times. It returns the PID it signalled (0 for HTTP or none).
func (d *Deliverer) Deliver(ctx context.Context, containerID string) (int, error) {
	delay := d.RetryDelay
	if delay == 0 {
		delay = 250 * time.Millisecond
	}
	var (
		pid      int
		last     error
		attempts int
	)
	backoff := wait.Backoff{Duration: delay, Factor: 2, Steps: d.Retries + 1}
	err := wait.ExponentialBackoffWithContext(ctx, backoff, func(ctx context.Context) (bool, error) {
		attempts++
		pid, last = d.deliverOnce(ctx, containerID)
		switch {
		case last == nil:
			return true, nil
		case !isTransient(last):
			return false, last
		}
		return false, nil
	})
	switch {
	case last == nil && err != nil:
		return pid, err // ctx ended before the first attempt
	case last == nil:
		return pid, nil
	case attempts > 1:
		return pid, fmt.Errorf("after %d attempts: %w", attempts, last)
	}
	return pid, last
}

func (d *Deliverer) deliverOnce(ctx context.Context, containerID string) (int, error) {
	switch {
	case d.Method.URL != "":
		return 0, d.post(ctx)
	case d.Method.Signal == 0:
		return 0, nil
	}
	pid, err := d.Procs.Find(containerID, d.Process)
	if err != nil {
		return 0, err
	}
	var workers []int
	if d.Confirm.Mode == annotations.ConfirmWorkers {
		if workers, err = d.Procs.Children(pid, containerID); err != nil {
			return pid, err
		}
	}
	told := time.Now()
	if err := d.signal(containerID, pid); err != nil {
		return pid, fmt.Errorf("send %s to pid %d: %w", d.Method, pid, err)
	}
	if err := d.watchGrace(ctx, pid); err != nil {
		return pid, err
	}
	if d.Confirm.Mode == annotations.ConfirmWorkers {
		return pid, d.awaitWorkers(ctx, containerID, pid, workers, told)
	}
	return pid, nil
}

// died is the error of a target process that died after it was told.
func (d *Deliverer) died(pid int) error {
	return fmt.Errorf("%w %s: pid %d", ErrProcessDied, d.Method, pid)
}

// signal sends the signal to pid through a pidfd, opened first and then
// checked to name a process of the container: a PID that the process found
// gave up, and the kernel gave another process since, is never signalled.
// Kernels without pidfds (before 5.3), or a seccomp profile that refuses
// them, fall back to kill(2) after the same check.
func (d *Deliverer) signal(containerID string, pid int) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil && !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EPERM) {
		return err
	}
	if err == nil {
		defer unix.Close(fd)
	}
	if !d.Procs.In(pid, containerID) {
		return fmt.Errorf("it left the container: %w", ErrNoProcess)
	}
	if err != nil {
		return syscall.Kill(pid, d.Method.Signal)
	}
	return unix.PidfdSendSignal(fd, d.Method.Signal, nil, 0)
}

// deathPoll is how often the signalled process is looked at during the grace.
// A process that dies on its new config is seen within it, so the previous
// live copy is back before the kubelet (which notices the exit within its
// one-second relist) starts the container again on the rejected files.
const deathPoll = 10 * time.Millisecond

// watchGrace watches pid for the grace period after its signal, and returns
// ErrProcessDied as soon as it is gone.
func (d *Deliverer) watchGrace(ctx context.Context, pid int) error {
	grace := time.NewTimer(d.GraceOrDefault())
	defer grace.Stop()
	poll := time.NewTicker(deathPoll)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-poll.C:
			if !d.Procs.Alive(pid) {
				return d.died(pid)
			}
		case <-grace.C:
			if !d.Procs.Alive(pid) {
				return d.died(pid)
			}
			return nil
		}
	}
}

// loopbackOnly refuses a connection to anything but a loopback address, so
// that a host name such as localhost can never lead the POST elsewhere.
func loopbackOnly(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("connect to %s: %w", address, ErrNotLoopback)
	}
	return nil
}

func (d *Deliverer) post(ctx context.Context) error {
	if err := annotations.CheckLoopbackURL(d.Method.URL); err != nil {
		return fmt.Errorf("reload URL %q: %v: %w", d.Method.URL, err, ErrNotLoopback)
	}
	timeout := d.Timeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.Method.URL, nil)
	if err != nil {
		return fmt.Errorf("POST %s: %w", d.Method.URL, err)
	}
	resp, err := loopbackClient().Do(req)
	if errors.Is(err, ErrNotLoopback) {
		return fmt.Errorf("POST %s: %w", d.Method.URL, err)
	}
	if err != nil {
		// Not listening (yet), or too slow: the app may be restarting its listener.
		return transientError{fmt.Errorf("POST %s: %w", d.Method.URL, err)}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return nil
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		// Busy or not ready: no verdict on the config yet.
		return transientError{fmt.Errorf("POST %s: %s: %s: %w", d.Method.URL, resp.Status, firstLine(body), ErrHTTPStatus)}
	}
	// Any other error answer is the app's refusal; its first line says why.
	return refused(ErrHTTPStatus, "POST %s: %s: %s", d.Method.URL, resp.Status, firstLine(body))
}
