package reload

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/hotreload/hotreload/pkg/contract"
)

var (
	// ErrTooLarge means an image directory is over the size limit of a copy.
	ErrTooLarge = errors.New("directory is over the copy size limit")
	// ErrNotCopied means a linked file is not inside any copied directory.
	ErrNotCopied = errors.New("file is not inside a copied directory")
)

// InstallBinary copies the executable at src into dir/name, atomically (a
// temporary file renamed into place) with mode 0755, and returns its path.
func InstallBinary(src, dir, name string) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", fmt.Errorf("install: %w", err)
	}
	defer in.Close()
	tmp, err := os.CreateTemp(dir, "."+name+"-*")
	if err != nil {
		return "", fmt.Errorf("install into %s: %w", dir, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, in); err != nil {
		tmp.Close()
		return "", fmt.Errorf("install into %s: %w", dir, err)
	}
	if err := tmp.Chmod(0o755); err != nil {
		tmp.Close()
		return "", fmt.Errorf("install into %s: %w", dir, err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("install into %s: %w", dir, err)
	}
	dst := filepath.Join(dir, name)
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return "", fmt.Errorf("install into %s: %w", dir, err)
	}
	return dst, nil
}

// DirSize returns the total size of the regular files under dir, not
// following symlinks. A missing dir has size 0.
func DirSize(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			total += fi.Size()
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	return total, err
}

// CopyDir copies the directory from into to (which exists, typically an
// empty emptyDir): regular files with their permission bits, symlinks as
// symlinks, directories recursively; other file types are skipped. What to
// held before is removed first: an init container that runs again (after a
// failure, or when the pod's sandbox is recreated) finds its emptyDir as it
// left it. to itself takes from's permission bits when the user may change
// them; an emptyDir is owned by root, so for an app running as another user
// it keeps its own (0777). A from over maxBytes (when positive) fails with
// ErrTooLarge before anything is copied or removed. A missing from copies
// nothing.
func CopyDir(from, to string, maxBytes int64) error {
	size, err := DirSize(from)
	if err != nil {
		return fmt.Errorf("copy %s: %w", from, err)
	}
	if maxBytes > 0 && size > maxBytes {
		return fmt.Errorf("copy %s: %d bytes, limit %d bytes (raise --max-copy-bytes or use hotreload/subpath: dir): %w",
			from, size, maxBytes, ErrTooLarge)
	}
	fi, err := os.Stat(from)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("copy %s: %w", from, err)
	}
	if err := clearDir(to); err != nil {
		return fmt.Errorf("copy %s: clear %s: %w", from, to, err)
	}
	if err := copyEntries(from, to); err != nil {
		return fmt.Errorf("copy %s: %w", from, err)
	}
	if err := os.Chmod(to, fi.Mode().Perm()); err != nil && !errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("copy %s: %w", from, err)
	}
	return nil
}

// clearDir removes everything dir holds, and makes the directories of an
// earlier copy writable first: they have the image's modes, which may not
// let their owner delete what is in them.
func clearDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if e.IsDir() {
			_ = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
				if err == nil && d.IsDir() {
					_ = os.Chmod(path, 0o700)
				}
				return nil
			})
		}
		if err := os.RemoveAll(p); err != nil {
			return err
		}
	}
	return nil
}

func copyEntries(from, to string) error {
	entries, err := os.ReadDir(from)
	if err != nil {
		return err
	}
	for _, e := range entries {
		src, dst := filepath.Join(from, e.Name()), filepath.Join(to, e.Name())
		fi, err := os.Lstat(src)
		if err != nil {
			return err
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(src)
			if err != nil {
				return err
			}
			if err := os.Symlink(target, dst); err != nil {
				return err
			}
		case fi.IsDir():
			if err := os.Mkdir(dst, 0o700); err != nil {
				return err
			}
			if err := copyEntries(src, dst); err != nil {
				return err
			}
			if err := os.Chmod(dst, fi.Mode().Perm()); err != nil {
				return err
			}
		case fi.Mode().IsRegular():
			if err := copyFile(src, dst, fi.Mode().Perm()); err != nil {
				return err
			}
		}
	}
	return nil
}

// LinkFile replaces the copy of link.File (found through the copy whose From
// is its nearest parent) with a symlink to link.Target, atomically.
func LinkFile(copies []contract.DirCopy, link contract.FileLink) error {
	var best *contract.DirCopy
	for i, c := range copies {
		rel, err := filepath.Rel(c.From, link.File)
		if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
			continue
		}
		if best == nil || len(c.From) > len(best.From) {
			best = &copies[i]
		}
	}
	if best == nil {
		return fmt.Errorf("link %s: %w", link.File, ErrNotCopied)
	}
	rel, _ := filepath.Rel(best.From, link.File)
	dst := filepath.Join(best.To, rel)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("link %s: %w", link.File, err)
	}
	tmp := dst + ".hotreload-tmp"
	os.Remove(tmp)
	if err := os.Symlink(link.Target, tmp); err != nil {
		return fmt.Errorf("link %s: %w", link.File, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("link %s: %w", link.File, err)
	}
	return nil
}
