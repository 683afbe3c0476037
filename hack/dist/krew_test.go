package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The environment make dist-test sets: krew (bin/tools/krew, which make krew
// builds from sigs.k8s.io/krew), and what make dist wrote and for which VERSION.
const (
	krewEnv        = "HOTRELOAD_KREW"
	distEnv        = "HOTRELOAD_DIST"
	distVersionEnv = "HOTRELOAD_DIST_VERSION"
)

// krew installs the plugin as a user does, from the manifest and the host's
// archive make dist wrote, in a krew root and home of its own and without the
// network; the plugin it installs runs and prints the version dist was built
// with; uninstalling it leaves nothing behind.
func TestKrewInstallsThePluginFromMakeDistsFiles(t *testing.T) {
	krew := os.Getenv(krewEnv)
	if krew == "" {
		t.Skipf("%s is not set: make dist-test builds krew and make dist's files and runs this test against them", krewEnv)
	}
	dist, version := os.Getenv(distEnv), os.Getenv(distVersionEnv)
	require.NotEmpty(t, dist, "%s names make dist's directory (make dist-test sets it)", distEnv)
	require.NotEmpty(t, version, "%s is the VERSION make dist built (make dist-test sets it)", distVersionEnv)
	host := platform{runtime.GOOS, runtime.GOARCH}
	manifestFile := filepath.Join(dist, manifestPath)
	archiveFile := filepath.Join(dist, archiveName(version, host))
	for _, f := range []string{krew, manifestFile, archiveFile} {
		_, err := os.Stat(f)
		require.NoError(t, err, "run make dist-test")
	}

	root := t.TempDir()
	bin := filepath.Join(root, "bin")
	env := append(os.Environ(),
		"KREW_ROOT="+root, "HOME="+t.TempDir(),
		"KREW_NO_UPGRADE_CHECK=1", // krew would ask GitHub for its latest release
		// Any HTTP request krew made would go to a port nothing listens on:
		// the manifest and the archive are local files.
		"HTTP_PROXY=http://127.0.0.1:9", "HTTPS_PROXY=http://127.0.0.1:9", "NO_PROXY=",
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), // else krew says to add it
	)
	krewRun := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		cmd := exec.Command(krew, args...)
		cmd.Env, cmd.Stdout, cmd.Stderr = env, &out, &out
		require.NoError(t, cmd.Run(), "krew %s:\n%s", strings.Join(args, " "), out.String())
		return out.String()
	}

	out := krewRun("install", "--manifest="+manifestFile, "--archive="+archiveFile)
	assert.Contains(t, out, "Installed plugin: hotreload\n", out)
	assert.Equal(t, []string{host.bin()}, dirNames(t, bin))

	cmd := exec.Command(filepath.Join(bin, host.bin()), "version")
	cmd.Env = env
	got, err := cmd.CombinedOutput()
	require.NoError(t, err, string(got))
	assert.Equal(t, "kubectl-hotreload "+version+" "+host.String()+"\n", string(got))

	// krew uninstall refuses to run before krew update has cloned an index
	// from GitHub; it only looks for the clone's .git directory, which an
	// empty one stands in for.
	require.NoError(t, os.MkdirAll(filepath.Join(root, "index", "default", ".git"), 0o755))
	out = krewRun("uninstall", "hotreload")
	assert.Contains(t, out, "Uninstalled plugin: hotreload\n", out)
	assert.Empty(t, dirNames(t, bin))
	assert.Empty(t, dirNames(t, filepath.Join(root, "store")))
	assert.Empty(t, dirNames(t, filepath.Join(root, "receipts")))
}

// dirNames is the names in dir.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}
