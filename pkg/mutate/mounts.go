package mutate

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/hotreload/hotreload/pkg/annotations"

	"github.com/hotreload/hotreload/pkg/contract"
)

// Mounts of the reloaded volumes in an app container are redirected to the
// live copy:
//
//   - A directory mount of V becomes a read-only mount of LiveVolume with
//     subPath V: the directory LiveDir/V, whose ..data link the reloader swaps.
//   - A subPath mount at D/F of V's path P depends on hotreload/subpath:
//     link makes D an emptyDir holding a copy of the image's D in which F is a
//     symlink to LiveDir/V/P, and mounts LiveVolume with subPath V at
//     LiveDir/V for the symlink to resolve; dir mounts LiveDir/V at D; keep
//     leaves it alone.
//
// An app container is never given LiveVolume itself, nor any directory above
// LiveDir/V: LiveVolume holds the live copies of every reloaded volume of the
// pod, Secrets that only another container mounts among them. Each container
// mounts the live copy of a volume only where it mounted that volume, so it
// reads no more than the original pod let it.
//
// A mount of LiveVolume with subPath V is a bind mount of the directory
// LiveDir/V, resolved by the kubelet when the container starts. It still sees
// every swap because pkg/reload creates LiveDir/V once (Live.copyChoice) and
// never replaces it: a swap renames a new ..data symlink inside it
// (Live.point), and V's top-level entries are relative symlinks through
// ..data, so each lookup through the mount resolves the copy live at that
// moment. A subPath reaching below V (V/..data, V/P) would be resolved to the
// timestamped copy of container start and pin it. That is why a linked file's
// container gets LiveDir/V, at the same path as the sidecar sees it, so the
// link step's absolute targets LiveDir/V/P stay what they were.
//
// At admission there is no telling whether P names a file or a directory of
// the volume, and both strategies work without knowing: a symlink to a live
// directory stays live as well as one to a live file, and dir exposes V's
// top-level entry P (a symlink through ..data) at D/P. So a subPath naming a
// directory is handled exactly like a file. (A bind mount of LiveDir/V/P
// itself would pin the revision current at container start, which is the very
// problem subPath mounts have.)

// redirect plans the new mounts of container c and its link step, adds the
// volumes it redirects to used, and returns nil mounts when nothing changes.
func (p *plan) redirect(c corev1.Container, used map[string]bool) ([]corev1.VolumeMount, linkStep, []string) {
	var ws []string
	warn := func(format string, args ...any) {
		ws = append(ws, fmt.Sprintf("container %q: ", c.Name)+fmt.Sprintf(format, args...))
	}
	out := make([]corev1.VolumeMount, 0, len(c.VolumeMounts))
	var subPaths []corev1.VolumeMount
	changed := false
	for _, m := range c.VolumeMounts {
		switch {
		case !p.selected[m.Name]:
			out = append(out, m)
		case m.SubPathExpr != "":
			warn("subPathExpr mount of volume %q at %s is left alone: its path is only known when the container starts, so it will not update", m.Name, m.MountPath)
			out = append(out, m)
		case m.SubPath == "":
			out = append(out, corev1.VolumeMount{Name: contract.LiveVolume, MountPath: m.MountPath, SubPath: m.Name, ReadOnly: true, MountPropagation: m.MountPropagation})
			used[m.Name] = true
			changed = true
		case p.subPath == annotations.SubPathKeep:
			warn("subPath mount %s of volume %q is kept (%s: keep): it will not update", m.MountPath, m.Name, annotations.SubPath)
			out = append(out, m)
		default:
			subPaths = append(subPaths, m)
		}
	}
	var link linkStep
	if len(subPaths) > 0 {
		var sws []string
		var redirected bool
		out, link, redirected, sws = p.redirectSubPaths(c, out, subPaths, used)
		ws = append(ws, sws...)
		changed = changed || redirected
	}
	if !changed {
		return nil, linkStep{}, ws
	}
	return out, link, ws
}

// group is the subPath mounts of one container whose files share a directory D.
type group struct {
	dir    string
	mounts []corev1.VolumeMount
}

