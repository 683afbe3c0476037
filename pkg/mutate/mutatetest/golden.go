// Package mutatetest reads pkg/mutate's golden cases for the tests that run
// them: the pure tests of pkg/mutate, and the integration tests that create the
// same pods through a real API server and its webhook.
//
// It is for tests only and never imports pkg/mutate, so that package's own
// tests can use it.
package mutatetest

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/release"
)

// Settings are the options of a case that differ from the tests' defaults.
type Settings struct {
	PlainSidecar         bool              `json:"plainSidecar,omitempty"`
	NamespaceAnnotations map[string]string `json:"namespaceAnnotations,omitempty"`
	HealthPort           int32             `json:"healthPort,omitempty"`
	LiveSizeLimit        string            `json:"liveSizeLimit,omitempty"`
	ExchangeCA           string            `json:"exchangeCA,omitempty"`
	// SourceAnnotations are the annotations of the ConfigMaps and Secrets
	// the pod mounts, by "ConfigMap/name" or "Secret/name": the webhook
	// reads them from the API server, where the integration tests create
	// those sources.
	SourceAnnotations map[string]map[string]string `json:"sourceAnnotations,omitempty"`
	// Releases are the statuses of the releases of sources, by
	// "ConfigMap/name" or "Secret/name": the webhook reads them from the API
	// server, where the integration tests create them.
	Releases map[string]v1alpha1.ConfigReleaseStatus `json:"releases,omitempty"`
}

// Sources returns SourceAnnotations by source, as mutate.Options takes them.
func (s Settings) Sources() (map[release.Source]map[string]string, error) {
	return bySource(s.SourceAnnotations, "sourceAnnotations")
}

// ReleaseStatuses returns Releases by source, as mutate.Options takes them.
func (s Settings) ReleaseStatuses() (map[release.Source]v1alpha1.ConfigReleaseStatus, error) {
	return bySource(s.Releases, "releases")
}

func bySource[V any](m map[string]V, field string) (map[release.Source]V, error) {
	if m == nil {
		return nil, nil
	}
	out := map[release.Source]V{}
	for key, v := range m {
		kind, name, _ := strings.Cut(key, "/")
		if k := v1alpha1.SourceKind(kind); (k != v1alpha1.SourceConfigMap && k != v1alpha1.SourceSecret) || name == "" {
			return nil, fmt.Errorf("%s: %q is not ConfigMap/NAME or Secret/NAME", field, key)
		}
		out[release.Source{Kind: v1alpha1.SourceKind(kind), Name: name}] = v
	}
	return out, nil
}

// Case is a testdata/<case>.yaml file: the pod and its settings.
type Case struct {
	Options Settings    `json:"options"`
	Pod     *corev1.Pod `json:"pod"`
}

// Result is a testdata/<case>.golden.yaml file: the mutated pod and the warnings.
type Result struct {
	Warnings []string    `json:"warnings"`
	Pod      *corev1.Pod `json:"pod"`
}

// Dir is pkg/mutate/testdata.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata")
}

// Inputs lists the case files of Dir, without the golden files.
func Inputs() ([]string, error) {
	all, err := filepath.Glob(filepath.Join(Dir(), "*.yaml"))
	if err != nil {
		return nil, err
	}
	var in []string
	for _, f := range all {
		if !strings.HasSuffix(f, ".golden.yaml") {
			in = append(in, f)
		}
	}
	return in, nil
}

// Name is the case's name: its file name without ".yaml".
func Name(input string) string { return strings.TrimSuffix(filepath.Base(input), ".yaml") }

// GoldenPath is the golden file of a case file.
func GoldenPath(input string) string { return strings.TrimSuffix(input, ".yaml") + ".golden.yaml" }

// ReadCase reads a case file, refusing unknown fields.
func ReadCase(path string) (Case, error) {
	var c Case
	if err := readStrict(path, &c); err != nil {
		return c, err
	}
	if c.Pod == nil {
		return c, fmt.Errorf("%s has no pod", path)
	}
	if _, err := c.Options.ReleaseStatuses(); err != nil {
		return Case{}, fmt.Errorf("%s: %w", path, err)
	}
	if _, err := c.Options.Sources(); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ReadResult reads a golden file, refusing unknown fields.
func ReadResult(path string) (Result, error) {
	var r Result
	return r, readStrict(path, &r)
}

func readStrict(path string, into any) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := yaml.UnmarshalStrict(raw, into); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
