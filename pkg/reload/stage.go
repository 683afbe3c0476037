package reload

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hotreload/hotreload/pkg/contract"
	"github.com/hotreload/hotreload/pkg/revision"
)

// FirstCopy makes sure every volume has a live copy: it checks the sources
// are mounted (ErrSourceMissing at once otherwise), repairs what a crash may
// have left, keeps a complete live copy, and otherwise assembles one from
// the stable twins (the candidates where no stable copy exists yet), waiting
// up to timeout for them to be readable.
func (l *Live) FirstCopy(ctx context.Context, timeout time.Duration) error {
	if err := l.CheckSources(); err != nil {
		return err
	}
	if err := l.Repair(); err != nil {
		return err
	}
	if l.Exists() {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	s, err := l.Stage(ctx, "")
	if err != nil {
		return fmt.Errorf("first live copy: %w", err)
	}
	if err := s.Swap(); err != nil {
		return fmt.Errorf("first live copy: %w", err)
	}
	return nil
}

// Staged is a verified copy of every volume at one revision, not yet live.
type Staged struct {
	live     *Live
	Revision string
	dirs     map[string]string // volume -> ..<timestamp> directory name
}

// Stage copies the mounted sources into new directories next to the live
// ones, as the choice of candidates and stable twins that assembles want, and
// checks that the copies hash to want. It retries until the mounts reach want
// or ctx ends (ErrVerifyTimeout when its deadline passed). An empty want
// stages what a pod starts on (firstChoice).
func (l *Live) Stage(ctx context.Context, want string) (*Staged, error) {
	poll := l.Poll
	if poll == 0 {
		poll = 50 * time.Millisecond
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	last, lastErr := "", error(nil)
	for {
		// A kubelet swap during the copy makes it fail or hash to another
		// revision: both are retried until ctx ends.
		s, got, err := l.stageOnce(want)
		switch {
		case err != nil:
			lastErr = err
		case s != nil:
			return s, nil
		default:
			last, lastErr = got, nil
		}
		select {
		case <-ctx.Done():
			if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, ctx.Err()
			}
			if lastErr != nil {
				return nil, fmt.Errorf("want revision %s: %w: %w", want, ErrVerifyTimeout, lastErr)
			}
			return nil, fmt.Errorf("want revision %s, mounted %s: %w", want, last, ErrVerifyTimeout)
		case <-t.C:
		}
	}
}

// stageOnce tries one copy. It returns the staged copy, or nil and the
// candidates' revision when want is not mounted (or moved under the copy).
func (l *Live) stageOnce(want string) (*Staged, string, error) {
	m, err := l.readMounted()
	if err != nil {
		return nil, "", err
	}
	c := firstChoice(m)
	if want != "" {
		var ok bool
		if c, ok, err = l.find(m, want); err != nil {
			return nil, "", err
		} else if !ok {
			return nil, l.revisionOf(m, allCandidates(m)), nil
		}
	}
	s, err := l.copyChoice(c)
	if err != nil {
		return nil, "", err
	}
	if want != "" && s.Revision != want {
		got := s.Revision
		s.Discard()
		return nil, got, nil
	}
	return s, "", nil
}

// copyChoice assembles each volume from its parts as c chooses, in order,
// into a new directory next to its live copy, and hashes the result.
func (l *Live) copyChoice(c choice) (*Staged, error) {
	s := &Staged{live: l, dirs: map[string]string{}}
	files := map[string]revision.Files{}
	for i, v := range l.layout() {
		liveDir := filepath.Join(l.LiveRoot, v.Name)
		if err := os.MkdirAll(liveDir, 0o755); err != nil {
			s.Discard()
			return nil, fmt.Errorf("live copy of %s: %w", v.Name, err)
		}
		// The copy the last swap replaced goes now, not at that swap: a
		// reader that had just followed ..data to it still found its files.
		if err := repairVolume(liveDir); err != nil {
			s.Discard()
			return nil, fmt.Errorf("live copy of %s: %w", v.Name, err)
		}
		ts, err := os.MkdirTemp(liveDir, time.Now().UTC().Format("..2006_01_02_15_04_05."))
		if err == nil {
			err = os.Chmod(ts, 0o755)
		}
		if err != nil {
			s.Discard()
			return nil, fmt.Errorf("live copy of %s: %w", v.Name, err)
		}
		s.dirs[v.Name] = filepath.Base(ts)
		var downward []string
		for j, p := range v.Parts {
			src := p.Candidate
			if c[i][j] {
				src = p.Stable
			}
			if p.Kind == contract.PartDownward {
				f, err := revision.DirFiles(src)
				if err != nil {
					s.Discard()
					return nil, fmt.Errorf("live copy of %s: %w", v.Name, err)
				}
				for path := range f {
					downward = append(downward, path)
				}
			}
			if err := copyVolume(src, ts); err != nil {
				s.Discard()
				return nil, fmt.Errorf("live copy of %s: %w", v.Name, err)
			}
		}
		f, err := revision.DirFiles(ts)
		if err != nil {
			s.Discard()
			return nil, fmt.Errorf("live copy of %s: %w", v.Name, err)
		}
		files[v.Name] = l.config(v.Name, f.Without(downward))
	}
	s.Revision = revision.Revision(files)
	return s, nil
}

// Discard removes the staged copies.
func (s *Staged) Discard() {
	for v, d := range s.dirs {
		os.RemoveAll(filepath.Join(s.live.LiveRoot, v, d))
	}
}

// Swap makes the staged copies live. The copies they replace stay until the
// next Stage, so that an app that was opening a file as ..data moved still
// finds it; there are never more than two copies of a volume.
func (s *Staged) Swap() error {
	_, err := s.SwapUndoable()
	return err
}

// Undo is a swap that can still be taken back, until the next Stage removes
// the copies it replaced.
type Undo struct {
	staged   *Staged
	previous map[string]string // volume -> the copy that was live, "" for none
}

// SwapUndoable makes the staged copies live, one volume at a time: each
// volume's ..data is replaced atomically, so a reader of a volume sees
// either the old or the new copy, never a mix. The old copies stay, for
// Back. A crash at any point leaves every volume at its old or new copy;
// Repair finishes the job.
func (s *Staged) SwapUndoable() (*Undo, error) {
	u := &Undo{staged: s, previous: map[string]string{}}
	for _, v := range s.live.layout() {
		dir := filepath.Join(s.live.LiveRoot, v.Name)
		prev, err := os.Readlink(filepath.Join(dir, dataDirName))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return u, fmt.Errorf("swap live copy of %s: %w", v.Name, err)
		}
		u.previous[v.Name] = prev
		if err := s.live.point(dir, s.dirs[v.Name], prev); err != nil {
			return u, fmt.Errorf("swap live copy of %s: %w", v.Name, err)
		}
	}
	return u, nil
}

