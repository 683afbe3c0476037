package main

import (
	"fmt"
	"regexp"
	"strings"

	"sigs.k8s.io/yaml"
)

// manifestPath is where, under the output directory, the krew manifest goes:
// the path it has in krew-index (plugins/NAME.yaml).
const manifestPath = "plugins/hotreload.yaml"

// The plugin as krew lists it (kubectl krew info hotreload).
const (
	pluginName       = "hotreload"
	homepage         = "https://github.com/hotreload/hotreload"
	shortDescription = "Operate hotreload's canary config releases"
	description      = `Shows and steers the releases of hotreload, which delivers ConfigMap and
Secret changes to the running pods that read them, in canary steps:
status (-w watches one live), promote, pause, resume, abort, retry,
history, diff and undo. It acts only through the Kubernetes API, so RBAC
decides who may use it.
`
)

// The krew manifest, as krew's index.Plugin reads it
// (sigs.k8s.io/krew/pkg/index), with the fields the plugin uses.
type (
	plugin struct {
		APIVersion string     `json:"apiVersion"`
		Kind       string     `json:"kind"`
		Metadata   metadata   `json:"metadata"`
		Spec       pluginSpec `json:"spec"`
	}
	metadata struct {
		Name string `json:"name"`
	}
	pluginSpec struct {
		Version          string           `json:"version"`
		Homepage         string           `json:"homepage"`
		ShortDescription string           `json:"shortDescription"`
		Description      string           `json:"description"`
		Platforms        []pluginPlatform `json:"platforms"`
	}
	pluginPlatform struct {
		Selector selector        `json:"selector"`
		URI      string          `json:"uri"`
		SHA256   string          `json:"sha256"`
		Bin      string          `json:"bin"`
		Files    []fileOperation `json:"files"`
	}
	selector struct {
		MatchLabels map[string]string `json:"matchLabels"`
	}
	fileOperation struct {
		From string `json:"from"`
		To   string `json:"to"`
	}
)

// archive is one platform's packed archive, as the manifest names it.
type archive struct {
	platform platform
	name     string   // its file name
	sha256   string   // hex
	files    []string // the names of its entries
}

// manifest is the krew manifest of the plugin's version, whose archives are
// downloaded from url/NAME.
func manifest(version, url string, archives []archive) ([]byte, error) {
	v, err := pluginVersion(version)
	if err != nil {
		return nil, err
	}
	p := plugin{
		APIVersion: "krew.googlecontainertools.github.com/v1alpha2", // krew's constants.CurrentAPIVersion
		Kind:       "Plugin",
		Metadata:   metadata{Name: pluginName},
		Spec: pluginSpec{
			Version: v, Homepage: homepage,
			ShortDescription: shortDescription, Description: description,
		},
	}
	for _, a := range archives {
		pp := pluginPlatform{
			Selector: selector{MatchLabels: map[string]string{"os": a.platform.os, "arch": a.platform.arch}},
			URI:      strings.TrimSuffix(url, "/") + "/" + a.name,
			SHA256:   a.sha256,
			Bin:      a.platform.bin(),
		}
		for _, f := range a.files {
			pp.Files = append(pp.Files, fileOperation{From: f, To: "."})
		}
		p.Spec.Platforms = append(p.Spec.Platforms, pp)
	}
	out, err := yaml.Marshal(p)
	if err != nil {
		return nil, err
	}
	header := fmt.Sprintf("# The krew manifest of kubectl-hotreload %s, written by make dist.\n", version)
	return append([]byte(header), out...), nil
}

// semverRE is a semantic version (semver.org's, with krew's leading v).
var semverRE = regexp.MustCompile(`^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)` +
	`(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?` +
	`(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)

// versionRE is what a VERSION may be: it names files and a URL's path.
var versionRE = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z._+-]*$`)

// pluginVersion is the manifest's spec.version for the build's VERSION, which
// krew requires to be a semantic version starting with v. A release's tag
// (v0.3.0) and git describe past one (v0.3.0-4-gabc1234, -dirty) are such
// versions, used as they are (0.3.0 gains its v). Any other VERSION, a commit
// (git describe without a tag) or dev, becomes a pre-release of v0.0.0 that
// carries it as build metadata, v0.0.0-dev+541482e, which every release sorts
// after (its characters other than letters and digits become '-').
func pluginVersion(version string) (string, error) {
	if !versionRE.MatchString(version) {
		return "", fmt.Errorf("VERSION %q is not a version: it may hold only letters, digits, '.', '_', '+' and '-', "+
			"and names the archives (e.g. VERSION=v0.3.0)", version)
	}
	if v := "v" + strings.TrimPrefix(version, "v"); semverRE.MatchString(v) {
		return v, nil
	}
	build := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '-'
	}, version)
	return "v0.0.0-dev+" + build, nil
}
