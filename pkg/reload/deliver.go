package reload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"syscall"
	"time"
)

var (
	// ErrProcessDied means the target process was gone or a zombie after the
	// grace period that followed the signal.
	ErrProcessDied = errors.New("process died after the reload signal")
	// ErrHTTPStatus means the reload URL answered with a non-2xx status.
	ErrHTTPStatus = errors.New("reload URL answered with an error status")
	// ErrNotLoopback means the reload URL does not name a loopback host.
	ErrNotLoopback = errors.New("reload URL must use a loopback host (127.0.0.1, ::1 or localhost)")
	// ErrUnknownSignal means a signal name is not one the reloader can send.
	ErrUnknownSignal = errors.New("unknown signal")
)

// DefaultRetries is how often `reloader run` tries a delivery again after a
// transient failure.
const DefaultRetries = 3

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

var signals = map[string]syscall.Signal{
	"HUP": syscall.SIGHUP, "INT": syscall.SIGINT, "QUIT": syscall.SIGQUIT, "USR1": syscall.SIGUSR1,
	"USR2": syscall.SIGUSR2, "TERM": syscall.SIGTERM, "WINCH": syscall.SIGWINCH, "ALRM": syscall.SIGALRM,
	"CONT": syscall.SIGCONT, "TTIN": syscall.SIGTTIN, "TTOU": syscall.SIGTTOU, "PWR": syscall.SIGPWR,
}

// Method is how the app is told to reload: a signal, an HTTP POST to a
// loopback URL, or nothing (the zero Method) for apps that watch their files.
type Method struct {
	Signal syscall.Signal
	URL    string
}

// ParseMethod returns the Method for a signal name ("SIGHUP", "hup", or
// "none") and a URL; a non-empty URL takes precedence over the signal.
func ParseMethod(signal, rawURL string) (Method, error) {
	if rawURL != "" {
		if err := checkLoopback(rawURL); err != nil {
			return Method{}, err
		}
		return Method{URL: rawURL}, nil
	}
	name := strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(signal)), "SIG")
	if name == "NONE" {
		return Method{}, nil
	}
	sig, ok := signals[name]
	if !ok {
		return Method{}, fmt.Errorf("%q: %w", signal, ErrUnknownSignal)
	}
	return Method{Signal: sig}, nil
}

// String names the method for logs and reports.
func (m Method) String() string {
	switch {
	case m.URL != "":
		return "POST " + m.URL
	case m.Signal != 0:
		for name, s := range signals {
			if s == m.Signal {
				return "SIG" + name
			}
		}
		return m.Signal.String()
	}
	return "none"
}

func checkLoopback(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("reload URL %q: %w", rawURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("reload URL %q: scheme must be http or https: %w", rawURL, ErrNotLoopback)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("reload URL %q: %w", rawURL, ErrNotLoopback)
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
	for attempt := 0; ; attempt++ {
		pid, err := d.deliverOnce(ctx, containerID)
		if err == nil || !isTransient(err) || attempt >= d.Retries {
			if err != nil && attempt > 0 {
				err = fmt.Errorf("after %d attempts: %w", attempt+1, err)
			}
			return pid, err
		}
		select {
		case <-ctx.Done():
			return pid, err
		case <-time.After(delay):
		}
		delay *= 2
	}
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
	if err := syscall.Kill(pid, d.Method.Signal); err != nil {
		return pid, fmt.Errorf("send %s to pid %d: %w", d.Method, pid, err)
	}
	select {
	case <-ctx.Done():
		return pid, ctx.Err()
	case <-time.After(d.GraceOrDefault()):
	}
	if !d.Procs.Alive(pid) {
		return pid, fmt.Errorf("pid %d after %s: %w", pid, d.Method, ErrProcessDied)
	}
	return pid, nil
}

func (d *Deliverer) post(ctx context.Context) error {
	if err := checkLoopback(d.Method.URL); err != nil {
		return err
	}
	timeout := d.Timeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
		CheckRedirect: func(req *http.Request, _ []*http.Request) error {
			return checkLoopback(req.URL.String())
		},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.Method.URL, nil)
	if err != nil {
		return fmt.Errorf("POST %s: %w", d.Method.URL, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		// Not listening (yet), or too slow: the app may be restarting its listener.
		return transientError{fmt.Errorf("POST %s: %w", d.Method.URL, err)}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		err := fmt.Errorf("POST %s: %s: %q: %w", d.Method.URL, resp.Status, strings.TrimSpace(string(body)), ErrHTTPStatus)
		switch resp.StatusCode {
		case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return transientError{err}
		}
		return err
	}
	return nil
}
