package main

import (
	"flag"
	"strings"

	"github.com/hotreload/hotreload/pkg/mutate"
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

// volumeOptions name the live copies: install and run share them. Their
// defaults are the paths of the injected pod's layout (pkg/mutate/layout.go).
type volumeOptions struct {
	SrcDir, LiveDir string
	Volumes         []string
}

func (v *volumeOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&v.SrcDir, "src-dir", mutate.SrcDir, "directory holding the kubelet-managed source of each volume, as `DIR`/<volume>")
	fs.StringVar(&v.LiveDir, "live-dir", mutate.LiveDir, "directory holding the live copy of each volume, as `DIR`/<volume>")
	fs.Var((*listFlag)(&v.Volumes), "volume", "a volume to keep a live copy of (repeatable, or comma-separated)")
}
