package reload

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"
)

// BenchmarkReleaseToSignal measures the time from a released revision (already
// mounted, as after the kubelet's write) to the app receiving the signal with
// the verified live copy: stage, verify, swap, find, signal. The grace period
// after the signal is excluded. Besides ns/op (the mean) it reports the median
// as ms-p50 and the 90th percentile as ms-p90, the figures the README quotes.
func BenchmarkReleaseToSignal(b *testing.B) {
	l, write := newLive(b)
	write(files("app.conf", "v=0"), files("tls.crt", "A"))
	stageAndSwap(b, l, "")
	app := startChild(b, filepath.Join(l.LiveRoot, "config", "app.conf"))
	procs := fakeProc(b, cid, app.cmd.Process.Pid)
	co := NewCoalescer(true, "")
	co.Debounce = time.Millisecond
	applied := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go co.Run(ctx, func(ctx context.Context, rev string) error {
		s, err := l.Stage(ctx, rev)
		if err != nil {
			return err
		}
		if err := s.Swap(); err != nil {
			return err
		}
		pid, err := procs.Find(cid, nil)
		if err == nil {
			err = syscall.Kill(pid, syscall.SIGHUP)
		}
		applied <- struct{}{}
		return err
	})
	i := 0
	var took []time.Duration
	for b.Loop() {
		b.StopTimer()
		i++
		rev := write(files("app.conf", fmt.Sprintf("v=%d", i)), files("tls.crt", "A"))
		b.StartTimer()
		start := time.Now()
		co.Released(rev)
		<-applied
		app.waitLines(b, i+1) // the app read the new file
		took = append(took, time.Since(start))
	}
	b.ReportMetric(percentile(took, 50).Seconds()*1000, "ms-p50")
	b.ReportMetric(percentile(took, 90).Seconds()*1000, "ms-p90")
}

// percentile returns the p-th percentile of ds (nearest rank).
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)*p+99)/100-1]
}
