package contract

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Version is the contract version this build writes, and the newest it reads.
//
// Version 1 is the layout of docs/design/2026-11-24-pod-layout.md. Pods
// injected before the version was recorded carry no --contract flag and are
// version 1 too: their layout is the same.
//
// Version 2 (docs/design/2026-12-01-config-releases.md) mounts each part of a
// reloaded volume at SrcDir/V/i with its stable twin at StableDir/V/i, names
// the parts of a volume of several (--part), and always waits for a release.
const Version = 2

// versionFlag is the flag every command line carries its version in.
const versionFlag = "contract"

// ErrNewerContract means a command line was written by a newer hotreload than
// this build: it cannot know what the newer flags mean.
var ErrNewerContract = errors.New("written by a newer hotreload")

// checkVersion returns an error for a version this build cannot read.
func checkVersion(v int) error {
	switch {
	case v < 1:
		return fmt.Errorf("--%s %d: versions start at 1", versionFlag, v)
	case v > Version:
		return fmt.Errorf("contract version %d: %w (this build reads versions 1 to %d)", v, ErrNewerContract, Version)
	}
	return nil
}

// CheckVersion fails with ErrNewerContract when a command line (the flags of
// one command) names a contract version newer than this build's. It reads
// only --contract, so that it can answer for a command line whose other flags
// this build does not know: call it before parsing them.
func CheckVersion(args []string) error {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return nil
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != versionFlag {
			continue
		}
		if !hasValue {
			if i+1 == len(args) {
				return nil
			}
			value = args[i+1]
		}
		if v, err := strconv.Atoi(value); err == nil && v > Version {
			return checkVersion(v)
		}
		return nil
	}
	return nil
}

func versionArgs(v int) []string {
	if v == 0 {
		v = Version
	}
	return []string{"--" + versionFlag, strconv.Itoa(v)}
}
