package main

import (
	"bufio"
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/require"
)

// runMainEnv makes the test binary run main instead of the tests: the
// signal test starts it as the command.
const runMainEnv = "REGISTRY_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		os.Args = append([]string{"registry"}, strings.Fields(os.Getenv(runMainEnv+"_ARGS"))...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestServeKeepsBlobsUnderDirAndStopsWithItsContext(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "blobs")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln, dir, log.New(io.Discard, "", 0)) }()

	img, err := random.Image(1024, 2)
	require.NoError(t, err)
	ref, err := name.NewTag(ln.Addr().String() + "/hotreload/webhook:v1")
	require.NoError(t, err)
	// A transport of the test's own, to close its idle connections before the
	// stop: a connection the client dialled but never used keeps Shutdown
	// waiting for 5 s.
	tr := remote.DefaultTransport.(*http.Transport).Clone()
	require.NoError(t, remote.Write(ref, img, remote.WithTransport(tr)))
	digest, err := img.Digest()
	require.NoError(t, err)
	pulled, err := remote.Image(ref.Context().Digest(digest.String()), remote.WithTransport(tr))
	require.NoError(t, err)
	got, err := pulled.RawManifest()
	require.NoError(t, err)
	want, err := img.RawManifest()
	require.NoError(t, err)
	require.Equal(t, string(want), string(got), "the image pulled back by digest")

	m, err := img.Manifest()
	require.NoError(t, err)
	wantBlobs := []string{m.Config.Digest.Hex}
	for _, l := range m.Layers {
		wantBlobs = append(wantBlobs, l.Digest.Hex)
	}
	slices.Sort(wantBlobs)
	require.Equal(t, wantBlobs, blobFiles(t, filepath.Join(dir, "sha256")), "the config and layers, a file each")

	tr.CloseIdleConnections()
	cancel()
	require.NoError(t, <-done)
}

// blobFiles lists the names of the files in dir, sorted.
func blobFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestSIGTERMStopsTheCommandCleanly(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), runMainEnv+"=1", runMainEnv+"_ARGS=--addr 127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	lines := bufio.NewScanner(stderr)

	require.True(t, lines.Scan(), "the first log line")
	first := message(lines.Text())
	addr, _, _ := strings.Cut(strings.TrimPrefix(first, "serving on "), ",")
	require.Equal(t, "serving on "+addr+", blobs in memory", first)

	resp, err := http.Get("http://" + addr + "/v2/")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	var rest []string
	for lines.Scan() {
		rest = append(rest, message(lines.Text()))
	}
	require.NoError(t, cmd.Wait(), "exit status 0")
	require.Equal(t, []string{"GET /v2/", "stopping"}, rest)
}

// message is a log line without its prefix, date and time.
func message(line string) string {
	f := strings.SplitN(strings.TrimPrefix(line, "registry: "), " ", 3)
	if len(f) < 3 {
		return line
	}
	return f[2]
}
