package contract

import "github.com/hotreload/hotreload/pkg/contract/version"

// Version is the contract version this build writes, and the newest it reads
// (see package version for what each version means).
const Version = version.Current

// versionFlag is the flag every command line carries its version in.
const versionFlag = version.Flag

// ErrNewerContract means a command line was written by a newer hotreload than
// this build: it cannot know what the newer flags mean.
var ErrNewerContract = version.ErrNewer

// checkVersion returns an error for a version this build cannot read.
func checkVersion(v int) error { return version.Check(v) }

// CheckVersion fails with ErrNewerContract when a command line (the flags of
// one command) names a contract version newer than this build's. It reads
// only --contract, so that it can answer for a command line whose other flags
// this build does not know: call it before parsing them.
func CheckVersion(args []string) error { return version.CheckArgs(args) }

func versionArgs(v int) []string { return version.Args(v) }
