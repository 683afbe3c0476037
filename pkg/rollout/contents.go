package rollout

import (
	"context"
	"errors"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/contract"
	"github.com/hotreload/hotreload/pkg/revision"
)

// contents reads, from the controller's cache, once each per reconcile, the
// releases of a namespace's sources and the key digests of their revisions.
// A read error other than not found is kept in err and the object taken as
// missing; the reconcile then fails and is retried.
type contents struct {
	mu       sync.Mutex // the pods' releases are computed in parallel
	ctx      context.Context
	c        client.Reader
	ns       string
	releases map[SourceRef]*v1alpha1.ConfigRelease
	objects  map[objectKey]client.Object
	held     map[heldKey]held
	err      error
}

// heldKey names one version of a cached object; held is what it holds.
type heldKey struct {
	uid             types.UID
	resourceVersion string
}

type held struct {
	keys revision.Keys
	rev  string
	ok   bool
}

type objectKey struct {
	kind revision.Kind
	name string
}

// newContents reads namespace ns through c.
func newContents(ctx context.Context, c client.Reader, ns string) *contents {
	return &contents{ctx: ctx, c: c, ns: ns, releases: map[SourceRef]*v1alpha1.ConfigRelease{}, objects: map[objectKey]client.Object{},
		held: map[heldKey]held{}}
}

// release returns the source's release, nil when it has none.
func (c *contents) release(s SourceRef) *v1alpha1.ConfigRelease {
	c.mu.Lock()
	defer c.mu.Unlock()
	if rel, seen := c.releases[s]; seen {
		return rel
	}
	rel := &v1alpha1.ConfigRelease{}
	err := c.c.Get(c.ctx, client.ObjectKey{Namespace: c.ns, Name: contract.ReleaseName(string(s.Kind), s.Name)}, rel)
	switch {
	case apierrors.IsNotFound(err):
		rel = nil
	case err != nil:
		c.err = fmt.Errorf("reading the release of %s: %w", s, err)
		rel = nil
	case rel.Spec.Source.Name != s.Name || string(rel.Spec.Source.Kind) != string(s.Kind):
		rel = nil // a name cut to fit, of another source
	}
	c.releases[s] = rel
	return rel
}

// object returns the cached ConfigMap or Secret of that kind and name, with
// its key digests, nil when it does not exist.
func (c *contents) object(kind revision.Kind, name string) client.Object {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := objectKey{kind, name}
	if o, seen := c.objects[key]; seen {
		return o
	}
	o := emptyObject(kind)
	err := c.c.Get(c.ctx, client.ObjectKey{Namespace: c.ns, Name: name}, o)
	switch {
	case apierrors.IsNotFound(err):
		o = nil
	case err != nil:
		c.err = fmt.Errorf("reading %s %s/%s: %w", kind, c.ns, name, err)
		o = nil
	}
	c.objects[key] = o
	return o
}

// emptyObject returns a ConfigMap or Secret to read one into.
func emptyObject(kind revision.Kind) client.Object {
	if kind == revision.KindSecret {
		return &corev1.Secret{}
	}
	return &corev1.ConfigMap{}
}

// keys returns the key digests of a cached object, false when it is missing.
func (c *contents) keys(kind revision.Kind, name string) (revision.Keys, bool) {
	return c.digests(c.object(kind, name))
}

// digests returns the key digests of o, false when it is nil or unreadable
// (the error is kept).
func (c *contents) digests(o client.Object) (revision.Keys, bool) {
	if o == nil {
		return nil, false
	}
	k, err := keysOf(o)
	if errors.Is(err, errTooManyKeys) {
		return nil, false // as if missing: its release says why
	}
	if err != nil {
		c.fail(err)
		return nil, false
	}
	return k, true
}

// fail keeps the first read error.
func (c *contents) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
	}
}

// failed returns the first read error.
func (c *contents) failed() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// keysAt returns the key digests of source s at revision rev, from the
// object that keeps that revision, false when there is none that holds it.
func (c *contents) keysAt(s SourceRef, rev string) (revision.Keys, bool) {
	o := c.object(s.Kind, contract.RevisionName(s.Name, rev))
	if o == nil || !owned(o) {
		return nil, false
	}
	return c.holding(o, rev)
}

// holding returns the key digests of a cached object when they hash to
// revision rev, false otherwise: a kept object is believed by its content,
// never by its labels, which whoever writes the object writes too. Each
// object is decoded and hashed once per reconcile.
func (c *contents) holding(o client.Object, rev string) (revision.Keys, bool) {
	key := heldKey{o.GetUID(), o.GetResourceVersion()}
	c.mu.Lock()
	h, seen := c.held[key]
	c.mu.Unlock()
	if !seen {
		h.keys, h.ok = c.digests(o)
		if h.ok {
			h.rev = sourceRevision(h.keys)
		}
		c.mu.Lock()
		c.held[key] = h
		c.mu.Unlock()
	}
	if !h.ok || h.rev != rev {
		return nil, false
	}
	return h.keys, true
}

// owned reports whether hotreload made an object.
func owned(o client.Object) bool {
	return o.GetLabels()[contract.ManagedByLabel] == contract.ManagedBy
}

// sourceRevision is the revision of a whole source: its keys as the files of
// a volume that projects them all.
func sourceRevision(k revision.Keys) string {
	return revision.Files(k).Revision()
}
