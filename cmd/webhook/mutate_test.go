package main

import (
	"bytes"
	"context"
	"flag"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const podYAML = `apiVersion: v1
kind: Pod
metadata:
  name: app
  labels: {hotreload/enable: "true"}
spec:
  securityContext: {runAsUser: 1000}
  containers:
  - name: app
    image: app:1
    volumeMounts: [{name: config, mountPath: /etc/app}]
  volumes:
  - name: config
    configMap: {name: app-config}
`

func runMutate(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	fs := flag.NewFlagSet("webhook mutate", flag.ContinueOnError)
	fs.SetOutput(&stderr)
	err := mutateCommand(strings.NewReader(stdin), &stdout, &stderr)(context.Background(), fs, args)
	return stdout.String(), stderr.String(), err
}

func TestMutateCommand(t *testing.T) {
	out, errOut, err := runMutate(t, podYAML, "-f", "-", "--reloader-image", "reloader:x",
		"--namespace-annotation", "hotreload/rollout=1,100", "--kube-version", "v1.28.3")
	require.NoError(t, err)
	assert.Contains(t, errOut, `namespace annotation hotreload/rollout: invalid rollout "1,100": the last step must be 100%; using 100%`)
	assert.Contains(t, out, "    - --contract\n    - \"3\"\n")
	assert.Contains(t, out, "    image: reloader:x\n    name: hotreload-reloader\n")
	assert.NotContains(t, out, "restartPolicy: Always", "a plain container before 1.29")

	_, errOut, err = runMutate(t, podYAML+"---\nkind: Pod\n", "-f", "-")
	assert.EqualError(t, err, "stdin: document 2 (Pod): invalid manifest: apiVersion and kind are required")
	assert.Empty(t, errOut)

	_, _, err = runMutate(t, "", "--kube-version", "latest", "-f", "-")
	assert.EqualError(t, err, `--kube-version "latest": want MAJOR.MINOR, e.g. 1.29`)

	_, _, err = runMutate(t, "")
	assert.EqualError(t, err, "-f FILE is required (- for stdin)")
}

func TestNativeSidecar(t *testing.T) {
	for v, want := range map[string]bool{"1.28": false, "v1.29.0": true, "1.37": true, "2.0": true, "1.30+": true} {
		got, err := nativeSidecar(v)
		require.NoError(t, err, v)
		assert.Equal(t, want, got, v)
	}
}

// The preview cannot read the cluster: --ignore names a source annotated
// hotreload/ignore: "true" that the manifest does not hold; one the manifest
// holds says so itself.
func TestMutateCommandIgnoredSources(t *testing.T) {
	out, errOut, err := runMutate(t, podYAML, "-f", "-", "--ignore", "configmap/app-config")
	require.NoError(t, err)
	assert.NotContains(t, out, "hotreload-", "its only volume is left as written: the pod as read")
	assert.Equal(t, `document 1 (Pod "app"): volume "config" is left as written: ConfigMap "app-config" is annotated hotreload/ignore: "true"`+"\n"+
		`document 1 (Pod "app"): no config volume of the reloaded containers can be reloaded: pod left unchanged`+"\n", errOut)

	withSource := podYAML + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-config\n  annotations: {hotreload/ignore: \"true\"}\n"
	out, errOut, err = runMutate(t, withSource, "-f", "-")
	require.NoError(t, err)
	assert.NotContains(t, out, "hotreload-reloader")
	assert.Contains(t, errOut, `volume "config" is left as written: ConfigMap "app-config" is annotated hotreload/ignore: "true"`)

	_, errOut, err = runMutate(t, podYAML, "-f", "-", "--ignore", "deployment/web")
	assert.Error(t, err)
	assert.Contains(t, errOut, `invalid value "deployment/web" for flag -ignore: want configmap/NAME or secret/NAME, got "deployment/web"`)
}
