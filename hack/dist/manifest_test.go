package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	shaLinux   = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	shaWindows = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"
)

// The description as the manifest holds it, indented under spec.
const descriptionYAML = `  description: |
    Shows and steers the releases of hotreload, which delivers ConfigMap and
    Secret changes to the running pods that read them, in canary steps:
    status (-w watches one live), promote, pause, resume, abort, retry,
    history, diff and undo. It acts only through the Kubernetes API, so RBAC
    decides who may use it.
`

func TestManifestNamesEachArchiveByURLAndSHA256(t *testing.T) {
	linux := archive{platform: platform{"linux", "amd64"}, name: "kubectl-hotreload_v0.3.0_linux_amd64.tar.gz",
		sha256: shaLinux, files: []string{"kubectl-hotreload", "README.md"}}
	windows := archive{platform: platform{"windows", "arm64"}, name: "kubectl-hotreload_v0.3.0_windows_arm64.zip",
		sha256: shaWindows, files: []string{"kubectl-hotreload.exe", "README.md"}}
	tests := []struct {
		name     string
		version  string
		url      string
		archives []archive
		want     string
	}{
		{
			name:    "names a release's archives under its download URL, with the binary each platform runs",
			version: "v0.3.0", url: "https://github.com/hotreload/hotreload/releases/download/v0.3.0",
			archives: []archive{linux, windows},
			want: `# The krew manifest of kubectl-hotreload v0.3.0, written by make dist.
apiVersion: krew.googlecontainertools.github.com/v1alpha2
kind: Plugin
metadata:
  name: hotreload
spec:
` + descriptionYAML + `  homepage: https://github.com/hotreload/hotreload
  platforms:
  - bin: kubectl-hotreload
    files:
    - from: kubectl-hotreload
      to: .
    - from: README.md
      to: .
    selector:
      matchLabels:
        arch: amd64
        os: linux
    sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
    uri: https://github.com/hotreload/hotreload/releases/download/v0.3.0/kubectl-hotreload_v0.3.0_linux_amd64.tar.gz
  - bin: kubectl-hotreload.exe
    files:
    - from: kubectl-hotreload.exe
      to: .
    - from: README.md
      to: .
    selector:
      matchLabels:
        arch: arm64
        os: windows
    sha256: 60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752
    uri: https://github.com/hotreload/hotreload/releases/download/v0.3.0/kubectl-hotreload_v0.3.0_windows_arm64.zip
  shortDescription: Operate hotreload's canary config releases
  version: v0.3.0
`,
		},
		{
			name:    "gives a build of an untagged commit a pre-release of v0.0.0, and joins a URL ending in a slash",
			version: "541482e-dirty", url: "http://127.0.0.1:8080/plugins/",
			archives: []archive{{platform: platform{"darwin", "arm64"}, name: "kubectl-hotreload_541482e-dirty_darwin_arm64.tar.gz",
				sha256: shaLinux, files: []string{"kubectl-hotreload"}}},
			want: `# The krew manifest of kubectl-hotreload 541482e-dirty, written by make dist.
apiVersion: krew.googlecontainertools.github.com/v1alpha2
kind: Plugin
metadata:
  name: hotreload
spec:
` + descriptionYAML + `  homepage: https://github.com/hotreload/hotreload
  platforms:
  - bin: kubectl-hotreload
    files:
    - from: kubectl-hotreload
      to: .
    selector:
      matchLabels:
        arch: arm64
        os: darwin
    sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
    uri: http://127.0.0.1:8080/plugins/kubectl-hotreload_541482e-dirty_darwin_arm64.tar.gz
  shortDescription: Operate hotreload's canary config releases
  version: v0.0.0-dev+541482e-dirty
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := manifest(tt.version, tt.url, tt.archives)
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(got))
		})
	}
}

func TestPluginVersionIsTheSemanticVersionKrewRequires(t *testing.T) {
	tests := []struct {
		name, version, want, err string
	}{
		{name: "keeps a release's tag", version: "v0.3.0", want: "v0.3.0"},
		{name: "keeps git describe past a tag, a pre-release of it", version: "v0.3.0-4-gabc1234-dirty", want: "v0.3.0-4-gabc1234-dirty"},
		{name: "keeps a pre-release and build metadata", version: "v1.0.0-rc.1+linux", want: "v1.0.0-rc.1+linux"},
		{name: "adds the v a semantic version lacks", version: "0.3.0", want: "v0.3.0"},
		{name: "makes a commit a pre-release of v0.0.0", version: "541482e", want: "v0.0.0-dev+541482e"},
		{name: "makes a commit with leading zeros build metadata, where they are allowed", version: "0123456", want: "v0.0.0-dev+0123456"},
		{name: "makes dev a pre-release of v0.0.0", version: "dev", want: "v0.0.0-dev+dev"},
		{name: "makes a version short of a patch one build metadata, dots and all", version: "v0.3", want: "v0.0.0-dev+v0-3"},
		{name: "makes a numeric pre-release with a leading zero build metadata", version: "v1.0.0-01", want: "v0.0.0-dev+v1-0-0-01"},
		{name: "refuses an empty version", version: "", err: `VERSION "" is not a version`},
		{name: "refuses a version that is not a file name", version: "v1/../x", err: `VERSION "v1/../x" is not a version`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pluginVersion(tt.version)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Regexp(t, semverRE, got)
		})
	}
}
