// Package revision computes the config revision of a pod's reloadable volumes:
// a short SHA-256 over the paths and bytes the kubelet projects into them.
//
// The same canonical form is computed from API objects (for the controller, see
// ForPod) and from mounted directories (for the reloader, see DirFiles and
// ForDirs), so "the kubelet has written revision R" is a string comparison.
//
// # Canonical form
//
// A volume's content is the set of files the kubelet writes into it: for each
// file its slash-separated path relative to the volume root (as cleaned by
// path.Clean) and the SHA-256 digest of its bytes (Files). Mode bits, owners and
// timestamps are not part of it: a pod's volume modes cannot change while it
// runs, and the app only reads bytes. Empty directories do not exist in a
// kubelet volume and are not part of it either.
//
// The volume digest (Files.Sum) is the SHA-256 of, for each file in increasing
// byte order of its path:
//
//	uint64 big-endian len(path) || path || 32-byte SHA-256 of the file's bytes
//
// The pod revision (Revision) is the SHA-256 of, for each volume in increasing
// byte order of its name:
//
//	uint64 big-endian len(name) || name || 32-byte volume digest
//
// written as the first 12 lowercase hex digits (48 bits). A volume revision
// (Files.Revision) is the same 12 hex digits of the volume digest alone.
//
// Because the form is built from per-file digests, a caller that caches API
// objects may keep only each key's digest (Keys) and drop the bytes: ForPod
// needs nothing else.
//
// # Which files a volume projects
//
// As the kubelet does: a configMap volume projects data and binaryData, a
// secret volume projects data; without items every key becomes a file named
// after it, with items only the listed keys, each at its (possibly nested)
// path. A listed key that is missing is skipped when the source is optional and
// is an error (ErrKeyNotFound) otherwise; a missing object is an empty source
// when optional and an error (ErrObjectNotFound) otherwise. A projected volume
// counts its configMap and secret sources in order, a later source's path
// replacing an earlier one's; its downwardAPI items are not config and are left
// out on both sides (see ExcludedPaths).
//
// On disk, a volume directory laid out by the kubelet's atomic writer is read
// through its ..data symlink, following symlinks; entries whose name starts
// with ".." are the writer's own and are ignored.
//
// It never talks to the API server and never writes files.
package revision
