package webhook

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/contract"
	"github.com/hotreload/hotreload/pkg/release"
)

// How long, and how many, answers a SourceReader remembers: the pods of a
// scale-up share their sources, and a source annotated a moment ago reaches
// the pods admitted sourceMemory later at the latest.
const (
	sourceMemory  = 5 * time.Second
	sourceEntries = 4096
	// sourceTimeout bounds the reads of one admission, well within the
	// webhook's 5 s.
	sourceTimeout = 2 * time.Second
)

// SourceReader reads the hotreload/ annotations of the ConfigMaps and
// Secrets a pod mounts, which say whether hotreload leaves a source alone
// (docs/design/2026-12-07-ignore-and-on-halt.md): a metadata-only GET
// (PartialObjectMetadata, so a Secret's data never reaches this process;
// RBAC's get, which the webhook holds for Secrets in enabled namespaces
// only), each answer remembered for sourceMemory.
type SourceReader struct {
	api  client.Reader
	seen *cache.LRUExpireCache
}

// NewSourceReader reads through api, which should not be a cache: an
// informer of Secrets needs list and watch, which the webhook does not hold.
func NewSourceReader(api client.Reader) *SourceReader {
	return &SourceReader{api: api, seen: cache.NewLRUExpireCache(sourceEntries)}
}

// Annotations returns the hotreload/ annotations of each source of namespace
// ns that has any, and a warning for each it could not read, which is taken
// to have none. A source that does not exist has none.
func (r *SourceReader) Annotations(ctx context.Context, ns string, sources []release.Source) (map[release.Source]map[string]string, []string) {
	if len(sources) == 0 {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, sourceTimeout)
	defer cancel()
	out := map[release.Source]map[string]string{}
	var warnings []string
	for _, s := range sources {
		key := ns + "/" + s.Key()
		if v, ok := r.seen.Get(key); ok {
			out[s] = v.(map[string]string)
			continue
		}
		m := &metav1.PartialObjectMetadata{}
		m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind(string(s.Kind)))
		err := r.api.Get(ctx, client.ObjectKey{Namespace: ns, Name: s.Name}, m)
		if err != nil && !apierrors.IsNotFound(err) {
			warnings = append(warnings, fmt.Sprintf("hotreload: could not read %s %q for its %s annotation (%v); taking it as not ignored",
				s.Kind, s.Name, annotations.Ignore, err))
			continue
		}
		ann := hotreloadOnly(m.Annotations)
		r.seen.Add(key, ann, sourceMemory)
		out[s] = ann
	}
	return out, warnings
}

// hotreloadOnly returns the entries of m whose key starts with hotreload/.
func hotreloadOnly(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if strings.HasPrefix(k, annotations.Prefix) {
			out[k] = v
		}
	}
	return out
}

// Releases returns the status of the release of each source of namespace ns
// that has one (docs/design/2026-12-07-every-consumer.md), read now, never
// remembered: a halt must reach the next pod admitted. A source it could not
// read gets a warning and no entry: its references stay as written.
func (r *SourceReader) Releases(ctx context.Context, ns string, sources []release.Source) (map[release.Source]v1alpha1.ConfigReleaseStatus, []string) {
	if len(sources) == 0 {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, sourceTimeout)
	defer cancel()
	out := map[release.Source]v1alpha1.ConfigReleaseStatus{}
	var warnings []string
	for _, s := range sources {
		var rel v1alpha1.ConfigRelease
		err := r.api.Get(ctx, client.ObjectKey{Namespace: ns, Name: contract.ReleaseName(string(s.Kind), s.Name)}, &rel)
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			warnings = append(warnings, fmt.Sprintf("hotreload: could not read the release of %s %q (%v); its references are read as written", s.Kind, s.Name, err))
		case rel.Spec.Source.Kind == s.Kind && rel.Spec.Source.Name == s.Name:
			out[s] = rel.Status
		}
	}
	return out, warnings
}
