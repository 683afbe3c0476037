package annotations

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
)

// URLOf returns the pod's URL annotation when it is an http or https URL to a
// loopback host (localhost, 127.0.0.0/8 or ::1), else "" (deliver the signal).
func URLOf(pod map[string]string) (string, []Warning) {
	v, ok := value(pod, URL)
	if !ok {
		return "", nil
	}
	return urlValue(v)
}

// urlValue reads one value of the URL annotation.
func urlValue(v string) (string, []Warning) {
	if err := CheckLoopbackURL(v); err != nil {
		return "", []Warning{{Key: URL, Value: v, Problem: "invalid reload URL", Detail: err.Error(), Used: "the signal instead"}}
	}
	return v, nil
}

// CheckLoopbackURL returns nil for an http or https URL to a loopback host
// (localhost in any case, 127.0.0.0/8 or ::1), else what is wrong with it. The
// webhook admits such a URL and the reloader posts only to one.
func CheckLoopbackURL(v string) error {
	u, err := url.Parse(v)
	if err != nil {
		return fmt.Errorf("not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("scheme must be http or https")
	}
	host := u.Hostname()
	if host == "" {
		return fmt.Errorf("no host")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("port %s is not from 1 to 65535", p)
		}
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("host must be loopback (localhost, 127.0.0.1 or ::1)")
}

// ProcessOf returns the pod's Process annotation when it is a valid regexp,
// else "" (the container's main process).
func ProcessOf(pod map[string]string) (string, []Warning) {
	v, ok := value(pod, Process)
	if !ok {
		return "", nil
	}
	return processValue(v)
}

// processValue reads one value of the Process annotation.
func processValue(v string) (string, []Warning) {
	if err := CheckProcess(v); err != nil {
		return "", []Warning{{Key: Process, Value: v, Problem: "invalid regexp", Detail: err.Error(), Used: "the container's main process"}}
	}
	return v, nil
}

// CheckProcess returns nil for a regexp the reloader can match command lines
// with (Go's regexp syntax), else what is wrong with it.
func CheckProcess(v string) error {
	_, err := regexp.Compile(v)
	if err == nil {
		return nil
	}
	var re *syntax.Error
	if errors.As(err, &re) {
		return errors.New(string(re.Code))
	}
	return err
}

// ContainersOf returns the containers to reload, among the pod's containers
// (in pod order): those the Container annotation names, else the one the
// DefaultContainer annotation names, else the first. Unknown names are dropped
// with a warning; when none is left, the default is used.
func ContainersOf(pod map[string]string, containers []string) ([]string, []Warning) {
	known := make(map[string]bool, len(containers))
	for _, c := range containers {
		known[c] = true
	}
	def := defaultContainer(pod, known, containers)
	v, ok := value(pod, Container)
	if !ok {
		return def, nil
	}
	picked, unknown := pick(list(v), known, containers)
	if len(unknown) == 0 && len(picked) > 0 {
		return picked, nil
	}
	used := picked
	if len(used) == 0 {
		used = def
	}
	return used, []Warning{{Key: Container, Value: v, Problem: "unknown containers in", Detail: quoteAll(unknown), Used: usedList(used, "no container")}}
}

func defaultContainer(pod map[string]string, known map[string]bool, containers []string) []string {
	if d, ok := value(pod, DefaultContainer); ok && known[d] {
		return []string{d}
	}
	if len(containers) == 0 {
		return nil
	}
	return containers[:1]
}

// VolumesOf returns the volumes to reload: those the Volumes annotation names
// (in pod order), else every reloadable one. Names that are not volumes of the
// pod, or not reloadable ones, are dropped with a warning; when none is left,
// every reloadable volume is used.
func VolumesOf(pod map[string]string, volumes, reloadable []string) ([]string, []Warning) {
	v, ok := value(pod, Volumes)
	if !ok {
		return reloadable, nil
	}
	ok2 := make(map[string]bool, len(reloadable))
	for _, r := range reloadable {
		ok2[r] = true
	}
	picked, bad := pick(list(v), ok2, reloadable)
	if len(bad) == 0 && len(picked) > 0 {
		return picked, nil
	}
	exists := make(map[string]bool, len(volumes))
	for _, n := range volumes {
		exists[n] = true
	}
	var unknown, notReloadable []string
	for _, b := range bad {
		if exists[b] {
			notReloadable = append(notReloadable, b)
		} else {
			unknown = append(unknown, b)
		}
	}
	var details []string
	if len(unknown) > 0 {
		details = append(details, "no such volume "+quoteAll(unknown))
	}
	if len(notReloadable) > 0 {
		details = append(details, "not a configMap, secret or projected config volume "+quoteAll(notReloadable))
	}
	used := picked
	if len(used) == 0 {
		used = reloadable
	}
	return used, []Warning{{Key: Volumes, Value: v, Problem: "bad volumes in", Detail: strings.Join(details, "; "), Used: usedList(used, "no volume")}}
}

// pick returns the names of want found in known, in the order of order, each
// once, and the names of want not known, in the order given, each once.
func pick(want []string, known map[string]bool, order []string) (picked, unknown []string) {
	wanted := make(map[string]bool, len(want))
	seen := make(map[string]bool, len(want))
	for _, w := range want {
		if known[w] {
			wanted[w] = true
		} else if !seen[w] {
			unknown = append(unknown, w)
		}
		seen[w] = true
	}
	for _, o := range order {
		if wanted[o] {
			picked = append(picked, o)
		}
	}
	return picked, unknown
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

func usedList(names []string, none string) string {
	if len(names) == 0 {
		return none
	}
	return strings.Join(names, ",")
}

// SubPathMode says how subPath mounts are kept live.
type SubPathMode string

// The values of the SubPath annotation.
const (
	// SubPathLink copies the image's directory and links the file into the live copy.
	SubPathLink SubPathMode = "link"
	// SubPathDir mounts the live directory over the file's directory.
	SubPathDir SubPathMode = "dir"
	// SubPathKeep leaves subPath mounts alone: those files do not update.
	SubPathKeep SubPathMode = "keep"
)

// SubPathOf returns the pod's SubPath mode, else SubPathLink.
func SubPathOf(pod map[string]string) (SubPathMode, []Warning) {
	v, ok := value(pod, SubPath)
	if !ok {
		return SubPathLink, nil
	}
	switch m := SubPathMode(strings.ToLower(v)); m {
	case SubPathLink, SubPathDir, SubPathKeep:
		return m, nil
	}
	return SubPathLink, []Warning{{Key: SubPath, Value: v, Problem: "unknown mode", Detail: "want link, dir or keep", Used: string(SubPathLink)}}
}
