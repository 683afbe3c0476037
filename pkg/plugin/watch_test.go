package plugin

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
)

// lockedBuffer is a buffer the watch loop writes while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestWatchLoop(t *testing.T) {
	// each rendering; an error is shown in place of the status
	frames := []struct {
		text string
		err  error
	}{{"phase Progressing\n", nil}, {"phase Progressing\n", nil}, {"", errors.New("connection refused")}, {"phase Halted\n", nil}}

	run := func(t *testing.T, terminal bool) string {
		ctx, cancel := context.WithCancel(context.Background())
		changed := make(chan struct{})
		rendered := make(chan int)
		n := 0
		render := func(context.Context) (string, error) {
			f := frames[n]
			n++
			if n == len(frames) {
				defer cancel() // the watch ends after the last rendering
			}
			rendered <- n
			return f.text, f.err
		}
		var out lockedBuffer
		done := make(chan error, 1)
		go func() { done <- watchLoop(ctx, &out, terminal, changed, render) }()
		for i := range frames {
			assert.Equal(t, i+1, <-rendered)
			if i < len(frames)-1 {
				changed <- struct{}{}
			}
		}
		assert.NoError(t, <-done)
		return out.String()
	}

	t.Run("prints a rendering only when it differs from the last, after a blank line", func(t *testing.T) {
		assert.Equal(t, "phase Progressing\n\nerror: connection refused (watching on)\n\nphase Halted\n", run(t, false))
	})

	t.Run("redraws in place on a terminal", func(t *testing.T) {
		assert.Equal(t, clearScreen+"phase Progressing\n"+clearScreen+"phase Progressing\n"+clearScreen+"error: connection refused (watching on)\n"+clearScreen+"phase Halted\n", run(t, true))
	})
}

func TestRedraw(t *testing.T) {
	var b bytes.Buffer
	last := redraw(&b, false, "", "a\n")
	last = redraw(&b, false, last, "a\n")
	last = redraw(&b, false, last, "b\n")
	assert.Equal(t, "b\n", last)
	assert.Equal(t, "a\n\nb\n", b.String())
}