// point makes dir's ..data point to copy, atomically, and its top-level links
// match that copy, keeping the copy named keep.
func (l *Live) point(dir, copy, keep string) error {
	if err := relinkData(dir, copy, l.step); err != nil {
		return err
	}
	if err := l.step("repair"); err != nil {
		return err
	}
	return repairVolume(dir, keep)
}

// relinkData makes dir's ..data link to target, atomically: a new link
// renamed over the old. step, when not nil, runs before each of the two (as
// Live.hook does).
func relinkData(dir, target string, step func(string) error) error {
	if step == nil {
		step = func(string) error { return nil }
	}
	if err := step("symlink"); err != nil {
		return err
	}
	tmp := filepath.Join(dir, newDataDirName)
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return err
	}
	if err := step("rename"); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, dataDirName))
}

// Back makes the copies the swap replaced live again, and removes the
// rejected staged ones at once: what the app reads is what it read before.
func (u *Undo) Back() error {
	l := u.staged.live
	for _, v := range l.layout() {
		dir := filepath.Join(l.LiveRoot, v.Name)
		prev := u.previous[v.Name]
		if prev == "" {
			continue // there was nothing before: keep the new copy
		}
		if err := l.point(dir, prev, ""); err != nil {
			return fmt.Errorf("swap back live copy of %s: %w", v.Name, err)
		}
	}
	return nil
}

func (l *Live) step(name string) error {
	if l.hook == nil {
		return nil
	}
	return l.hook(name)
}

// Repair brings every live volume back to a clean state after a crash: it
// removes a leftover ..data_tmp and copies that are not live, and makes the
// top-level symlinks match the live copy.
func (l *Live) Repair() error {
	for _, v := range l.layout() {
		dir := filepath.Join(l.LiveRoot, v.Name)
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err := repairVolume(dir); err != nil {
			return fmt.Errorf("repair live copy of %s: %w", v.Name, err)
		}
	}
	return nil
}

// Exists reports whether every volume has a live copy.
func (l *Live) Exists() bool {
	for _, v := range l.layout() {
		if _, err := os.Stat(filepath.Join(l.LiveRoot, v.Name, dataDirName)); err != nil {
			return false
		}
	}
	return true
}

// repairVolume removes from a live volume directory a leftover ..data_tmp
// and every copy but the live one and those named in keep, and makes the
// top-level symlinks match the live copy.
func repairVolume(dir string, keep ...string) error {
	os.Remove(filepath.Join(dir, newDataDirName))
	current, err := os.Readlink(filepath.Join(dir, dataDirName))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			current = "" // nothing live yet: every copy is leftover
		} else {
			return err
		}
	}
	var entries []os.DirEntry
	if current != "" {
		if entries, err = os.ReadDir(filepath.Join(dir, current)); err != nil {
			return err
		}
	}
	kept := map[string]bool{current: true}
	for _, k := range keep {
		if k != "" {
			kept[k] = true
		}
	}
	return linkEntries(dir, entries, kept)
}

// linkEntries makes dir's top-level entries the links ..data/NAME to the
// entries of a copy, keeping ..data and the names in keep, and removing
// every other entry (leftover copies among them).
func linkEntries(dir string, entries []os.DirEntry, keep map[string]bool) error {
	want := map[string]bool{}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "..") {
			want[e.Name()] = true
		}
	}
	have, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range have {
		name := e.Name()
		if name == dataDirName || keep[name] {
			continue
		}
		if target, err := os.Readlink(filepath.Join(dir, name)); err == nil && want[name] && target == filepath.Join(dataDirName, name) {
			delete(want, name)
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	for name := range want {
		if err := os.Symlink(filepath.Join(dataDirName, name), filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	return nil
}
