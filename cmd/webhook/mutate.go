package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/internal/cli"
	"github.com/hotreload/hotreload/internal/manifest"
	"github.com/hotreload/hotreload/internal/version"
	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/mutate"
	"github.com/hotreload/hotreload/pkg/release"
)

// nativeSidecarMinor is the first Kubernetes 1.x release with native sidecars.
const nativeSidecarMinor = 29

// mutateCommand is `webhook mutate -f FILE`: the offline preview of the webhook.
func mutateCommand(stdin io.Reader, stdout, stderr io.Writer) func(context.Context, *flag.FlagSet, []string) error {
	return func(_ context.Context, fs *flag.FlagSet, args []string) error {
		file := fs.String("f", "", "manifest to read, YAML or JSON, one or many documents (- for stdin)")
		image := fs.String("reloader-image", version.ReloaderImage(), "reloader image to inject")
		kube := fs.String("kube-version", "1.37", "Kubernetes version of the API server; before 1.29 the reloader is a plain container")
		nsAnnotations := keyValues{}
		fs.Var(nsAnnotations, "namespace-annotation", "annotation of the pods' namespace, KEY=VALUE (repeatable), e.g. hotreload/rollout=1,100%")
		ignored := ignoredSources{}
		fs.Var(ignored, "ignore", "a source annotated hotreload/ignore: \"true\" that is not in FILE, configmap/NAME or secret/NAME (repeatable)")
		if err := cli.Parse(fs, args, "-f FILE [flags]",
			"Reads Pods and workloads from FILE (- for stdin), prints them mutated on stdout and the warnings on stderr.\n"+
				"The ConfigMaps and Secrets in FILE give their annotations (hotreload/ignore), as the webhook reads them in the cluster."); err != nil {
			return err
		}
		if *file == "" {
			return fmt.Errorf("-f FILE is required (- for stdin)")
		}
		native, err := nativeSidecar(*kube)
		if err != nil {
			return err
		}
		in, name := stdin, "stdin"
		if *file != "-" {
			name = *file
			f, err := os.Open(*file)
			if err != nil {
				return err
			}
			defer f.Close()
			in = f
		}
		results, err := manifest.Mutate(in, mutate.Options{
			ReloaderImage:        *image,
			Version:              version.Version,
			NativeSidecar:        native,
			NamespaceAnnotations: nsAnnotations,
			SourceAnnotations:    ignored,
		})
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := manifest.WriteWarnings(stderr, results); err != nil {
			return err
		}
		return manifest.Write(stdout, results)
	}
}

// nativeSidecar reports whether Kubernetes version v ("1.29", "v1.30.2")
// supports native sidecars.
func nativeSidecar(v string) (bool, error) {
	parts := strings.SplitN(strings.TrimPrefix(v, "v"), ".", 3)
	if len(parts) < 2 {
		return false, fmt.Errorf("--kube-version %q: want MAJOR.MINOR, e.g. 1.29", v)
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(strings.TrimRight(parts[1], "+"))
	if err1 != nil || err2 != nil {
		return false, fmt.Errorf("--kube-version %q: want MAJOR.MINOR, e.g. 1.29", v)
	}
	return major > 1 || major == 1 && minor >= nativeSidecarMinor, nil
}

// keyValues is a repeatable KEY=VALUE flag.
type keyValues map[string]string

func (kv keyValues) String() string {
	var s []string
	for k, v := range kv {
		s = append(s, k+"="+v)
	}
	return strings.Join(s, ",")
}

func (kv keyValues) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want KEY=VALUE, got %q", s)
	}
	kv[k] = v
	return nil
}

// ignoredSources is the repeatable --ignore KIND/NAME flag: each source as
// annotated hotreload/ignore: "true".
type ignoredSources map[release.Source]map[string]string

func (ig ignoredSources) String() string {
	var s []string
	for src := range ig {
		s = append(s, src.Key())
	}
	slices.Sort(s)
	return strings.Join(s, ",")
}

func (ig ignoredSources) Set(v string) error {
	kind, name, _ := strings.Cut(v, "/")
	var k v1alpha1.SourceKind
	switch strings.ToLower(kind) {
	case "configmap", "configmaps", "cm":
		k = v1alpha1.SourceConfigMap
	case "secret", "secrets":
		k = v1alpha1.SourceSecret
	}
	if k == "" || name == "" {
		return fmt.Errorf("want configmap/NAME or secret/NAME, got %q", v)
	}
	ig[release.Source{Kind: k, Name: name}] = map[string]string{annotations.Ignore: "true"}
	return nil
}
