package webhook

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/release"
)

// metadataReader answers metadata GETs from a map by name, NotFound for
// others, or err; it counts the GETs.
type metadataReader struct {
	client.Reader
	annotations map[string]map[string]string
	err         error
	gets        int
}

func (m *metadataReader) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	m.gets++
	if m.err != nil {
		return m.err
	}
	ann, ok := m.annotations[key.Name]
	if !ok {
		return apierrors.NewNotFound(schema.GroupResource{Resource: "configmaps"}, key.Name)
	}
	obj.(*metav1.PartialObjectMetadata).Annotations = ann
	return nil
}

// The sources of a scale-up's pods cost one read each: answers, a source
// that does not exist included, are remembered (for sourceMemory); a failed
// read is a warning, and is tried again for the next pod.
func TestSourceReaderRemembersAnswers(t *testing.T) {
	app := release.Source{Kind: v1alpha1.SourceConfigMap, Name: "app"}
	gone := release.Source{Kind: v1alpha1.SourceConfigMap, Name: "gone"}
	api := &metadataReader{annotations: map[string]map[string]string{"app": {"hotreload/ignore": "true", "team": "web"}}}
	r := NewSourceReader(api)
	for range 3 {
		got, warnings := r.Annotations(context.Background(), "shop", []release.Source{app, gone})
		assert.Equal(t, map[release.Source]map[string]string{app: {"hotreload/ignore": "true"}, gone: {}}, got)
		assert.Empty(t, warnings)
	}
	assert.Equal(t, 2, api.gets, "one read per source")

	got, _ := r.Annotations(context.Background(), "other", []release.Source{app})
	assert.Equal(t, map[string]string{"hotreload/ignore": "true"}, got[app])
	assert.Equal(t, 3, api.gets, "per namespace")

	failing := &metadataReader{err: errors.New("the API server is away")}
	r = NewSourceReader(failing)
	for range 2 {
		got, warnings := r.Annotations(context.Background(), "shop", []release.Source{app})
		assert.Empty(t, got)
		assert.Equal(t, []string{`hotreload: could not read ConfigMap "app" for its hotreload/ignore annotation (the API server is away); taking it as not ignored`}, warnings)
	}
	assert.Equal(t, 2, failing.gets, "a failure is not remembered")
}
