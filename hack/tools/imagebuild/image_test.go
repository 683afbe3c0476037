package main

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/stretchr/testify/require"
)

var (
	amd64 = v1.Platform{OS: "linux", Architecture: "amd64"}
	arm64 = v1.Platform{OS: "linux", Architecture: "arm64"}
	// created is a commit's time, as make passes it.
	created = time.Date(2026, 12, 1, 10, 30, 0, 0, time.UTC)
)

// commonLabels are the --label ones of make images.
var commonLabels = map[string]string{
	"org.opencontainers.image.source":   "https://github.com/hotreload/hotreload",
	"org.opencontainers.image.version":  "v0.3.0",
	"org.opencontainers.image.revision": "0123abcd",
}

// wantLabels are the labels of the webhook image of webhookSpec.
var wantLabels = map[string]string{
	"org.opencontainers.image.source":   "https://github.com/hotreload/hotreload",
	"org.opencontainers.image.version":  "v0.3.0",
	"org.opencontainers.image.revision": "0123abcd",
	"org.opencontainers.image.created":  "2026-12-01T10:30:00Z",
	"org.opencontainers.image.title":    "hotreload-webhook",
}

// binaries writes a fake webhook binary per platform, its body naming the
// platform, and returns the path with {os}_{arch} for them.
func binaries(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, p := range []v1.Platform{amd64, arm64} {
		d := filepath.Join(dir, p.OS+"_"+p.Architecture)
		require.NoError(t, os.Mkdir(d, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(d, "webhook"), []byte("webhook for "+p.Architecture), 0o755))
	}
	return filepath.Join(dir, "{os}_{arch}", "webhook")
}

// webhookSpec is make images' webhook image, named ref, of the binaries at bin.
func webhookSpec(t *testing.T, ref, bin string) imageSpec {
	t.Helper()
	var f imageFlags
	require.NoError(t, f.Set(ref+"="+bin+",cmd=serve,label=org.opencontainers.image.title=hotreload-webhook"))
	return f[0]
}

// newTestBuilder is a builder of make images' labels and creation time.
func newTestBuilder(t *testing.T) *builder {
	t.Helper()
	b, err := newBuilder(created, commonLabels)
	require.NoError(t, err)
	return b
}

// file is what a test compares of a file in an image.
type file struct {
	typ  byte
	mode int64
	uid  int
	body string
}

// files is img's filesystem, every layer applied.
func files(t *testing.T, img v1.Image) map[string]file {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	got := map[string]file{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return got
		}
		require.NoError(t, err)
		body, err := io.ReadAll(tr)
		require.NoError(t, err)
		got[h.Name] = file{h.Typeflag, h.Mode, h.Uid, string(body)}
	}
}

// webhookFiles is the filesystem of the webhook image for arch.
func webhookFiles(arch string) map[string]file {
	return map[string]file{
		"etc": {tar.TypeDir, 0o755, 0, ""},
		"etc/passwd": {tar.TypeReg, 0o644, 0, "root:x:0:0:root:/root:/sbin/nologin\n" +
			"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n" +
			"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"},
		"etc/group":    {tar.TypeReg, 0o644, 0, "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n"},
		"tmp":          {tar.TypeDir, 0o1777, 0, ""},
		"home":         {tar.TypeDir, 0o755, 0, ""},
		"home/nonroot": {tar.TypeDir, 0o700, 65532, ""},
		"webhook":      {tar.TypeReg, 0o755, 0, "webhook for " + arch},
	}
}

// platformConfig is what a test compares of an image's configuration.
type platformConfig struct {
	OS, Architecture string
	Created          time.Time
	Config           v1.Config
}

// configOf is img's platform and configuration.
func configOf(t *testing.T, img v1.Image) platformConfig {
	t.Helper()
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	return platformConfig{OS: cf.OS, Architecture: cf.Architecture, Created: cf.Created.Time, Config: cf.Config}
}

// webhookConfig is the configuration of the webhook image for arch.
func webhookConfig(arch string) platformConfig {
	return platformConfig{OS: "linux", Architecture: arch, Created: created, Config: v1.Config{
		Entrypoint: []string{"/webhook"},
		Cmd:        []string{"serve"},
		User:       "65532:65532",
		WorkingDir: "/",
		Env:        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		Labels:     wantLabels,
	}}
}

