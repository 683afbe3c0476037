package contract

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// The objects the controller keeps per source, in the source's namespace. Their
// names are computed here because the webhook writes one of them (the stable
// copy) into pods before it exists.

// maxNameLen is the longest object name Kubernetes takes (a DNS subdomain).
const maxNameLen = 253

// ManagedByLabel and ManagedBy mark every object the controller creates.
const (
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedBy      = "hotreload"
)

// Labels of the stable copies and revision objects.
const (
	// SourceLabel holds a digest of the source's kind and name (a name may be
	// too long for a label value).
	SourceLabel = "hotreload.dev/source"
	// RevisionLabel holds the revision an object holds.
	RevisionLabel = "hotreload.dev/revision"
	// RoleLabel says what the object is: RoleStable or RoleRevision.
	RoleLabel    = "hotreload.dev/role"
	RoleStable   = "stable"
	RoleRevision = "revision"
)

// ReleaseName is the name of the ConfigRelease of a source: configmap-<name>
// or secret-<name>.
func ReleaseName(kind, name string) string {
	return fit(strings.ToLower(kind)+"-", name, "")
}

// StableName is the name of the stable copy of a source (a ConfigMap for a
// ConfigMap, a Secret for a Secret): hotreload-stable-<name>.
func StableName(name string) string { return fit("hotreload-stable-", name, "") }

// RevisionName is the name of the object that keeps one revision of a
// source: hotreload-rev-<name>-<revision>.
func RevisionName(name, revision string) string { return fit("hotreload-rev-", name, "-"+revision) }

// SourceDigest is the value of SourceLabel for a source.
func SourceDigest(kind, name string) string {
	d := sha256.Sum256([]byte(kind + "/" + name))
	return hex.EncodeToString(d[:])[:16]
}

// fit returns prefix+name+suffix, with name cut and followed by a digest of
// it when the whole would be longer than a name may be.
func fit(prefix, name, suffix string) string {
	if len(prefix)+len(name)+len(suffix) <= maxNameLen {
		return prefix + name + suffix
	}
	d := sha256.Sum256([]byte(name))
	tag := "-" + hex.EncodeToString(d[:])[:10]
	keep := maxNameLen - len(prefix) - len(suffix) - len(tag)
	return prefix + strings.TrimRight(name[:keep], "-.") + tag + suffix
}
