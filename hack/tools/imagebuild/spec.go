package main

import (
	"fmt"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// imageSpec is one --image value: what goes into the image and how it runs.
type imageSpec struct {
	ref    string
	binary string   // empty: the entrypoint comes from a rootfs
	rootfs []string // directories, one layer each
	path   string
	cmd    []string
	user   int
	labels map[string]string // the image's own, over the common --label ones
}

// forPlatform is s with {os} and {arch} in its binary's and rootfs directories'
// paths replaced by p's.
func (s imageSpec) forPlatform(p v1.Platform) imageSpec {
	r := strings.NewReplacer("{os}", p.OS, "{arch}", p.Architecture)
	s.binary = r.Replace(s.binary)
	s.rootfs = append([]string(nil), s.rootfs...)
	for i, dir := range s.rootfs {
		s.rootfs[i] = r.Replace(dir)
	}
	return s
}

// perPlatform reports whether every file s takes names the platform ({arch}),
// as it must when the image is built for more than one.
func (s imageSpec) perPlatform() bool {
	if s.binary != "" && !strings.Contains(s.binary, "{arch}") {
		return false
	}
	for _, dir := range s.rootfs {
		if !strings.Contains(dir, "{arch}") {
			return false
		}
	}
	return true
}

// imageFlags is the repeatable --image flag.
type imageFlags []imageSpec

// String is for flag.Value: how many images.
func (f *imageFlags) String() string { return fmt.Sprint(len(*f), " images") }

// Set parses REF=BINARY or REF=rootfs=DIR, then comma-separated options.
func (f *imageFlags) Set(v string) error {
	ref, rest, ok := strings.Cut(v, "=")
	if !ok || ref == "" || rest == "" {
		return fmt.Errorf("want REF=BINARY or REF=rootfs=DIR, then [,path=/p][,rootfs=DIR][,cmd=arg][,user=UID][,label=KEY=VALUE], got %q", v)
	}
	parts := strings.Split(rest, ",")
	s := imageSpec{ref: ref, user: 65532}
	opts := parts
	if !strings.HasPrefix(parts[0], "rootfs=") {
		s.binary, opts = parts[0], parts[1:]
		s.path = "/" + filepath.Base(s.binary)
	}
	for _, p := range opts {
		k, val, _ := strings.Cut(p, "=")
		switch k {
		case "path":
			s.path = path.Clean("/" + val)
		case "rootfs":
			if val == "" {
				return fmt.Errorf("image %s: rootfs= needs a directory", ref)
			}
			s.rootfs = append(s.rootfs, val)
		case "cmd":
			s.cmd = append(s.cmd, val)
		case "user":
			uid, err := strconv.Atoi(val)
			if err != nil {
				return fmt.Errorf("image %s: user %q is not a UID", ref, val)
			}
			s.user = uid
		case "label":
			if s.labels == nil {
				s.labels = map[string]string{}
			}
			if err := setLabel(s.labels, val); err != nil {
				return fmt.Errorf("image %s: %w", ref, err)
			}
		default:
			return fmt.Errorf("image %s: unknown option %q (want path, rootfs, cmd, user or label)", ref, k)
		}
	}
	if s.binary == "" && (s.path == "" || s.path == "/") {
		return fmt.Errorf("image %s: without a binary, path=/entrypoint names a file of the rootfs", ref)
	}
	*f = append(*f, s)
	return nil
}

// labelFlags is the repeatable --label flag: KEY=VALUE, on every image.
type labelFlags map[string]string

// String is for flag.Value: how many labels.
func (f labelFlags) String() string { return fmt.Sprint(len(f), " labels") }

// Set adds KEY=VALUE.
func (f labelFlags) Set(v string) error { return setLabel(f, v) }

// setLabel adds the label KEY=VALUE of v to labels.
func setLabel(labels map[string]string, v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("label %q: want KEY=VALUE", v)
	}
	labels[k] = val
	return nil
}

// parsePlatforms parses a comma-separated list of OS/ARCH platforms.
func parsePlatforms(v string) ([]v1.Platform, error) {
	var out []v1.Platform
	for _, s := range strings.Split(v, ",") {
		p, err := v1.ParsePlatform(s)
		if err != nil || p.OS == "" || p.Architecture == "" || s != p.OS+"/"+p.Architecture {
			return nil, fmt.Errorf("platform %q: want OS/ARCH, such as linux/amd64", s)
		}
		out = append(out, *p)
	}
	return out, nil
}
