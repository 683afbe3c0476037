package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// archiveFile is where the docker-archive tarball of ref goes in dir.
func archiveFile(dir, ref string) string {
	return filepath.Join(dir, strings.NewReplacer("/", "_", ":", "_").Replace(ref)+".tar")
}

// writeArchive writes img as a docker-archive tarball tagged ref, the format
// `ctr images import` and `docker load` read, to file.
func writeArchive(file string, ref name.Tag, img v1.Image) error {
	if err := tarball.WriteToFile(file, ref, img); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	return nil
}

// layoutDir is where the OCI layout of ref goes in dir: a directory named
// after the last element of its repository (hotreload/webhook:v1 -> webhook).
func layoutDir(dir string, ref name.Tag) string {
	repo := ref.RepositoryStr()
	return filepath.Join(dir, repo[strings.LastIndex(repo, "/")+1:])
}

// writeLayout writes idx as the one image of an OCI image layout at dir,
// replacing the layout's index; its descriptor names ref's tag
// (org.opencontainers.image.ref.name).
func writeLayout(dir string, ref name.Tag, idx v1.ImageIndex) error {
	top := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), mutate.IndexAddendum{
		Add:        idx,
		Descriptor: v1.Descriptor{Annotations: map[string]string{"org.opencontainers.image.ref.name": ref.TagStr()}},
	})
	if _, err := layout.Write(dir, top); err != nil {
		return fmt.Errorf("write the OCI layout %s: %w", dir, err)
	}
	return nil
}

// push uploads idx and its images to the registry as ref, with the
// credentials of the default keychain (docker's config.json and credential
// helpers), and returns the digest it is stored under.
func push(ctx context.Context, ref name.Tag, idx v1.ImageIndex) (v1.Hash, error) {
	err := remote.WriteIndex(ref, idx, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain))
	if err != nil {
		return v1.Hash{}, fmt.Errorf("push %s: %w", ref, err)
	}
	return idx.Digest()
}

// writeDigests writes lines, each REF@DIGEST, to file.
func writeDigests(file string, lines []string) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	return os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}
