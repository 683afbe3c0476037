// Package version is the contract version of the command lines the webhook
// writes and hotreload's binaries read. It is a leaf of the standard library
// alone, so that the validator, a binary kept small, reads its command line
// the way the reloader reads its own.
package version

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Current is the contract version this build writes, and the newest it reads.
//
// Version 1 is the layout of docs/design/2026-11-24-pod-layout.md. Pods
// injected before the version was recorded carry no --contract flag and are
// version 1 too: their layout is the same.
//
// Version 2 (docs/design/2026-12-01-config-releases.md) mounts each part of a
// reloaded volume at SrcDir/V/i with its stable twin at StableDir/V/i, names
// the parts of a volume of several (--part), and always waits for a release.
//
// Version 3 tells each app container in its own way: run's --signal-for,
// --url-for, --process-for and --confirm-for CONTAINER=VALUE give a
// container another value than --signal, --url, --process and --confirm.
// Its layout is version 2's.
const Current = 3

// Flag is the flag every command line carries its version in.
const Flag = "contract"

// Usage is the help text of Flag.
const Usage = "contract `VERSION` the webhook wrote this command line with"

// ErrNewer means a command line was written by a newer hotreload than this
// build: it cannot know what the newer flags mean.
var ErrNewer = errors.New("written by a newer hotreload")

// Check returns an error for a version this build cannot read.
func Check(v int) error {
	switch {
	case v < 1:
		return fmt.Errorf("--%s %d: versions start at 1", Flag, v)
	case v > Current:
		return fmt.Errorf("contract version %d: %w (this build reads versions 1 to %d)", v, ErrNewer, Current)
	}
	return nil
}

// CheckArgs fails with ErrNewer when a command line (the flags of one
// command) names a contract version newer than this build's. It reads only
// --contract, so that it can answer for a command line whose other flags this
// build does not know: call it before parsing them.
func CheckArgs(args []string) error {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return nil
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != Flag {
			continue
		}
		if !hasValue {
			if i+1 == len(args) {
				return nil
			}
			value = args[i+1]
		}
		if v, err := strconv.Atoi(value); err == nil && v > Current {
			return Check(v)
		}
		return nil
	}
	return nil
}

// Args returns the flag that records version v (Current when 0).
func Args(v int) []string {
	if v == 0 {
		v = Current
	}
	return []string{"--" + Flag, strconv.Itoa(v)}
}
