package identity

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/hotreload/hotreload/internal/access"
	"github.com/hotreload/hotreload/pkg/contract"
)

// sidecarProblem says why pod's spec is not one hotreload injected, or ""
// when it is. A pod token for Audience proves only which pod asks; what makes
// the pod worth a reloader token is that the token can reach nothing in it
// but the reloader:
//   - its hotreload-reloader container runs the reloader image (any tag or
//     digest of the repository of image, when image is set: pods injected
//     before an upgrade keep theirs) with the image's own entrypoint;
//   - no other container, init or ephemeral, mounts a volume projecting a
//     token for Audience;
//   - the pod does not run as the reloader's account itself (the admission
//     policy hotreload-reloader-account refuses such pods; this is the same
//     rule where the policy is missing).
func sidecarProblem(pod *corev1.Pod, image string) string {
	if sa := pod.Spec.ServiceAccountName; sa == access.ReloaderName || pod.Spec.DeprecatedServiceAccount == access.ReloaderName {
		return "it runs as the ServiceAccount " + access.ReloaderName
	}
	c := contract.ReloaderContainer(pod)
	if c == nil {
		return "it has no " + contract.ReloaderName + " container"
	}
	if len(c.Command) > 0 {
		return fmt.Sprintf("container %s does not run its image's entrypoint", contract.ReloaderName)
	}
	if image != "" && repository(c.Image) != repository(image) {
		return fmt.Sprintf("container %s runs image %q, not one of %s", contract.ReloaderName, c.Image, repository(image))
	}
	tokens := map[string]bool{}
	for _, v := range pod.Spec.Volumes {
		if v.Projected == nil {
			continue
		}
		for _, s := range v.Projected.Sources {
			if s.ServiceAccountToken != nil && s.ServiceAccountToken.Audience == Audience {
				tokens[v.Name] = true
			}
		}
	}
	check := func(name string, mounts []corev1.VolumeMount) string {
		for _, m := range mounts {
			if tokens[m.Name] && name != contract.ReloaderName {
				return fmt.Sprintf("container %s mounts the %s token of volume %s", name, Audience, m.Name)
			}
		}
		return ""
	}
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range cs {
			if p := check(c.Name, c.VolumeMounts); p != "" {
				return p
			}
		}
	}
	for _, c := range pod.Spec.EphemeralContainers {
		if p := check(c.Name, c.VolumeMounts); p != "" {
			return p
		}
	}
	return ""
}

// repository returns image without its tag or digest:
// "registry:5000/hotreload/reloader:v1@sha256:…" gives "registry:5000/hotreload/reloader".
func repository(image string) string {
	image, _, _ = strings.Cut(image, "@")
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		image = image[:i]
	}
	return image
}
