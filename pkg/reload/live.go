package reload

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/hotreload/hotreload/pkg/contract"
	"github.com/hotreload/hotreload/pkg/revision"
)

const (
	dataDirName    = revision.DataDir
	newDataDirName = "..data_tmp"
	// maxCopyDepth bounds directory nesting when copying, so a symlink loop in
	// a source cannot make a copy run forever.
	maxCopyDepth = 32
	// maxChoices bounds the config parts with two contents whose combinations
	// are searched for a revision: 2^maxChoices assemblies at most.
	maxChoices = 10
)

var (
	// ErrVerifyTimeout means the mounted sources did not hash to the wanted
	// revision within the allowed time.
	ErrVerifyTimeout = errors.New("mounted config did not reach the revision in time")
	// ErrSourceMissing means the source of a volume is not mounted where the
	// reloader's arguments say: the pod does not match the reloader's command
	// line. Nothing can be reloaded, so the reloader stops at once.
	ErrSourceMissing = errors.New("volume source is not mounted")
	// ErrTooManyChoices means more config parts than maxChoices differ
	// between their candidate and their stable twin.
	ErrTooManyChoices = errors.New("too many parts differ from their stable twin to search")
)

// Live is the set of live copies of a pod's volumes: LiveRoot/<volume> is
// assembled from the volume's parts, each config part from its candidate
// (the user's source) or its stable twin, in the kubelet's layout (..data ->
// ..<timestamp>, one symlink per top-level entry). Only the reloader writes it.
type Live struct {
	// SrcRoot and Volumes describe volumes of one part each, mounted at
	// SrcRoot/<volume> (contract version 1), when Layout is empty.
	SrcRoot string
	Volumes []string
	// Layout, when set, is where each volume's parts are mounted (contract
	// version 2). Volumes must name the same volumes.
	Layout   []contract.Volume
	LiveRoot string
	// Poll is how often a wait re-reads the sources; 50ms when zero.
	Poll time.Duration
	// Exclude holds, per volume of contract version 1, the paths that are not
	// config and are left out of its revision (revision.ExcludedPaths: a
	// projected volume's downwardAPI items). They are still copied, so the app
	// sees them. Set it before the Live is used concurrently. From version 2
	// those items are parts of their own (contract.PartDownward).
	Exclude map[string][]string

	// hook, when set, runs before each step of a swap; an error stops the
	// swap there, as a crash would. Tests use it.
	hook func(step string) error
}

// layout returns where each volume's parts are mounted.
func (l *Live) layout() []contract.Volume {
	if len(l.Layout) > 0 {
		return l.Layout
	}
	out := make([]contract.Volume, len(l.Volumes))
	for i, v := range l.Volumes {
		out[i] = contract.Volume{Name: v, Parts: []contract.Part{{Kind: contract.PartConfig, Candidate: filepath.Join(l.SrcRoot, v)}}}
	}
	return out
}

// mounted is what the sources hold now: per volume, per part, the files of
// its candidate and of its stable twin (nil without a twin).
type mounted [][]partFiles

type partFiles struct {
	kind              contract.PartKind
	candidate, stable revision.Files
	// hasStable is true when the twin is mounted and holds a file.
	hasStable bool
}

// readMounted reads every part's candidate and stable twin.
func (l *Live) readMounted() (mounted, error) {
	vols := l.layout()
	out := make(mounted, len(vols))
	for i, v := range vols {
		out[i] = make([]partFiles, len(v.Parts))
		for j, p := range v.Parts {
			f, err := revision.DirFiles(p.Candidate)
			if err != nil {
				return nil, fmt.Errorf("volume %s: %w", v.Name, err)
			}
			pf := partFiles{kind: p.Kind, candidate: f}
			if p.Stable != "" {
				s, err := revision.DirFiles(p.Stable)
				switch {
				case errors.Is(err, os.ErrNotExist):
				case err != nil:
					return nil, fmt.Errorf("volume %s, stable: %w", v.Name, err)
				default:
					pf.stable, pf.hasStable = s, len(s) > 0
				}
			}
			out[i][j] = pf
		}
	}
	return out, nil
}

// choice says, per volume and part, whether the stable twin is taken.
type choice [][]bool

