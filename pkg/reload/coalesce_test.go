package reload

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hotreload/hotreload/pkg/revision"
)

// runCoalescer runs c with apply in the background until the test ends.
func runCoalescer(t *testing.T, c *Coalescer, apply func(ctx context.Context, rev string) error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx, apply)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// TestABurstOfReleasesDeliversOnceWithTheNewest releases 100 revisions within
// a second while the kubelet has mounted only the newest, as it does: the app
// gets exactly one signal, with the newest config.
func TestABurstOfReleasesDeliversOnceWithTheNewest(t *testing.T) {
	l, write := newLive(t)
	write(files("app.conf", "v=0"), files("tls.crt", "A"))
	stageAndSwap(t, l, "")
	config := filepath.Join(l.LiveRoot, "config", "app.conf")
	c := startChild(t, config)
	d := &Deliverer{Procs: fakeProc(t, cid, c.cmd.Process.Pid), Method: Method{Signal: syscall.SIGHUP}, Grace: 50 * time.Millisecond}

	var revs []string
	for i := 1; i <= 100; i++ {
		revs = append(revs, revision.Revision(map[string]revision.Files{
			"config": {"app.conf": revision.DigestOf(fmt.Appendf(nil, "v=%d", i))},
			"tls":    {"tls.crt": revision.DigestOf([]byte("A"))},
		}))
	}
	require.Equal(t, revs[99], write(files("app.conf", "v=100"), files("tls.crt", "A")))

	start, _ := l.LiveRevision()
	co := NewCoalescer(true, start)
	applied := make(chan string, 100)
	runCoalescer(t, co, func(ctx context.Context, rev string) error {
		s, err := l.Stage(ctx, rev)
		if err != nil {
			return err
		}
		if err := s.Swap(); err != nil {
			return err
		}
		_, err = d.Deliver(context.WithoutCancel(ctx), cid)
		applied <- rev
		return err
	})
	for _, r := range revs {
		co.Released(r)
	}
	select {
	case got := <-applied:
		assert.Equal(t, revs[99], got)
	case <-time.After(30 * time.Second):
		t.Fatal("no revision applied")
	}
	// The Coalescer records the apply once the function returns, just after
	// it sent on applied.
	require.Eventually(t, func() bool { return co.Applied() == revs[99] }, 30*time.Second, time.Millisecond,
		"the Coalescer records %s applied, not %s", revs[99], co.Applied())

	// One more release, after the burst: the Coalescer applies in order, so
	// once it is applied, anything the burst caused has been too. Exactly one
	// apply and one signal came of the burst.
	next := write(files("app.conf", "v=101"), files("tls.crt", "A"))
	co.Released(next)
	select {
	case got := <-applied:
		assert.Equal(t, next, got, "the burst applied once")
	case <-time.After(30 * time.Second):
		t.Fatal("the release after the burst was not applied")
	}
	assert.Equal(t, []string{"ready", "SIGHUP 5 v=100", "SIGHUP 5 v=101"}, c.waitLines(t, 3))
	assert.Empty(t, applied, "nothing else was applied")
}