// redirectSubPaths plans the subPath mounts of c, given the mounts planned so
// far (out), by the dir or link strategy, and reports whether it redirected any.
func (p *plan) redirectSubPaths(c corev1.Container, out, subPaths []corev1.VolumeMount, used map[string]bool) ([]corev1.VolumeMount, linkStep, bool, []string) {
	var ws []string
	warn := func(format string, args ...any) {
		ws = append(ws, fmt.Sprintf("container %q: ", c.Name)+fmt.Sprintf(format, args...))
	}
	groups := groupByDir(subPaths)
	redirected := false
	var toLink []group
	for _, g := range groups {
		if p.subPath != annotations.SubPathDir {
			toLink = append(toLink, g)
			continue
		}
		if why := dirRefusal(c, g); why != "" {
			warn("%s: dir refused for %s: %s; using link", annotations.SubPath, g.dir, why)
			toLink = append(toLink, g)
			continue
		}
		v := g.mounts[0].Name
		out = append(out, corev1.VolumeMount{Name: contract.LiveVolume, MountPath: g.dir, SubPath: v, ReadOnly: true})
		used[v] = true
		redirected = true
	}
	var link linkStep
	var linked []string // the volumes the links point into, in order
	for _, g := range toLink {
		if why := linkRefusal(c, g); why != "" {
			for _, m := range g.mounts {
				warn("subPath mount %s of volume %q is left alone (%s): it will not update", m.MountPath, m.Name, why)
				out = append(out, m)
			}
			continue
		}
		n := p.linkVolumes
		p.linkVolumes++
		link.volumes = append(link.volumes, n)
		link.copies = append(link.copies, contract.DirCopy{From: g.dir, To: contract.LinkDir + "/" + strconv.Itoa(n)})
		for _, m := range g.mounts {
			link.links = append(link.links, contract.FileLink{File: cleanPath(m.MountPath), Target: contract.LivePath(m.Name) + "/" + path.Clean(m.SubPath)})
			used[m.Name] = true
			if !slices.Contains(linked, m.Name) {
				linked = append(linked, m.Name)
			}
		}
		out = append(out, corev1.VolumeMount{Name: contract.LinkVolumePrefix + strconv.Itoa(n), MountPath: g.dir, ReadOnly: readOnlyRoot(c)})
	}
	// The links resolve through a mount of each linked volume's own live
	// copy, never of LiveVolume whole (see the top of this file).
	for _, v := range linked {
		out = append(out, corev1.VolumeMount{Name: contract.LiveVolume, MountPath: contract.LivePath(v), SubPath: v, ReadOnly: true})
	}
	if len(link.copies) > 0 {
		redirected = true
	}
	return out, link, redirected, ws
}

// groupByDir groups subPath mounts by the directory of their mount path, in
// the order the directories first appear.
func groupByDir(mounts []corev1.VolumeMount) []group {
	var groups []group
	index := map[string]int{}
	for _, m := range mounts {
		d := path.Dir(cleanPath(m.MountPath))
		i, ok := index[d]
		if !ok {
			i = len(groups)
			index[d] = i
			groups = append(groups, group{dir: d})
		}
		groups[i].mounts = append(groups[i].mounts, m)
	}
	return groups
}

// refusedDirs are directories the dir strategy never mounts over: hiding the
// image's files there breaks the container.
var refusedDirs = map[string]bool{
	"/": true, "/etc": true, "/usr": true, "/bin": true, "/sbin": true, "/var": true, "/tmp": true,
	"/root": true, "/home": true, "/proc": true, "/sys": true, "/dev": true, "/run": true,
}

// dirRefusal says why the dir strategy cannot serve group g of c, or "".
func dirRefusal(c corev1.Container, g group) string {
	if refusedDirs[g.dir] || strings.HasPrefix(g.dir, "/lib") && !strings.Contains(g.dir[1:], "/") {
		return "it would hide the image's files there"
	}
	v := g.mounts[0].Name
	for _, m := range g.mounts {
		if m.Name != v {
			return fmt.Sprintf("files of volumes %q and %q share it", v, m.Name)
		}
		if sp := path.Clean(m.SubPath); sp != path.Base(cleanPath(m.MountPath)) {
			return fmt.Sprintf("%s is not named as its subPath %q", m.MountPath, m.SubPath)
		}
	}
	for _, m := range c.VolumeMounts {
		mp := cleanPath(m.MountPath)
		if inGroup(g, m) {
			continue
		}
		if within(g.dir, mp) || within(mp, g.dir) {
			return fmt.Sprintf("it overlaps the mount %s", m.MountPath)
		}
	}
	return ""
}

// linkRefusal says why the link strategy cannot serve group g of c, or "".
func linkRefusal(c corev1.Container, g group) string {
	if !path.IsAbs(g.dir) || g.dir == "/" {
		return fmt.Sprintf("link cannot copy the directory %q", g.dir)
	}
	for _, m := range c.VolumeMounts {
		if inGroup(g, m) {
			continue
		}
		if within(g.dir, cleanPath(m.MountPath)) {
			return fmt.Sprintf("link cannot replace %s, it is inside the mount %s", g.dir, m.MountPath)
		}
	}
	return ""
}

func inGroup(g group, m corev1.VolumeMount) bool {
	for _, gm := range g.mounts {
		if gm.MountPath == m.MountPath && gm.Name == m.Name && gm.SubPath == m.SubPath {
			return true
		}
	}
	return false
}

// within reports whether p is dir or below it.
func within(p, dir string) bool {
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}

func readOnlyRoot(c corev1.Container) bool {
	sc := c.SecurityContext
	return sc != nil && sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem
}
