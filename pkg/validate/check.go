// Package validate runs an app's own check of a staged config revision, in
// the app's image, and carries its verdict to the reloader over a Unix
// socket (docs/design/2026-12-07-verified-apply.md). It links the standard
// library alone: the validator is a process in every pod that asks for a
// check, and its idle memory is budgeted.
package validate

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// Bounds of what a check's output may put into a pod annotation and an Event.
const (
	verdictLines = 20
	verdictBytes = 800
	// captureBytes is how much of a check's output is kept while it runs:
	// the end, of which the last lines are the verdict's.
	captureBytes = 64 << 10
)

// Verdict is the answer of one check of a staged revision.
type Verdict struct {
	// OK is true when the command exited 0.
	OK bool `json:"ok"`
	// Exit is the command's exit status; -1 when it did not finish.
	Exit int `json:"exit"`
	// Output is the last lines of what the command wrote (stdout and stderr
	// together), bounded, control characters escaped.
	Output string `json:"output,omitempty"`
	// Problem says why the command did not finish: it could not start, or
	// it ran out of time and was killed.
	Problem string `json:"problem,omitempty"`
	// NotRun is true when the command could not start (not found, not
	// executable): no verdict of the app's, a fault of the check's setup.
	NotRun bool `json:"notRun,omitempty"`
	// Command is the check that ran, as the validator was started with it.
	Command []string `json:"command,omitempty"`
}

// Checker runs the app's own check of a staged revision: a command fixed
// when it starts (the pod's hotreload/validate), run anew for each check, in
// the app's image. Nothing a caller sends can change what it runs.
type Checker struct {
	Command []string
	// Timeout bounds one run; DefaultTimeout when zero. At the
	// timeout the command's whole process group is killed.
	Timeout time.Duration
	Log     *slog.Logger

	mu sync.Mutex // one check at a time
}

func (v *Checker) timeout() time.Duration {
	if v.Timeout == 0 {
		return DefaultTimeout
	}
	return v.Timeout
}

// Check runs the command once and returns its verdict.
func (v *Checker) Check(ctx context.Context) Verdict {
	v.mu.Lock()
	defer v.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, v.timeout())
	defer cancel()
	out := &tailBuffer{max: captureBytes}
	cmd := exec.CommandContext(ctx, v.Command[0], v.Command[1:]...)
	cmd.Stdout, cmd.Stderr = out, out
	killGroupOnCancel(cmd)
	// A child that keeps the output open must not hold the answer.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	verdict := Verdict{Exit: -1, Output: lastLines(out.Bytes())}
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		verdict.Problem = fmt.Sprintf("no answer within %s (killed)", v.timeout())
	case err == nil:
		verdict.OK, verdict.Exit = true, 0
	case errors.As(err, &exit) && exit.Exited():
		verdict.Exit = exit.ExitCode()
	case errors.As(err, &exit):
		verdict.Problem = exit.String() // "signal: segmentation fault"
	default:
		verdict.Problem, verdict.NotRun = Printable(err.Error()), true // could not start
	}
	return verdict
}

// checkRequest is what the reloader sends: the revision is for the log only.
type checkRequest struct {
	Revision string `json:"revision"`
}

// Serve answers checks on ln, one request and one answer per connection,
// until ctx ends.
func (v *Checker) Serve(ctx context.Context, ln net.Listener) error {
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		go v.answer(ctx, conn)
	}
}

func (v *Checker) answer(ctx context.Context, conn net.Conn) {
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var req checkRequest
	line, err := bufio.NewReader(io.LimitReader(conn, 1024)).ReadBytes('\n')
	if err != nil || json.Unmarshal(line, &req) != nil {
		return // not a reloader
	}
	start := time.Now()
	verdict := v.Check(ctx)
	verdict.Command = v.Command
	if v.Log != nil {
		v.Log.Info("checked a staged revision", "revision", Printable(req.Revision), "ok", verdict.OK, "exit", verdict.Exit,
			"problem", verdict.Problem, "took", time.Since(start).Round(time.Millisecond))
	}
	conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	json.NewEncoder(conn).Encode(verdict)
}

// ErrUnavailable means the validator gave no verdict: it is not
// running, it crashed, or it did not answer in time. A fault, not the app's
// verdict on the config.
var ErrUnavailable = errors.New("validator unavailable")

// Ask asks the validator listening on socket to check the staged
// revision rev, and returns its verdict. It waits for the validator's own
// timeout and a margin; a validator that gives no verdict by then is
// ErrUnavailable.
func Ask(ctx context.Context, socket, rev string, timeout time.Duration) (Verdict, error) {
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout+5*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return Verdict{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	if err := json.NewEncoder(conn).Encode(checkRequest{Revision: rev}); err != nil {
		return Verdict{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	var verdict Verdict
	if err := json.NewDecoder(io.LimitReader(conn, 16<<10)).Decode(&verdict); err != nil {
		return Verdict{}, fmt.Errorf("%w: no verdict: %v", ErrUnavailable, err)
	}
	// The validator runs in the app's image: trust none of its text.
	verdict.Output = Printable(verdict.Output)
	verdict.Problem = Printable(verdict.Problem)
	for i, a := range verdict.Command {
		verdict.Command[i] = Printable(a)
	}
	return verdict, nil
}

// Listen opens the validator's Unix socket at path, replacing the socket a
// previous run of the validator left. The socket's directory is an emptyDir
// mounted in the reloader and the validators only, never in the app.
func Listen(path string) (net.Listener, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	// The reloader may run as another user (root with KILL only, where the
	// app's user is unknown): the directory, not the mode, keeps others out.
	if err := os.Chmod(path, 0o666); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) Bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return bytes.Clone(t.b)
}

// lastLines returns the last non-blank lines of out, at most verdictLines of
// them and verdictBytes in all (cut at the front), each line's newline shown
// as \n: one line of text for an annotation and an Event.
func lastLines(out []byte) string {
	var lines []string
	for l := range strings.SplitSeq(strings.ToValidUTF8(string(out), "\uFFFD"), "\n") {
		if l = strings.TrimRight(l, "\r \t"); strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	lines = lines[max(0, len(lines)-verdictLines):]
	s := Printable(strings.Join(lines, "\n"))
	if len(s) <= verdictBytes {
		return s
	}
	const ellipsis = "…"
	cut := len(s) - (verdictBytes - len(ellipsis))
	for cut < len(s) && !utf8.RuneStart(s[cut]) {
		cut++
	}
	return ellipsis + s[cut:]
}

// Printable escapes control and format characters (ANSI escapes, bidi
// overrides) in s, keeping tabs: text another program wrote, made safe for an
// annotation, an Event, a log line and a terminal.
func Printable(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsControl(r) && r != '\t' || unicode.Is(unicode.Cf, r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
