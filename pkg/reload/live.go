package reload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hotreload/hotreload/pkg/revision"
)

const (
	dataDirName    = revision.DataDir
	newDataDirName = "..data_tmp"
	// maxCopyDepth bounds directory nesting when copying, so a symlink loop in
	// a source cannot make a copy run forever.
	maxCopyDepth = 32
)

var (
	// ErrVerifyTimeout means the mounted sources did not hash to the wanted
	// revision within the allowed time.
	ErrVerifyTimeout = errors.New("mounted config did not reach the revision in time")
	// ErrSourceMissing means the source of a volume is not mounted where the
	// reloader's arguments say: the pod does not match the reloader's command
	// line. Nothing can be reloaded, so the reloader stops at once.
	ErrSourceMissing = errors.New("volume source is not mounted")
)

// Live is the set of live copies of a pod's volumes: LiveRoot/<volume> mirrors
// the kubelet-managed SrcRoot/<volume> at a revision the reloader chose, in
// the kubelet's layout (..data -> ..<timestamp>, one symlink per top-level
// entry). Only the reloader writes it.
type Live struct {
	SrcRoot  string
	LiveRoot string
	Volumes  []string
	// Poll is how often a wait re-hashes the sources; 50ms when zero.
	Poll time.Duration
	// Exclude holds, per volume, the paths that are not config and are left
	// out of its revision (revision.ExcludedPaths: a projected volume's
	// downwardAPI items). They are still copied, so the app sees them. Set it
	// before the Live is used concurrently.
	Exclude map[string][]string

	// hook, when set, runs before each step of a swap; an error stops the
	// swap there, as a crash would. Tests use it.
	hook func(step string) error
}

// SourceRevision returns the pod revision of the mounted sources.
func (l *Live) SourceRevision() (string, error) {
	return l.revisionOf(l.SrcRoot)
}

// LiveRevision returns the pod revision of the live copies.
func (l *Live) LiveRevision() (string, error) {
	return l.revisionOf(l.LiveRoot)
}

func (l *Live) revisionOf(root string) (string, error) {
	files, err := revision.DirsFiles(root, l.Volumes)
	if err != nil {
		return "", err
	}
	for v, f := range files {
		files[v] = l.config(v, f)
	}
	return revision.Revision(files), nil
}

// config returns the files of volume v that make its revision.
func (l *Live) config(v string, f revision.Files) revision.Files {
	if ex := l.Exclude[v]; len(ex) > 0 {
		return f.Without(ex)
	}
	return f
}

// CheckSources fails with ErrSourceMissing, naming the volume and the path,
// when the source of a volume is not a directory mounted at SrcRoot/<volume>.
func (l *Live) CheckSources() error {
	for _, v := range l.Volumes {
		dir := filepath.Join(l.SrcRoot, v)
		fi, err := os.Stat(dir)
		switch {
		case err != nil:
			return fmt.Errorf("volume %s: %s: %w (the pod must mount volume %s there; was it injected by another hotreload version?)", v, dir, ErrSourceMissing, v)
		case !fi.IsDir():
			return fmt.Errorf("volume %s: %s is not a directory: %w", v, dir, ErrSourceMissing)
		}
	}
	return nil
}

// FirstCopy makes sure every volume has a live copy: it checks the sources
// are mounted (ErrSourceMissing at once otherwise), repairs what a crash may
// have left, keeps a complete live copy, and otherwise copies the mounted
// sources, waiting up to timeout for them to be readable.
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

