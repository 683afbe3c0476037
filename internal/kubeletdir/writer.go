package kubeletdir

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

const (
	dataDirName    = "..data"
	newDataDirName = "..data_tmp"
)

// File is one file the kubelet projects: its bytes and its mode bits.
type File struct {
	Data []byte
	Mode fs.FileMode
}

// Write projects payload (slash-separated relative paths to files) into dir as
// the kubelet's atomic writer does: a new timestamped directory holding the
// files, a ..data_tmp symlink to it renamed over ..data, a symlink per new
// top-level entry, then removal of the top-level entries that are gone and of
// the previous timestamped directory. A payload identical to what is on disk
// writes nothing but missing top-level symlinks.
func Write(dir string, payload map[string]File) error {
	clean := make(map[string]File, len(payload))
	for p, f := range payload {
		if err := validatePath(p); err != nil {
			return err
		}
		clean[filepath.Clean(p)] = f
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	dataDir := filepath.Join(dir, dataDirName)
	oldTs, err := os.Readlink(dataDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	var remove []string
	write := true
	if oldTs != "" {
		oldPath := filepath.Join(dir, oldTs)
		if remove, err = pathsToRemove(clean, oldPath); err != nil {
			return err
		}
		if !changed(clean, oldPath) && len(remove) == 0 {
			write, oldTs = false, ""
		}
	}
	if write {
		ts, err := os.MkdirTemp(dir, time.Now().UTC().Format("..2006_01_02_15_04_05."))
		if err != nil {
			return err
		}
		if err := os.Chmod(ts, 0o755); err != nil {
			return err
		}
		for p, f := range clean {
			full := filepath.Join(ts, p)
			if err := os.MkdirAll(filepath.Dir(full), 0o777); err != nil {
				return err
			}
			if err := os.WriteFile(full, f.Data, f.Mode); err != nil {
				return err
			}
			if err := os.Chmod(full, f.Mode); err != nil {
				return err
			}
		}
		tmp := filepath.Join(dir, newDataDirName)
		if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
			os.RemoveAll(ts)
			return err
		}
		if err := os.Rename(tmp, dataDir); err != nil {
			os.Remove(tmp)
			os.RemoveAll(ts)
			return err
		}
	}
	for p := range clean {
		top, _, _ := strings.Cut(p, string(filepath.Separator))
		visible := filepath.Join(dir, top)
		if _, err := os.Readlink(visible); errors.Is(err, fs.ErrNotExist) {
			if err := os.Symlink(filepath.Join(dataDirName, top), visible); err != nil {
				return err
			}
		}
	}
	for _, p := range remove {
		if strings.Contains(p, string(filepath.Separator)) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, p)); err != nil {
			return err
		}
	}
	if oldTs != "" {
		return os.RemoveAll(filepath.Join(dir, oldTs))
	}
	return nil
}

func validatePath(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("invalid path: must not be empty")
	case filepath.IsAbs(p):
		return fmt.Errorf("invalid path %q: must be relative", p)
	case strings.HasPrefix(p, ".."):
		return fmt.Errorf("invalid path %q: must not start with '..'", p)
	}
	for _, el := range strings.Split(p, string(filepath.Separator)) {
		if el == ".." {
			return fmt.Errorf("invalid path %q: must not contain '..'", p)
		}
	}
	return nil
}

// changed reports whether any file of payload differs from the old version.
func changed(payload map[string]File, oldTs string) bool {
	for p, f := range payload {
		b, err := os.ReadFile(filepath.Join(oldTs, p))
		if err != nil || !bytes.Equal(b, f.Data) {
			return true
		}
	}
	return false
}

// pathsToRemove lists the paths of the old version that the new payload (with
// all parent directories of its files) does not have.
func pathsToRemove(payload map[string]File, oldTs string) ([]string, error) {
	keep := map[string]bool{}
	for p := range payload {
		for sub := p; sub != "." && sub != ""; sub = filepath.Dir(sub) {
			keep[sub] = true
		}
	}
	var out []string
	err := filepath.Walk(oldTs, func(full string, _ fs.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(oldTs, full)
		if rel != "." && !keep[rel] {
			out = append(out, rel)
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return out, err
}
