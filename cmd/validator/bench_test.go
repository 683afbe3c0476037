package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hotreload/hotreload/internal/procmem"
	"github.com/hotreload/hotreload/pkg/validate"
)

// BenchmarkValidatorIdleRSS builds the validator, starts it as a pod starts
// it, has it answer one check, lets it idle and reports its resident set
// size (VmRSS) in MiB: every pod that asks for validation pays it.
func BenchmarkValidatorIdleRSS(b *testing.B) {
	dir := b.TempDir()
	bin := filepath.Join(dir, "validator")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, ".")
	build.Stderr = os.Stderr
	require.NoError(b, build.Run(), "go build the validator")
	socket := filepath.Join(dir, "app.sock")
	c := validate.CommandLine{Socket: socket, Command: []string{"/bin/true"}}
	cmd := exec.Command(bin, c.Args()...)
	require.NoError(b, cmd.Start())
	b.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	require.Eventually(b, func() bool {
		_, err := validate.Ask(b.Context(), socket, "3f2a9c1b7d4e", time.Second)
		return err == nil
	}, 10*time.Second, 10*time.Millisecond, "the validator answers a check")

	var rss, anon, file float64
	for b.Loop() {
		time.Sleep(2 * time.Second) // idle
		st, err := procmem.StatusMiB(cmd.Process.Pid, "VmRSS", "RssAnon", "RssFile")
		require.NoError(b, err)
		rss, anon, file = st[0], st[1], st[2]
	}
	b.ReportMetric(rss, "MiB-RSS")
	b.ReportMetric(anon, "MiB-anon")
	b.ReportMetric(file, "MiB-file")
	b.ReportMetric(0, "ns/op")
}
