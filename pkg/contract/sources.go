package contract

import (
	"cmp"
	"flag"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// PartKind is what one part of a reloaded volume holds.
type PartKind string

// The kinds of part a reloaded volume is made of.
const (
	// PartConfig is a configMap or secret source: mounted as the candidate
	// (the user's source) and, from contract version 2, as the stable twin.
	PartConfig PartKind = "config"
	// PartDownward is the downwardAPI source of a projected volume: copied into
	// the live copy, left out of the revision, with no stable twin.
	PartDownward PartKind = "downward"
)

// Sources names the kubelet-managed sources and the live copies of the
// reloaded volumes: install and run share them.
type Sources struct {
	// SrcDir holds the candidate mounts: SrcDir/V/i for part i of volume V
	// (SrcDir/V, the whole volume, in contract version 1).
	SrcDir string
	// StableDir holds the stable twins of the config parts: StableDir/V/i.
	StableDir string
	// LiveDir holds the live copy of volume V at LiveDir/V.
	LiveDir string
	// Volumes are the reloaded volumes, in pod order.
	Volumes []string
	// Parts lists, for each volume of more than one part, its parts in order
	// (later parts' paths replace earlier ones', as the kubelet projects
	// them). A volume not listed is one config part.
	Parts map[string][]PartKind
}

// Volume is one reloaded volume and where each of its parts is mounted.
type Volume struct {
	Name  string
	Parts []Part
}

// Part is one part of a reloaded volume: where its candidate is mounted,
// and its stable twin ("" for a downwardAPI part, and in version 1).
type Part struct {
	Kind              PartKind
	Candidate, Stable string
}

// Layout returns each reloaded volume with the directories of its parts, as
// contract version v lays them out.
func (s Sources) Layout(v int) []Volume {
	out := make([]Volume, 0, len(s.Volumes))
	for _, name := range s.Volumes {
		vol := Volume{Name: name}
		if v < 2 {
			vol.Parts = []Part{{Kind: PartConfig, Candidate: filepath.Join(s.SrcDir, name)}}
			out = append(out, vol)
			continue
		}
		kinds := s.Parts[name]
		if len(kinds) == 0 {
			kinds = []PartKind{PartConfig}
		}
		for i, k := range kinds {
			p := Part{Kind: k, Candidate: filepath.Join(s.SrcDir, name, strconv.Itoa(i))}
			if k == PartConfig {
				p.Stable = filepath.Join(s.StableDir, name, strconv.Itoa(i))
			}
			vol.Parts = append(vol.Parts, p)
		}
		out = append(out, vol)
	}
	return out
}

// LivePath is the live copy of volume v: a directory the reloader creates
// once and never replaces, in which it swaps the ..data symlink.
func LivePath(v string) string { return LiveDir + "/" + v }

// CandidatePath is where part i of volume v is mounted in the sidecar, from
// contract version 2; StablePath its stable twin.
func CandidatePath(v string, i int) string { return SrcDir + "/" + v + "/" + strconv.Itoa(i) }

// StablePath is where the stable twin of part i of volume v is mounted.
func StablePath(v string, i int) string { return StableDir + "/" + v + "/" + strconv.Itoa(i) }

// partsFlag parses repeated --part VOLUME=KIND values into Sources.Parts.
type partsFlag struct{ m *map[string][]PartKind }

func (p partsFlag) String() string {
	if p.m == nil {
		return ""
	}
	var s []string
	for v, ks := range *p.m {
		for _, k := range ks {
			s = append(s, v+"="+string(k))
		}
	}
	return strings.Join(s, " ")
}

func (p partsFlag) Set(v string) error {
	name, kind, ok := strings.Cut(v, "=")
	switch k := PartKind(kind); {
	case !ok || name == "":
		return fmt.Errorf("%q: want VOLUME=%s or VOLUME=%s", v, PartConfig, PartDownward)
	case k != PartConfig && k != PartDownward:
		return fmt.Errorf("%q: unknown part kind %q: want %s or %s", v, kind, PartConfig, PartDownward)
	default:
		if *p.m == nil {
			*p.m = map[string][]PartKind{}
		}
		(*p.m)[name] = append((*p.m)[name], k)
	}
	return nil
}

func (s *Sources) register(fs *flag.FlagSet) {
	fs.StringVar(&s.SrcDir, "src-dir", SrcDir, "directory holding the kubelet-managed candidate of each volume's part i, as `DIR`/<volume>/i")
	fs.StringVar(&s.StableDir, "stable-dir", StableDir, "directory holding the stable twin of each volume's config part i, as `DIR`/<volume>/i")
	fs.StringVar(&s.LiveDir, "live-dir", LiveDir, "directory holding the live copy of each volume, as `DIR`/<volume>")
	fs.Var((*listFlag)(&s.Volumes), "volume", "a `VOLUME` to keep a live copy of (repeatable, or comma-separated)")
	fs.Var(partsFlag{&s.Parts}, "part", "`VOLUME=KIND`: the next part of a volume of several parts, config or downward (repeatable, in order)")
}

// check fails for parts of a volume that is not reloaded.
func (s Sources) check() error {
	for v := range s.Parts {
		found := false
		for _, name := range s.Volumes {
			found = found || name == v
		}
		if !found {
			return fmt.Errorf("--part of %q, which is not a --volume", v)
		}
	}
	if len(s.Volumes) == 0 {
		return ErrNoVolume
	}
	return nil
}

func (s Sources) args() []string {
	args := []string{"--src-dir", cmp.Or(s.SrcDir, SrcDir), "--stable-dir", cmp.Or(s.StableDir, StableDir), "--live-dir", cmp.Or(s.LiveDir, LiveDir)}
	for _, v := range s.Volumes {
		args = append(args, "--volume", v)
	}
	for _, v := range s.Volumes {
		if ks := s.Parts[v]; len(ks) > 1 || len(ks) == 1 && ks[0] != PartConfig {
			for _, k := range ks {
				args = append(args, "--part", v+"="+string(k))
			}
		}
	}
	return args
}
