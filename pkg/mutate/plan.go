package mutate

import (
	"fmt"
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/hotreload/hotreload/pkg/annotations"

	"github.com/hotreload/hotreload/pkg/contract"
)

// plan is everything apply changes, computed without touching the pod.
type plan struct {
	settings
	// mounts holds the new volumeMounts of each app container that changes, by name.
	mounts map[string][]corev1.VolumeMount
	// volumes are the reloaded volumes, in pod order: those with a redirected mount.
	volumes []string
	// links are the link steps, one per app container with linked subPath files.
	links []linkStep
	// linkVolumes counts the hotreload-link-N emptyDirs.
	linkVolumes int
	healthPort  int32
	security    *corev1.SecurityContext
	// sources are the parts of the reloaded volumes, as the sidecar mounts them.
	sources sidecarSources
	// validators are the app containers that get a validator, in pod order.
	validators []string
}

// linkStep is the link init container of one app container.
type linkStep struct {
	container string
	copies    []contract.DirCopy  // D to LinkDir/N
	links     []contract.FileLink // D/F to LiveDir/V/P
	volumes   []int               // N of each copy
}

// makePlan decides the new mounts and link steps of pod's reloaded
// containers, and warns about what it cannot do as asked.
func makePlan(pod *corev1.Pod, s settings, opts Options) (plan, []string) {
	p := plan{settings: s, mounts: map[string][]corev1.VolumeMount{}}
	var ws []string
	used := map[string]bool{}
	for _, c := range reloaded(pod, s.containers) {
		mounts, link, mws := p.redirect(c, used)
		ws = append(ws, mws...)
		if mounts != nil {
			p.mounts[c.Name] = mounts
		}
		if len(link.copies) > 0 {
			link.container = c.Name
			p.links = append(p.links, link)
		}
	}
	for _, v := range pod.Spec.Volumes {
		if used[v.Name] {
			p.volumes = append(p.volumes, v.Name)
		}
	}
	return p, ws
}

// planReloader decides how the reloader runs: its health port and user,
// and whether the pod shares its process namespace.
func (p *plan) planReloader(pod *corev1.Pod, opts Options) []string {
	p.healthPort = freePort(pod, opts.HealthPort)
	var ws []string
	p.security, ws = reloaderSecurity(pod, p.settings)
	switch sp := pod.Spec.ShareProcessNamespace; {
	case !p.signals() || sp != nil && *sp:
	case sp != nil:
		ws = append(ws, fmt.Sprintf("shareProcessNamespace: false is overridden to true so that the reloader can send %s; the pod's containers see each other's processes (and, running as one user, their environments and files); set %s to none, or a URL in %s, to avoid it", p.sends(), annotations.Signal, annotations.URL))
	default:
		ws = append(ws, fmt.Sprintf("shareProcessNamespace is turned on so that the reloader can send %s; the pod's containers see each other's processes (and, running as one user, their environments and files); set %s to none, or a URL in %s, to avoid it", p.sends(), annotations.Signal, annotations.URL))
	}
	return ws
}

// sends says what the reloader signals: "SIGHUP to the process", or "SIGHUP
// and SIGUSR2 to the processes".
func (p *plan) sends() string {
	names := p.signalNames()
	if len(names) == 1 {
		return names[0] + " to the process"
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1] + " to the processes"
}

// freePort returns the first port from want on that no container of pod declares.
func freePort(pod *corev1.Pod, want int32) int32 {
	taken := map[int32]bool{}
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range cs {
			for _, port := range c.Ports {
				taken[port.ContainerPort] = true
			}
		}
	}
	port := want
	for range 65536 {
		if port > 65535 || port < 1024 {
			port = 1024
		}
		if !taken[port] {
			return port
		}
		port++
	}
	return want
}

// cleanPath cleans a mount path; "" stays "".
func cleanPath(p string) string {
	if p == "" {
		return ""
	}
	return path.Clean(p)
}
