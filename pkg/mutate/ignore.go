package mutate

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/release"
	"github.com/hotreload/hotreload/pkg/revision"
)

// A ConfigMap or Secret annotated hotreload/ignore: "true" is left alone: a
// volume that projects it is not reloaded, so its mounts stay as written,
// subPath mounts included. A projected volume that mixes it with other
// sources is left whole: the kubelet projects it as one directory.

// Sources returns the ConfigMaps and Secrets whose annotations Mutate reads
// (Options.SourceAnnotations): those the pod's reloadable volumes project,
// each once, in spec order; none for a pod Mutate leaves alone.
func Sources(pod *corev1.Pod) []release.Source {
	if pod == nil {
		return nil
	}
	if act, _ := shouldAct(pod); !act {
		return nil
	}
	return release.SourcesOf(pod, revision.ReloadableVolumes(pod))
}

// leaveIgnored takes out of selected the volumes that project an ignored
// source, and returns a note for each, after a warning for each malformed
// hotreload/ignore value.
func leaveIgnored(pod *corev1.Pod, selected map[string]bool, sources map[release.Source]map[string]string) []string {
	var out []string
	warned := map[release.Source]bool{}
	for _, v := range pod.Spec.Volumes {
		if !selected[v.Name] {
			continue
		}
		var ignored, others []string
		for _, src := range release.SourcesOf(pod, []string{v.Name}) {
			ign, ws := annotations.IgnoredOf(sources[src])
			if !warned[src] {
				warned[src] = true
				for _, w := range annotations.Strings(ws) {
					out = append(out, describe(src)+": "+w)
				}
			}
			if ign {
				ignored = append(ignored, describe(src))
			} else {
				others = append(others, describe(src))
			}
		}
		if len(ignored) == 0 {
			continue
		}
		delete(selected, v.Name)
		note := fmt.Sprintf("volume %q is left as written: %s annotated %s: \"true\"", v.Name, are(ignored), annotations.Ignore)
		if len(others) > 0 {
			note += fmt.Sprintf("; %s, in the same volume, %s not reloaded through it either", strings.Join(others, ", "), verb(others, "is", "are"))
		}
		out = append(out, note)
	}
	return out
}

// describe names a source as notes do: ConfigMap "app".
func describe(s release.Source) string { return fmt.Sprintf("%s %q", s.Kind, s.Name) }

// are joins names and their verb: `ConfigMap "a" is`, `ConfigMap "a", Secret "b" are`.
func are(names []string) string { return strings.Join(names, ", ") + " " + verb(names, "is", "are") }

func verb(names []string, one, many string) string {
	if len(names) == 1 {
		return one
	}
	return many
}
