package reload

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// copyVolume copies the current version of a mounted volume (through its
// ..data symlink when it has one) into dst, following symlinks, skipping
// entries whose name starts with "..", keeping permission bits. What dst
// holds already at the same path is replaced: the parts of a volume are
// copied one over the other, in order, as the kubelet projects them.
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
			if err := os.Mkdir(to, 0o755); err != nil && !existingDir(err, to) {
				return err
			}
			if err := copyTree(from, to, depth+1); err != nil {
				return err
			}
		case fi.Mode().IsRegular():
			if err := os.RemoveAll(to); err != nil {
				return err
			}
			if err := copyFile(from, to, fi.Mode().Perm()); err != nil {
				return err
			}
		}
	}
	return nil
}

// existingDir reports whether err says that dir exists already as a directory.
func existingDir(err error, dir string) bool {
	if !os.IsExist(err) {
		return false
	}
	fi, serr := os.Lstat(dir)
	return serr == nil && fi.IsDir()
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