// requireWebhookIndex checks that idx is the two-platform webhook index: an
// OCI index annotated with the labels, of one OCI image per platform, each
// with its own binary, run as 65532.
func requireWebhookIndex(t *testing.T, idx v1.ImageIndex) {
	t.Helper()
	m, err := idx.IndexManifest()
	require.NoError(t, err)
	require.Equal(t, types.OCIImageIndex, m.MediaType)
	require.Equal(t, wantLabels, m.Annotations)
	var platforms []v1.Platform
	for _, d := range m.Manifests {
		require.Equal(t, types.OCIManifestSchema1, d.MediaType)
		platforms = append(platforms, *d.Platform)
		img, err := idx.Image(d.Digest)
		require.NoError(t, err)
		require.Equal(t, webhookConfig(d.Platform.Architecture), configOf(t, img))
		require.Equal(t, webhookFiles(d.Platform.Architecture), files(t, img))
	}
	require.Equal(t, []v1.Platform{amd64, arm64}, platforms)
}

func TestIndexHasAnImagePerPlatform(t *testing.T) {
	idx, err := newTestBuilder(t).index(webhookSpec(t, "hotreload/webhook:v0.3.0", binaries(t)), []v1.Platform{amd64, arm64})
	require.NoError(t, err)
	requireWebhookIndex(t, idx)
}

func TestIndexDigestIsReproducible(t *testing.T) {
	bin := binaries(t)
	digest := func(b *builder) v1.Hash {
		idx, err := b.index(webhookSpec(t, "hotreload/webhook:v0.3.0", bin), []v1.Platform{amd64, arm64})
		require.NoError(t, err)
		d, err := idx.Digest()
		require.NoError(t, err)
		return d
	}
	first := digest(newTestBuilder(t))
	require.Equal(t, first, digest(newTestBuilder(t)), "two builds of the same inputs")

	later, err := newBuilder(created.Add(time.Second), commonLabels)
	require.NoError(t, err)
	require.NotEqual(t, first, digest(later), "another creation time")
}

func TestIndexRefusesABinaryThatNamesNoPlatform(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "webhook")
	require.NoError(t, os.WriteFile(bin, []byte("elf"), 0o755))
	_, err := newTestBuilder(t).index(webhookSpec(t, "hotreload/webhook:v0.3.0", bin), []v1.Platform{amd64, arm64})
	require.EqualError(t, err, "2 platforms, but the binary or a rootfs directory does not name one: put {arch} (and {os}) in its path")
}

// flags is the command line of make images or make push for the webhook
// image ref, its binaries at bin, then extra.
func flags(ref, bin string, extra ...string) []string {
	return append([]string{
		"--platforms", "linux/amd64,linux/arm64",
		"--created", created.Format(time.RFC3339),
		"--label", "org.opencontainers.image.source=https://github.com/hotreload/hotreload",
		"--label", "org.opencontainers.image.version=v0.3.0",
		"--label", "org.opencontainers.image.revision=0123abcd",
		"--image", ref + "=" + bin + ",cmd=serve,label=org.opencontainers.image.title=hotreload-webhook",
	}, extra...)
}

// runFlags runs imagebuild with args and returns what it printed on stdout.
func runFlags(t *testing.T, args []string) string {
	t.Helper()
	cfg, err := parseFlags(args)
	require.NoError(t, err)
	var out, logs bytes.Buffer
	require.NoError(t, run(context.Background(), cfg, &out, &logs), logs.String())
	return out.String()
}

func TestPushThenPullByDigestGivesTheSameIndex(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	bin := binaries(t)
	digests := filepath.Join(t.TempDir(), "images", "digests")
	ref := host + "/hotreload/webhook:v0.3.0"

	out := runFlags(t, flags(ref, bin, "--push", "--digests", digests))

	built, err := newTestBuilder(t).index(webhookSpec(t, ref, bin), []v1.Platform{amd64, arm64})
	require.NoError(t, err)
	digest, err := built.Digest()
	require.NoError(t, err)
	require.Equal(t, ref+"@"+digest.String()+"\n", out)
	written, err := os.ReadFile(digests)
	require.NoError(t, err)
	require.Equal(t, out, string(written))

	byDigest, err := name.NewDigest(host + "/hotreload/webhook@" + digest.String())
	require.NoError(t, err)
	pulled, err := remote.Index(byDigest)
	require.NoError(t, err)
	want, err := built.RawManifest()
	require.NoError(t, err)
	got, err := pulled.RawManifest()
	require.NoError(t, err)
	require.Equal(t, string(want), string(got))
	// Not validated before the push: ggcr's in-memory layer descriptors have
	// empty annotations where their JSON has none, which validate tells apart.
	require.NoError(t, validate.Index(pulled), "digests and sizes of every blob pulled")
	requireWebhookIndex(t, pulled)
}

