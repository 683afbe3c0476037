package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"sigs.k8s.io/yaml"
)

// Files written into the output directory.
const (
	FileCACert  = "ca.crt"
	FileCert    = "tls.crt"
	FileKey     = "tls.key"
	FileSecret  = "secret.yaml"         // the Secret the webhook mounts
	FileCAPatch = "cabundle-patch.yaml" // a JSON 6902 patch setting caBundle
)

// Manifest names the objects of the selfsigned overlay.
type Manifest struct {
	// Secret is the webhook's TLS Secret, in Namespace.
	Secret, Namespace string
}

// Write writes the bundle and the overlay's manifests into dir, creating it.
// Without force it writes nothing if any of the files exists.
func Write(dir string, b *Bundle, m Manifest, force bool) error {
	secret, err := yaml.Marshal(map[string]any{
		"apiVersion": "v1",
		"kind":       "Secret",
		"type":       "kubernetes.io/tls",
		"metadata":   map[string]any{"name": m.Secret, "namespace": m.Namespace},
		"data": map[string]string{
			FileCert:   base64.StdEncoding.EncodeToString(b.Cert),
			FileKey:    base64.StdEncoding.EncodeToString(b.Key),
			FileCACert: base64.StdEncoding.EncodeToString(b.CACert),
		},
	})
	if err != nil {
		return err
	}
	patch, err := yaml.Marshal([]map[string]any{{
		"op":    "add",
		"path":  "/webhooks/0/clientConfig/caBundle",
		"value": base64.StdEncoding.EncodeToString(b.CACert),
	}})
	if err != nil {
		return err
	}
	files := []struct {
		name string
		data []byte
		mode fs.FileMode
	}{
		{FileCACert, b.CACert, 0o644},
		{FileCert, b.Cert, 0o644},
		{FileKey, b.Key, 0o600},
		{FileSecret, secret, 0o600},
		{FileCAPatch, patch, 0o644},
	}

	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if !force {
		var present []string
		for _, f := range files {
			if _, err := os.Lstat(filepath.Join(dir, f.name)); err == nil {
				present = append(present, f.name)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		if len(present) > 0 {
			return fmt.Errorf("%s already holds %v: %w", dir, present, ErrExists)
		}
	}
	for _, f := range files {
		path := filepath.Join(dir, f.name)
		// Remove first so that a forced rewrite also resets the file mode.
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if err := os.WriteFile(path, f.data, f.mode); err != nil {
			return err
		}
	}
	return nil
}

// ErrExists means the output directory already holds generated files.
var ErrExists = errors.New("refusing to overwrite them without --force")