// Stage copies the sources into new directories next to the live ones and
// checks the copies hash to want, retrying until the sources reach want or
// ctx ends (ErrVerifyTimeout when its deadline passed). An empty want stages
// whatever revision is mounted.
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
		src, err := l.SourceRevision()
		switch {
		case err != nil:
			lastErr = err
		case want != "" && src != want:
			last, lastErr = src, nil
		default:
			s, err := l.copyAll()
			switch {
			case err != nil:
				lastErr = err
			case want == "" || s.Revision == want:
				return s, nil
			default:
				last, lastErr = s.Revision, nil
				s.Discard()
			}
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

func (l *Live) copyAll() (*Staged, error) {
	s := &Staged{live: l, dirs: map[string]string{}}
	files := map[string]revision.Files{}
	for _, v := range l.Volumes {
		liveDir := filepath.Join(l.LiveRoot, v)
		if err := os.MkdirAll(liveDir, 0o755); err != nil {
			s.Discard()
			return nil, fmt.Errorf("live copy of %s: %w", v, err)
		}
		ts, err := os.MkdirTemp(liveDir, time.Now().UTC().Format("..2006_01_02_15_04_05."))
		if err == nil {
			err = os.Chmod(ts, 0o755)
		}
		if err != nil {
			s.Discard()
			return nil, fmt.Errorf("live copy of %s: %w", v, err)
		}
		s.dirs[v] = filepath.Base(ts)
		if err := copyVolume(filepath.Join(l.SrcRoot, v), ts); err != nil {
			s.Discard()
			return nil, fmt.Errorf("live copy of %s: %w", v, err)
		}
		f, err := revision.DirFiles(ts)
		if err != nil {
			s.Discard()
			return nil, fmt.Errorf("live copy of %s: %w", v, err)
		}
		files[v] = l.config(v, f)
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

// Swap makes the staged copies live, one volume at a time: each volume's
// ..data is replaced atomically, so a reader of a volume sees either the old
// or the new copy, never a mix. It then fixes the top-level symlinks and
// removes old copies. A crash at any point leaves every volume at its old or
// new copy; Repair finishes the job.
func (s *Staged) Swap() error {
	for _, v := range s.live.Volumes {
		dir := filepath.Join(s.live.LiveRoot, v)
		if err := s.live.step("symlink"); err != nil {
			return err
		}
		tmp := filepath.Join(dir, newDataDirName)
		os.Remove(tmp)
		if err := os.Symlink(s.dirs[v], tmp); err != nil {
			return fmt.Errorf("swap live copy of %s: %w", v, err)
		}
		if err := s.live.step("rename"); err != nil {
			return err
		}
		if err := os.Rename(tmp, filepath.Join(dir, dataDirName)); err != nil {
			return fmt.Errorf("swap live copy of %s: %w", v, err)
		}
		if err := s.live.step("repair"); err != nil {
			return err
		}
		if err := repairVolume(dir); err != nil {
			return fmt.Errorf("swap live copy of %s: %w", v, err)
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
	for _, v := range l.Volumes {
		dir := filepath.Join(l.LiveRoot, v)
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err := repairVolume(dir); err != nil {
			return fmt.Errorf("repair live copy of %s: %w", v, err)
		}
	}
	return nil
}

// Exists reports whether every volume has a live copy.
func (l *Live) Exists() bool {
	for _, v := range l.Volumes {
		if _, err := os.Stat(filepath.Join(l.LiveRoot, v, dataDirName)); err != nil {
			return false
		}
	}
	return true
}

func repairVolume(dir string) error {
	os.Remove(filepath.Join(dir, newDataDirName))
	current, err := os.Readlink(filepath.Join(dir, dataDirName))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			current = "" // nothing live yet: every copy is leftover
		} else {
			return err
		}
	}
	want := map[string]bool{}
	if current != "" {
		entries, err := os.ReadDir(filepath.Join(dir, current))
		if err != nil {
			return err
		}
		for _, e := range entries {
			if !strings.HasPrefix(e.Name(), "..") {
				want[e.Name()] = true
			}
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, e := range entries {
		name := e.Name()
		switch {
		case name == dataDirName || name == current:
		case strings.HasPrefix(name, ".."):
			if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
				return err
			}
		case !want[name]:
			if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
				return err
			}
		default:
			target, err := os.Readlink(filepath.Join(dir, name))
			if err == nil && target == filepath.Join(dataDirName, name) {
				have[name] = true
			} else if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
				return err
			}
		}
	}
	for name := range want {
		if !have[name] {
			if err := os.Symlink(filepath.Join(dataDirName, name), filepath.Join(dir, name)); err != nil {
				return err
			}
		}
	}
	return nil
}

// copyVolume copies the current version of a mounted volume (through its
// ..data symlink when it has one) into dst, following symlinks, skipping
// entries whose name starts with "..", keeping permission bits.
func copyVolume(src, dst string) error {
	if link, err := os.Readlink(filepath.Join(src, dataDirName)); err == nil {
		if !filepath.IsAbs(link) {
			link = filepath.Join(src, link)
		}
		src = link
	}
	return copyTree(src, dst, 0)
}

func copyTree(src, dst string, depth int) error {
	if depth > maxCopyDepth {
		return fmt.Errorf("%s: too many levels of directories", src)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "..") {
			continue
		}
		from, to := filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())
		fi, err := os.Stat(from)
		if err != nil {
			return err
		}
		switch {
		case fi.IsDir():
			if err := os.Mkdir(to, 0o755); err != nil {
				return err
			}
			if err := copyTree(from, to, depth+1); err != nil {
				return err
			}
		case fi.Mode().IsRegular():
			if err := copyFile(from, to, fi.Mode().Perm()); err != nil {
				return err
			}
		}
	}
	return nil
}

func copyFile(from, to string, perm fs.FileMode) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(to, perm)
}