func TestOCILayoutHoldsTheIndexByTag(t *testing.T) {
	dir := t.TempDir()
	bin := binaries(t)
	out := runFlags(t, flags("hotreload/webhook:v0.3.0", bin, "--out", dir, "--format", "oci"))

	top, err := layout.ImageIndexFromPath(filepath.Join(dir, "webhook"))
	require.NoError(t, err)
	m, err := top.IndexManifest()
	require.NoError(t, err)
	require.Len(t, m.Manifests, 1)
	d := m.Manifests[0]
	require.Equal(t, types.OCIImageIndex, d.MediaType)
	require.Equal(t, map[string]string{"org.opencontainers.image.ref.name": "v0.3.0"}, d.Annotations)
	require.Equal(t, "hotreload/webhook:v0.3.0@"+d.Digest.String()+"\n", out)
	idx, err := top.ImageIndex(d.Digest)
	require.NoError(t, err)
	require.NoError(t, validate.Index(idx), "digests and sizes of every blob in the layout")
	requireWebhookIndex(t, idx)

	require.Equal(t, out, runFlags(t, flags("hotreload/webhook:v0.3.0", bin, "--out", dir, "--format", "oci")), "built again over the same layout")
	top, err = layout.ImageIndexFromPath(filepath.Join(dir, "webhook"))
	require.NoError(t, err)
	m, err = top.IndexManifest()
	require.NoError(t, err)
	require.Len(t, m.Manifests, 1, "the layout holds the one index")
}

func TestDockerArchiveIsOnePlatformImage(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(t.TempDir(), "webhook")
	require.NoError(t, os.WriteFile(bin, []byte("webhook for amd64"), 0o755))
	cfg, err := parseFlags([]string{"--out", dir, "--platforms", "linux/amd64", "--image", "hotreload/webhook:dev=" + bin + ",cmd=serve"})
	require.NoError(t, err)
	var out, logs bytes.Buffer
	require.NoError(t, run(context.Background(), cfg, &out, &logs))
	file := filepath.Join(dir, "hotreload_webhook_dev.tar")
	require.Equal(t, "imagebuild: hotreload/webhook:dev -> "+file+"\n", logs.String())
	require.Empty(t, out.String())

	tag, err := name.NewTag("hotreload/webhook:dev")
	require.NoError(t, err)
	img, err := tarball.ImageFromPath(file, &tag)
	require.NoError(t, err)
	require.NoError(t, validate.Image(img))
	want := webhookConfig("amd64")
	want.Created = epoch
	want.Config.Labels = map[string]string{"org.opencontainers.image.created": "1970-01-01T00:00:00Z"}
	require.Equal(t, want, configOf(t, img))
	require.Equal(t, webhookFiles("amd64"), files(t, img))
}

func TestFlagsThatDoNotGoTogether(t *testing.T) {
	img := []string{"--image", "a:dev=bin/a"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "no --image (usage: imagebuild --out DIR [--format oci] | --push, then --image REF=BINARY[,options] for each image)"},
		{img, "give one of --out DIR and --push"},
		{append([]string{"--out", "d", "--push"}, img...), "give one of --out DIR and --push"},
		{append([]string{"--out", "d", "--format", "tar"}, img...), `--format "tar": want docker-archive or oci`},
		{append([]string{"--out", "d", "--insecure"}, img...), "--insecure goes with --push"},
		{append([]string{"--out", "d", "--platforms", "linux/amd64,linux/arm64"}, img...), "a docker-archive holds one platform: use --format oci or --push for several"},
		{append([]string{"--out", "d", "--digests", "f"}, img...), "--digests goes with --format oci or --push"},
		{append([]string{"--push", "--platforms", "amd64"}, img...), `platform "amd64": want OS/ARCH, such as linux/amd64`},
		{append([]string{"--push", "--created", "yesterday"}, img...), `--created: parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as "2006"`},
		{append([]string{"--push", "--label", "nokey"}, img...), `invalid value "nokey" for flag -label: label "nokey": want KEY=VALUE`},
	} {
		_, err := parseFlags(tc.args)
		require.EqualError(t, err, tc.want, "%q", tc.args)
	}
}
