// Package procmem reads a process's memory figures from /proc, for the
// benchmarks that report a sidecar's resident set size.
package procmem

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// StatusMiB returns the named fields of /proc/PID/status (VmRSS, RssAnon,
// RssFile, ...), each given there in kB, in MiB. A field the file lacks is
// an error.
func StatusMiB(pid int, names ...string) ([]float64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	kib := map[string]int64{}
	for s := bufio.NewScanner(f); s.Scan(); {
		name, v, ok := strings.Cut(s.Text(), ":")
		if !ok {
			continue
		}
		if n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64); err == nil {
			kib[name] = n
		}
	}
	out := make([]float64, len(names))
	for i, name := range names {
		n, ok := kib[name]
		if !ok {
			return nil, fmt.Errorf("no %s in /proc/%d/status", name, pid)
		}
		out[i] = float64(n) / 1024
	}
	return out, nil
}
