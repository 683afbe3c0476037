package validate

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The test binary doubles as an app's config check, as `nginx -t` is: run
// with HOTRELOAD_TEST_CHILD=check it writes lines and exits with CHECK_EXIT;
// with CHECK_HANG it never ends, and with CHECK_GRANDCHILD it leaves a
// process behind that holds its output open, its PID written to CHILD_RECORD.
func TestMain(m *testing.M) {
	switch os.Getenv("HOTRELOAD_TEST_CHILD") {
	case "check":
		runCheck()
	case "grandchild":
		for {
			time.Sleep(time.Hour)
		}
	}
	os.Exit(m.Run())
}

func runCheck() {
	for i := range 30 {
		fmt.Printf("check line %d\n", i)
	}
	fmt.Fprintf(os.Stderr, "config: [emerg] \x1b[31munknown directive\x1b[0m in %s\n", os.Getenv("CHILD_CONFIG"))
	if os.Getenv("CHECK_GRANDCHILD") != "" {
		g := exec.Command(os.Args[0], "-test.run=^$")
		g.Env = append(os.Environ(), "HOTRELOAD_TEST_CHILD=grandchild")
		g.Stdout, g.Stderr = os.Stdout, os.Stderr
		if err := g.Start(); err != nil {
			os.Exit(5)
		}
		os.WriteFile(os.Getenv("CHILD_RECORD"), []byte(strconv.Itoa(g.Process.Pid)), 0o644)
	}
	if os.Getenv("CHECK_HANG") != "" {
		for {
			time.Sleep(time.Hour)
		}
	}
	code, _ := strconv.Atoi(os.Getenv("CHECK_EXIT"))
	os.Exit(code)
}

// checkCommand is the test binary run as an app's config check.
func checkCommand(t *testing.T, env ...string) []string {
	t.Helper()
	record := filepath.Join(t.TempDir(), "record")
	for _, e := range append([]string{"HOTRELOAD_TEST_CHILD=check", "CHILD_CONFIG=/etc/app/app.conf", "CHILD_RECORD=" + record}, env...) {
		k, v, _ := strings.Cut(e, "=")
		t.Setenv(k, v)
	}
	return []string{os.Args[0], "-test.run=^$", "hotreload-test-check"}
}

func TestCheckerCheck(t *testing.T) {
	tail := func(from int) string {
		var lines []string
		for i := from; i < 30; i++ {
			lines = append(lines, fmt.Sprintf("check line %d", i))
		}
		lines = append(lines, `config: [emerg] \x1b[31munknown directive\x1b[0m in /etc/app/app.conf`)
		return strings.Join(lines, `\n`)
	}
	tests := []struct {
		name string
		env  []string
		want Verdict
	}{
		{"accepts a config the check exits 0 on", []string{"CHECK_EXIT=0"}, Verdict{OK: true, Exit: 0, Output: tail(11)}},
		{"refuses one it exits non-zero on, with the last lines of its output, escaped", []string{"CHECK_EXIT=1"},
			Verdict{Exit: 1, Output: tail(11)}},
		{"refuses one it never finishes on", []string{"CHECK_HANG=1"},
			Verdict{Exit: -1, Output: tail(11), Problem: "no answer within 500ms (killed)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := &Checker{Command: checkCommand(t, tc.env...), Timeout: 500 * time.Millisecond}
			assert.Equal(t, tc.want, v.Check(context.Background()))
		})
	}
}

func TestCheckerOfACommandThatCannotStart(t *testing.T) {
	v := &Checker{Command: []string{"/nonexistent/nginx", "-t"}}
	got := v.Check(context.Background())
	assert.Equal(t, Verdict{Exit: -1, Problem: "fork/exec /nonexistent/nginx: no such file or directory", NotRun: true}, got)
}

// TestAsk: the reloader asks over a real Unix socket, and a
// validator that is gone, or answers nothing, is a fault, not a refusal.
func TestAsk(t *testing.T) {
	dir := t.TempDir()
	socket := filepath.Join(dir, "nginx.sock")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	_, err := Ask(ctx, socket, "abc", time.Second)
	require.ErrorIs(t, err, ErrUnavailable, "no validator yet")

	v := &Checker{Command: checkCommand(t, "CHECK_EXIT=2"), Timeout: 2 * time.Second}
	os.WriteFile(socket, []byte("stale"), 0o600) // a socket the validator's previous run left
	ln, err := Listen(socket)
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- v.Serve(ctx, ln) }()
	got, err := Ask(ctx, socket, "abc", 2*time.Second)
	require.NoError(t, err)
	assert.Equal(t, Verdict{Exit: 2, Output: v.Check(ctx).Output, Command: v.Command}, got)

	cancel()
	require.NoError(t, <-served, "the validator stops with its context")
	_, err = Ask(context.Background(), socket, "abc", time.Second)
	require.ErrorIs(t, err, ErrUnavailable, "the validator stopped")
}

func TestAskThatNeverAnswers(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "app.sock")
	ln, err := Listen(socket)
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			defer c.Close()
			time.Sleep(time.Minute)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = Ask(ctx, socket, "abc", time.Second)
	require.ErrorIs(t, err, ErrUnavailable)
	assert.Contains(t, err.Error(), "no verdict")
}

func TestLastLines(t *testing.T) {
	assert.Equal(t, "", lastLines(nil))
	assert.Equal(t, `a\nb`, lastLines([]byte("\n\na\r\n  \nb\n\n")), "blank lines and carriage returns go")
	long := lastLines([]byte(strings.Repeat("é", 1000)))
	assert.LessOrEqual(t, len(long), verdictBytes)
	assert.True(t, strings.HasPrefix(long, "…é"), "cut at the front, on a character")
	assert.Equal(t, "bad \uFFFD byte", lastLines([]byte("bad \xff byte")), "invalid UTF-8 replaced")
}

func TestPrintable(t *testing.T) {
	assert.Equal(t, "tab\tstays, \\x1b[2J, \\a, \\u202e, \\x00 escaped; é stays", Printable("tab\tstays, \x1b[2J, \a, \u202e, \x00 escaped; é stays"))
}