// TestCoalescerNeverAppliesAnOlderRevisionAfterANewerOne sends random bursts
// of distinct revisions to an apply of random duration: what is applied is
// always in release order, and the last release is applied in the end.
func TestCoalescerNeverAppliesAnOlderRevisionAfterANewerOne(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	ra := rand.New(rand.NewPCG(7, 8)) // the apply goroutine's own
	co := NewCoalescer(true, "r0")
	co.Debounce = time.Millisecond
	var mu sync.Mutex
	var applied []int
	index := map[string]int{}
	for i := range 300 {
		index[fmt.Sprintf("r%d", i)] = i
	}
	runCoalescer(t, co, func(ctx context.Context, rev string) error {
		select {
		case <-ctx.Done():
			return ctx.Err() // superseded while waiting
		case <-time.After(time.Duration(ra.IntN(3)) * time.Millisecond):
		}
		mu.Lock()
		applied = append(applied, index[rev])
		mu.Unlock()
		return nil
	})
	for i := 1; i < 300; i++ {
		co.Released(fmt.Sprintf("r%d", i))
		if r.IntN(10) == 0 {
			time.Sleep(time.Duration(r.IntN(5)) * time.Millisecond)
		}
	}
	require.Eventually(t, func() bool { return co.Applied() == "r299" }, 30*time.Second, time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	assert.IsIncreasing(t, applied)
	assert.Equal(t, 299, applied[len(applied)-1])
}

func TestCoalescerFollowsMountsOnlyWithoutWaitRelease(t *testing.T) {
	for _, wait := range []bool{true, false} {
		t.Run(fmt.Sprintf("wait release %v", wait), func(t *testing.T) {
			co, applied := recordingCoalescer(t, wait, "r0")
			co.Released("r0") // the pod as first seen: released what runs
			co.Mounted("r1")
			co.Released("r2")
			want := []string{"r2"}
			if !wait {
				// The mount may apply before the release arrives, or be coalesced.
				got := <-applied
				if got == "r1" {
					got = <-applied
				}
				assert.Equal(t, "r2", got)
				return
			}
			assert.Equal(t, want[0], <-applied)
		})
	}
}

// Without the release gate (rollout 100%) the mounted files lead: a released
// value seen before, repeated by a later update of the pod, must not pull the
// process back to that older revision.
func TestCoalescerIgnoresARepeatedReleaseAfterANewerMount(t *testing.T) {
	co, applied := recordingCoalescer(t, false, "r1")
	co.Released("r1")
	co.Mounted("r2")
	require.Equal(t, "r2", <-applied)
	co.Released("r1") // the same annotation, on the next update of the pod
	expectNoApply(t, applied)
	co.Released("r3") // a new release counts
	assert.Equal(t, "r3", <-applied)
	assert.Empty(t, applied, "nothing else applied")
}

// A stale released value on the pod when the reloader starts, older than what
// it mounted, is not applied without the release gate.
func TestCoalescerWithoutGateDoesNotApplyTheFirstReleaseSeen(t *testing.T) {
	co, applied := recordingCoalescer(t, false, "r2")
	co.Released("r1")
	expectNoApply(t, applied)
	co.Mounted("r3")
	assert.Equal(t, "r3", <-applied)
	assert.Empty(t, applied, "nothing else applied")
}

// recordingCoalescer runs a Coalescer, with a short debounce, whose applies
// succeed and are sent on the returned channel.
func recordingCoalescer(t *testing.T, waitRelease bool, applied string) (*Coalescer, chan string) {
	t.Helper()
	co := NewCoalescer(waitRelease, applied)
	co.Debounce = time.Millisecond
	ch := make(chan string, 10)
	runCoalescer(t, co, func(_ context.Context, rev string) error {
		ch <- rev
		return nil
	})
	return co, ch
}

// After a failed apply, a release of the revision applied before it (a revert)
// is applied again: the failed apply may have left the live copy at the
// failed revision.
func TestCoalescerAppliesARevertAfterAFailure(t *testing.T) {
	co := NewCoalescer(true, "r1")
	co.Debounce = time.Millisecond
	applied := make(chan string, 10)
	runCoalescer(t, co, func(_ context.Context, rev string) error {
		applied <- rev
		if rev == "r2" {
			return errors.New("process died after the reload signal")
		}
		return nil
	})
	co.Released("r2")
	require.Equal(t, "r2", recv(t, applied))
	co.Released("r1")
	assert.Equal(t, "r1", recv(t, applied))
	require.Eventually(t, func() bool { return co.Applied() == "r1" }, 10*time.Second, time.Millisecond)
}

// A revision released while another is being applied, and whose own apply
// then fails, is not applied again: a failed revision waits for a new target
// (the fix or the revert). Applied again, to an app that crashed on it and is
// not running, it would be reported applied and clear hotreload/failed.
func TestCoalescerDoesNotApplyAFailedRevisionAgain(t *testing.T) {
	co := NewCoalescer(true, "r1")
	co.Debounce = time.Millisecond
	applied := make(chan string, 10)
	releasing := make(chan struct{})
	runCoalescer(t, co, func(_ context.Context, rev string) error {
		applied <- rev
		switch rev {
		case "r2":
			<-releasing // r3 is released while r2 is applied
		case "r3":
			return errors.New("process died after the reload signal")
		}
		return nil
	})
	co.Released("r2")
	require.Equal(t, "r2", recv(t, applied))
	co.Released("r3")
	close(releasing)
	require.Equal(t, "r3", recv(t, applied))
	expectNoApply(t, applied)
	co.Released("r4")
	assert.Equal(t, "r4", recv(t, applied))
}

// A revision that failed before the Coalescer started (a sidecar restart
// after the failure) is not applied on the pod updates that still release
// it, and not by a rollback to what runs. Released again after that (a
// retry), it is applied.
func TestCoalescerDoesNotApplyARevisionThatFailedBeforeItStarted(t *testing.T) {
	co := NewCoalescer(true, "r1")
	co.Debounce = time.Millisecond
	co.Failed("r2")
	applied := make(chan string, 10)
	runCoalescer(t, co, func(_ context.Context, rev string) error {
		applied <- rev
		return nil
	})
	co.Released("r2")
	co.Mounted("r2")
	expectNoApply(t, applied)
	co.Released("r1")
	expectNoApply(t, applied)
	co.Released("r2")
	assert.Equal(t, "r2", recv(t, applied))
	require.Eventually(t, func() bool { return co.Applied() == "r2" }, 10*time.Second, time.Millisecond)
}

// recv returns the next apply, failing the test if none comes.
func recv(t *testing.T, applied <-chan string) string {
	t.Helper()
	select {
	case rev := <-applied:
		return rev
	case <-time.After(10 * time.Second):
		t.Fatal("no apply")
		return ""
	}
}

// expectNoApply fails if an apply starts within many debounce periods.
func expectNoApply(t *testing.T, applied <-chan string) {
	t.Helper()
	select {
	case rev := <-applied:
		t.Fatalf("applied %s", rev)
	case <-time.After(300 * time.Millisecond):
	}
}

func TestPercentile(t *testing.T) {
	ds := []time.Duration{5, 1, 4, 2, 3, 10, 9, 8, 7, 6}
	assert.Equal(t, []time.Duration{5, 9, 10, 1}, []time.Duration{percentile(ds, 50), percentile(ds, 90), percentile(ds, 100), percentile(ds, 1)})
	assert.Equal(t, []time.Duration{5, 1, 4, 2, 3, 10, 9, 8, 7, 6}, ds, "the input is left alone")
	assert.Equal(t, time.Duration(0), percentile(nil, 50))
}
