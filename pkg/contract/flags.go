package contract

import (
	"flag"
	"io"
	"strings"
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

// repeatFlag is a flag that may be repeated, each value taken whole: paths
// may hold commas.
type repeatFlag []string

func (r *repeatFlag) String() string { return strings.Join(*r, " ") }

func (r *repeatFlag) Set(v string) error {
	*r = append(*r, v)
	return nil
}

// Sources names the kubelet-managed sources and the live copies of the
// reloaded volumes: install and run share them.
type Sources struct {
	// SrcDir holds the source of volume V at SrcDir/V; LiveDir its live copy at LiveDir/V.
	SrcDir, LiveDir string
	// Volumes are the reloaded volumes, in pod order.
	Volumes []string
}

func (s *Sources) register(fs *flag.FlagSet) {
	fs.StringVar(&s.SrcDir, "src-dir", SrcDir, "directory holding the kubelet-managed source of each volume, as `DIR`/<volume>")
	fs.StringVar(&s.LiveDir, "live-dir", LiveDir, "directory holding the live copy of each volume, as `DIR`/<volume>")
	fs.Var((*listFlag)(&s.Volumes), "volume", "a `VOLUME` to keep a live copy of (repeatable, or comma-separated)")
}

func (s Sources) args() []string {
	args := []string{"--src-dir", or(s.SrcDir, SrcDir), "--live-dir", or(s.LiveDir, LiveDir)}
	for _, v := range s.Volumes {
		args = append(args, "--volume", v)
	}
	return args
}

// quiet returns a flag set that prints nothing, for parsing a pod's arguments.
func quiet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
