package revision

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"maps"
	"slices"
)

// Digest is a SHA-256 digest: of one file's bytes, or of a volume's Files.
type Digest [sha256.Size]byte

// revisionHexLen is the length of a revision string in hex digits.
const revisionHexLen = 12

// DigestOf returns the SHA-256 digest of b.
func DigestOf(b []byte) Digest { return sha256.Sum256(b) }

// Short returns the revision string of d: its first 12 hex digits.
func (d Digest) Short() string { return hex.EncodeToString(d[:])[:revisionHexLen] }

// Files is the canonical content of one volume: each file's slash-separated
// path relative to the volume root, mapped to the digest of its bytes.
type Files map[string]Digest

// Sum returns the volume digest: SHA-256 over the files sorted by path, each
// framed as length-prefixed path and content digest.
func (f Files) Sum() Digest {
	h := sha256.New()
	for _, p := range slices.Sorted(maps.Keys(f)) {
		d := f[p]
		writeFramed(h, p, d)
	}
	var out Digest
	h.Sum(out[:0])
	return out
}

// Revision returns the volume revision: the short form of Sum.
func (f Files) Revision() string { return f.Sum().Short() }

// Without returns a copy of f without the given paths.
func (f Files) Without(paths []string) Files {
	out := make(Files, len(f))
	for p, d := range f {
		out[p] = d
	}
	for _, p := range paths {
		delete(out, p)
	}
	return out
}

// Revision returns the pod revision of a set of volumes, keyed by volume name:
// SHA-256 over the volumes sorted by name, each framed as length-prefixed name
// and volume digest, in its short form.
func Revision(volumes map[string]Files) string {
	h := sha256.New()
	for _, name := range slices.Sorted(maps.Keys(volumes)) {
		writeFramed(h, name, volumes[name].Sum())
	}
	var out Digest
	h.Sum(out[:0])
	return out.Short()
}

func writeFramed(h hash.Hash, name string, d Digest) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(name)))
	h.Write(n[:])
	h.Write([]byte(name))
	h.Write(d[:])
}
