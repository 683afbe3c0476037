package reload

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/contract"
	"github.com/hotreload/hotreload/pkg/validate"
)

// ErrRefused marks a revision the app refused: its reload URL answered with
// an error, or the confirmation (hotreload/confirm) failed. It is a verdict
// on the config, and its message starts the halt's cause.
var ErrRefused = errors.New("refused by the app")

// refusal is the app's verdict against a revision, with what it said.
type refusal struct {
	detail string
	cause  error // besides ErrRefused; nil for none
}

func (e *refusal) Error() string { return ErrRefused.Error() + ": " + e.detail }

func (e *refusal) Unwrap() []error {
	if e.cause == nil {
		return []error{ErrRefused}
	}
	return []error{ErrRefused, e.cause}
}

// refused returns the app's refusal, "refused by the app: " and the detail;
// errors.Is matches ErrRefused, and cause when it is not nil.
func refused(cause error, format string, args ...any) error {
	return &refusal{detail: fmt.Sprintf(format, args...), cause: cause}
}

// isVerdict reports whether err is the app's own verdict on a revision (it
// refused it, or died on it) rather than a fault outside the config.
func isVerdict(err error) bool {
	return errors.Is(err, ErrRefused) || errors.Is(err, ErrProcessDied)
}

func (d *Deliverer) confirmTimeout() time.Duration {
	if d.ConfirmTimeout == 0 {
		return contract.DefaultConfirmTimeout
	}
	return d.ConfirmTimeout
}

// confirmPoll is how often a confirmation looks at the app again.
const confirmPoll = 10 * time.Millisecond

// awaitWorkers waits, until the confirm timeout counted from told, for a
// child of pid that was not among before: the new workers of a master that
// accepted its new config. The master must stay alive meanwhile.
func (d *Deliverer) awaitWorkers(ctx context.Context, containerID string, pid int, before []int, told time.Time) error {
	old := make(map[int]bool, len(before))
	for _, c := range before {
		old[c] = true
	}
	deadline := told.Add(d.confirmTimeout())
	t := time.NewTicker(confirmPoll)
	defer t.Stop()
	for {
		if !d.Procs.Alive(pid) {
			return d.died(pid)
		}
		kids, err := d.Procs.Children(pid, containerID)
		if err != nil {
			return err
		}
		for _, k := range kids {
			if !old[k] {
				return nil
			}
		}
		if !time.Now().Before(deadline) {
			return refused(nil, "no new worker of pid %d within %s after %s: it kept its old config", pid, d.confirmTimeout(), d.Method)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// confirmURL reads the confirmation URL until it answers 2xx (and, for a
// metric, until the metric has its value), or the confirm timeout counted
// from told passes; then the last answer is the refusal.
func (d *Deliverer) confirmURL(ctx context.Context, told time.Time) error {
	deadline := told.Add(d.confirmTimeout())
	client := loopbackClient()
	var last error
	for {
		rctx, cancel := context.WithDeadline(ctx, deadline)
		err := d.readConfirmation(rctx, client)
		cut := rctx.Err() != nil
		cancel()
		if err == nil {
			return nil
		}
		if last == nil || !cut {
			last = err // a read the deadline cut short says nothing new
		}
		wait := min(100*time.Millisecond, time.Until(deadline))
		if wait <= 0 {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		if !time.Now().Before(deadline) {
			break
		}
	}
	if errors.Is(last, ErrRefused) {
		return last
	}
	return refused(nil, "no 2xx answer within %s after %s: %v", d.confirmTimeout(), d.Method, last)
}

// readConfirmation reads the confirmation URL once: nil when it confirms.
func (d *Deliverer) readConfirmation(ctx context.Context, client *http.Client) error {
	c := d.Confirm
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL, nil)
	if err != nil {
		return fmt.Errorf("GET %s: %w", c.URL, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", c.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return refused(nil, "GET %s: %s: %s", c.URL, resp.Status, firstLine(body))
	}
	if c.Mode != annotations.ConfirmMetric {
		return nil
	}
	got, found, err := sampleOf(io.LimitReader(resp.Body, maxMetricsBody), c.Metric)
	switch {
	case err != nil:
		return fmt.Errorf("GET %s: %w", c.URL, err)
	case !found:
		return refused(nil, "GET %s: no sample of %s", c.URL, c.Metric)
	case !sameValue(got, c.Value):
		return refused(nil, "GET %s: %s is %s, want %s", c.URL, c.Metric, got, c.Value)
	}
	return nil
}

// maxMetricsBody bounds what is read of a metrics page: a Prometheus server's
// own page is a few hundred KiB.
const maxMetricsBody = 8 << 20

// sampleOf returns the value of the first sample of metric in a page of the
// Prometheus text format (labels, if any, are not looked at), and whether
// there is one. It reads a sample's name and value and nothing else, so the
// sidecar needs no parser of the whole format (and its protobuf runtime).
func sampleOf(r io.Reader, metric string) (string, bool, error) {
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		rest, ok := strings.CutPrefix(line, metric)
		if !ok || rest == "" || line[0] == '#' {
			continue
		}
		switch rest[0] {
		case '{':
			end := strings.LastIndexByte(rest, '}')
			if end < 0 {
				continue
			}
			rest = rest[end+1:]
		case ' ', '\t':
		default:
			continue // another metric whose name starts with this one
		}
		if f := strings.Fields(rest); len(f) > 0 {
			return f[0], true, nil
		}
	}
	return "", false, s.Err()
}

// sameValue compares two sample values as numbers when both are, else as text.
func sameValue(got, want string) bool {
	g, err1 := strconv.ParseFloat(got, 64)
	w, err2 := strconv.ParseFloat(want, 64)
	if err1 != nil || err2 != nil {
		return got == want
	}
	return g == w
}

// firstLine returns the first non-blank line of an answer, bounded, with
// control characters escaped: it goes into a pod annotation and an Event.
func firstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	s, _, _ = strings.Cut(s, "\n")
	return validate.Printable(annotations.Shorten(strings.TrimSpace(s), 300))
}

// loopbackClient is the HTTP client of the reload POST and the confirmation
// GET: no proxy, no kept connection, connections to loopback addresses only,
// and no redirect off loopback.
func loopbackClient() *http.Client {
	dialer := &net.Dialer{Control: loopbackOnly}
	return &http.Client{
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true, DialContext: dialer.DialContext},
		CheckRedirect: func(req *http.Request, _ []*http.Request) error {
			return annotations.CheckLoopbackURL(req.URL.String())
		},
	}
}
