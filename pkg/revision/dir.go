package revision

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// DataDir is the symlink the kubelet's atomic writer swaps to publish a new
// version of a volume.
const DataDir = "..data"

// maxSymlinkDepth bounds how many nested directory symlinks a walk follows, so
// a loop cannot make it run forever.
const maxSymlinkDepth = 32

// readAttempts bounds how often DirFiles restarts a walk that a concurrent
// ..data swap invalidated.
const readAttempts = 5

// ErrNotDirectory means a volume path exists but is not a directory.
var ErrNotDirectory = errors.New("not a directory")

// DirFiles returns the canonical content of a mounted volume directory. A
// directory with a ..data symlink is read through it, as one consistent
// version even while the kubelet swaps it; any other directory is read as it
// is. Symlinks are followed; entries whose name starts with ".." are ignored.
func DirFiles(dir string) (Files, error) {
	var lastErr error
	for range readAttempts {
		link, err := os.Readlink(filepath.Join(dir, DataDir))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return walkVolume(dir, dir)
		case err != nil:
			return nil, fmt.Errorf("read volume %s: %w", dir, err)
		}
		target := link
		if !filepath.IsAbs(target) {
			target = filepath.Join(dir, link)
		}
		files, err := walkVolume(dir, target)
		if err == nil {
			return files, nil
		}
		lastErr = err
		// A swap removes the old version: retry if ..data moved under the walk.
		if now, rerr := os.Readlink(filepath.Join(dir, DataDir)); rerr == nil && now == link {
			return nil, err
		}
	}
	return nil, lastErr
}

// ForDir returns the volume revision of a mounted volume directory.
func ForDir(dir string) (string, error) {
	f, err := DirFiles(dir)
	if err != nil {
		return "", err
	}
	return f.Revision(), nil
}

// DirsFiles returns the canonical content of the volumes mounted at
// root/<name> for each name in volumes, keyed by name.
func DirsFiles(root string, volumes []string) (map[string]Files, error) {
	out := make(map[string]Files, len(volumes))
	for _, name := range volumes {
		f, err := DirFiles(filepath.Join(root, name))
		if err != nil {
			return nil, err
		}
		out[name] = f
	}
	return out, nil
}

// ForDirs returns the pod revision of the volumes mounted at root/<name> for
// each name in volumes. It matches ForPod over the same volumes.
func ForDirs(root string, volumes []string) (string, error) {
	files, err := DirsFiles(root, volumes)
	if err != nil {
		return "", err
	}
	return Revision(files), nil
}

func walkVolume(volume, dir string) (Files, error) {
	files := Files{}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("read volume %s: %w", volume, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("read volume %s: %w", volume, ErrNotDirectory)
	}
	if err := walk(files, dir, "", 0); err != nil {
		return nil, fmt.Errorf("read volume %s: %w", volume, err)
	}
	return files, nil
}

func walk(files Files, dir, rel string, depth int) error {
	if depth > maxSymlinkDepth {
		return fmt.Errorf("%s: too many levels of directories", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "..") {
			continue
		}
		full := filepath.Join(dir, e.Name())
		p := path.Join(rel, e.Name())
		fi, err := os.Stat(full) // follows symlinks
		if err != nil {
			return err
		}
		switch {
		case fi.IsDir():
			if err := walk(files, full, p, depth+1); err != nil {
				return err
			}
		case fi.Mode().IsRegular():
			d, err := fileDigest(full)
			if err != nil {
				return err
			}
			files[p] = d
		}
	}
	return nil
}

func fileDigest(name string) (Digest, error) {
	f, err := os.Open(name)
	if err != nil {
		return Digest{}, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return Digest{}, err
	}
	var d Digest
	h.Sum(d[:0])
	return d, nil
}
