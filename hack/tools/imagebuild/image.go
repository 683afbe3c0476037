package main

import (
	"fmt"
	"maps"
	"os"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// epoch is every file's time, and the images' creation time unless told
// another: the same inputs give the same image digests.
var epoch = time.Unix(0, 0).UTC()

// createdLabel is the OCI label (and index annotation) for the creation time.
const createdLabel = "org.opencontainers.image.created"

// builder builds images on one base layer, with common labels and creation
// time.
type builder struct {
	base    v1.Layer
	created time.Time
	labels  map[string]string
}

// newBuilder returns a builder whose images were created at created and carry
// labels, plus createdLabel.
func newBuilder(created time.Time, labels map[string]string) (*builder, error) {
	base, err := baseLayer()
	if err != nil {
		return nil, fmt.Errorf("base layer: %w", err)
	}
	l := maps.Clone(labels)
	if l == nil {
		l = map[string]string{}
	}
	l[createdLabel] = created.UTC().Format(time.RFC3339)
	return &builder{base: base, created: created.UTC(), labels: l}, nil
}

// labelsOf is the builder's labels with s's own over them.
func (b *builder) labelsOf(s imageSpec) map[string]string {
	l := maps.Clone(b.labels)
	maps.Copy(l, s.labels)
	return l
}

// image builds s for platform p (its paths' {os} and {arch} already replaced):
// an OCI image of the base layer, one layer per rootfs directory, and one with
// the binary when there is one.
func (b *builder) image(s imageSpec, p v1.Platform) (v1.Image, error) {
	layers := []v1.Layer{b.base}
	for _, dir := range s.rootfs {
		l, err := dirLayer(dir)
		if err != nil {
			return nil, fmt.Errorf("rootfs %s: %w", dir, err)
		}
		layers = append(layers, l)
	}
	if s.binary != "" {
		bin, err := os.ReadFile(s.binary)
		if err != nil {
			return nil, fmt.Errorf("read the binary (build it first): %w", err)
		}
		app, err := layer([]entry{{name: s.path, mode: 0o755, body: bin}})
		if err != nil {
			return nil, err
		}
		layers = append(layers, app)
	} else if !inRootfs(s.rootfs, s.path) {
		return nil, fmt.Errorf("entrypoint %s is in no rootfs (%s)", s.path, strings.Join(s.rootfs, ", "))
	}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.AppendLayers(base, layers...)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Architecture = p.Architecture
	cf.OS = p.OS
	cf.Created = v1.Time{Time: b.created}
	cf.Config.Entrypoint = []string{s.path}
	cf.Config.Cmd = s.cmd
	cf.Config.User = fmt.Sprintf("%d:%d", s.user, s.user)
	cf.Config.WorkingDir = "/"
	// Docker's default PATH, which images built from Dockerfiles carry: a
	// command written as for a shell ("nginx -t") finds /usr/sbin/nginx.
	cf.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	cf.Config.Labels = b.labelsOf(s)
	return mutate.ConfigFile(img, cf)
}

// index builds s for each platform and returns the OCI image index of them,
// annotated with the images' labels.
func (b *builder) index(s imageSpec, platforms []v1.Platform) (v1.ImageIndex, error) {
	if len(platforms) > 1 && !s.perPlatform() {
		return nil, fmt.Errorf("%d platforms, but the binary or a rootfs directory does not name one: put {arch} (and {os}) in its path", len(platforms))
	}
	var adds []mutate.IndexAddendum
	for _, p := range platforms {
		img, err := b.image(s.forPlatform(p), p)
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %w", p.OS, p.Architecture, err)
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
	return mutate.Annotations(idx, b.labelsOf(s)).(v1.ImageIndex), nil
}
