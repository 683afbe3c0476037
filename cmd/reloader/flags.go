package main

import (
	"flag"
	"strings"
)

// Default paths of the injected pod layout (docs/design/2026-11-24-pod-layout.md).
const (
	defaultSrcDir  = "/var/run/hotreload/src"
	defaultLiveDir = "/var/run/hotreload/live"
)

// listFlag is a flag that may be repeated; each value may also be a
// comma-separated list.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for s := range strings.SplitSeq(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// volumeFlags are the flags install and run share to name the live copies.
type volumeFlags struct {
	srcDir, liveDir string
	volumes         listFlag
}

func (v *volumeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&v.srcDir, "src-dir", defaultSrcDir, "directory holding the kubelet-managed source of each volume, as `DIR`/<volume>")
	fs.StringVar(&v.liveDir, "live-dir", defaultLiveDir, "directory holding the live copy of each volume, as `DIR`/<volume>")
	fs.Var(&v.volumes, "volume", "a volume to keep a live copy of (repeatable, or comma-separated)")
}