// revisionOf returns the pod revision the choice assembles.
func (l *Live) revisionOf(m mounted, c choice) string {
	vols := l.layout()
	files := make(map[string]revision.Files, len(vols))
	for i, v := range vols {
		f := revision.Files{}
		for j, p := range m[i] {
			if p.kind != contract.PartConfig {
				continue
			}
			src := p.candidate
			if c[i][j] {
				src = p.stable
			}
			for path, d := range src {
				f[path] = d
			}
		}
		files[v.Name] = l.config(v.Name, f)
	}
	return revision.Revision(files)
}

// config returns the files of volume v that make its revision.
func (l *Live) config(v string, f revision.Files) revision.Files {
	if ex := l.Exclude[v]; len(ex) > 0 {
		return f.Without(ex)
	}
	return f
}

// allCandidates is the choice of every candidate: what the user's sources hold.
func allCandidates(m mounted) choice {
	c := make(choice, len(m))
	for i := range m {
		c[i] = make([]bool, len(m[i]))
	}
	return c
}

// firstChoice is what a pod starts on: each config part's stable twin where
// it holds anything, else its candidate (no stable copy made yet).
func firstChoice(m mounted) choice {
	c := allCandidates(m)
	for i := range m {
		for j, p := range m[i] {
			c[i][j] = p.hasStable
		}
	}
	return c
}

// find returns the choice that assembles revision want, and false when none
// does.
func (l *Live) find(m mounted, want string) (choice, bool, error) {
	type at struct{ i, j int }
	var open []at
	for i := range m {
		for j, p := range m[i] {
			if p.kind == contract.PartConfig && p.stable != nil && !equalFiles(p.candidate, p.stable) {
				open = append(open, at{i, j})
			}
		}
	}
	if len(open) > maxChoices {
		return nil, false, fmt.Errorf("%d parts: %w", len(open), ErrTooManyChoices)
	}
	c := allCandidates(m)
	for bits := 0; bits < 1<<len(open); bits++ {
		for k, o := range open {
			c[o.i][o.j] = bits&(1<<k) != 0
		}
		if l.revisionOf(m, c) == want {
			return c, true, nil
		}
	}
	return nil, false, nil
}

func equalFiles(a, b revision.Files) bool {
	if len(a) != len(b) {
		return false
	}
	for p, d := range a {
		if e, ok := b[p]; !ok || e != d {
			return false
		}
	}
	return true
}

// SourceRevision returns the pod revision of the candidates: what the users'
// sources hold, as mounted.
func (l *Live) SourceRevision() (string, error) {
	m, err := l.readMounted()
	if err != nil {
		return "", err
	}
	return l.revisionOf(m, allCandidates(m)), nil
}

// LiveRevision returns the pod revision of the live copies.
func (l *Live) LiveRevision() (string, error) {
	vols := l.layout()
	excluded, err := l.downwardPaths()
	if err != nil {
		return "", err
	}
	files := make(map[string]revision.Files, len(vols))
	for _, v := range vols {
		f, err := revision.DirFiles(filepath.Join(l.LiveRoot, v.Name))
		if err != nil {
			return "", err
		}
		files[v.Name] = l.config(v.Name, f.Without(excluded[v.Name]))
	}
	return revision.Revision(files), nil
}

// downwardPaths returns, per volume, the paths its downwardAPI parts write,
// which are not config.
func (l *Live) downwardPaths() (map[string][]string, error) {
	out := map[string][]string{}
	for _, v := range l.layout() {
		for _, p := range v.Parts {
			if p.Kind != contract.PartDownward {
				continue
			}
			f, err := revision.DirFiles(p.Candidate)
			if err != nil {
				return nil, fmt.Errorf("volume %s: %w", v.Name, err)
			}
			for path := range f {
				out[v.Name] = append(out[v.Name], path)
			}
		}
	}
	for v := range out {
		slices.Sort(out[v])
	}
	return out, nil
}

// CheckSources fails with ErrSourceMissing, naming the volume and the path,
// when a candidate is not a directory mounted where the layout says.
func (l *Live) CheckSources() error {
	for _, v := range l.layout() {
		for _, p := range v.Parts {
			fi, err := os.Stat(p.Candidate)
			switch {
			case err != nil:
				return fmt.Errorf("volume %s: %s: %w (the pod must mount volume %s there; was it injected by another hotreload version?)", v.Name, p.Candidate, ErrSourceMissing, v.Name)
			case !fi.IsDir():
				return fmt.Errorf("volume %s: %s is not a directory: %w", v.Name, p.Candidate, ErrSourceMissing)
			}
		}
	}
	return nil
}
