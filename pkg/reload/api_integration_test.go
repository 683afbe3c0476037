//go:build integration

package reload

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"

	"github.com/hotreload/hotreload/internal/testenv"
)

// wire records, per request, the media type the API server answered in and
// whether the answer came gzipped.
type wire struct {
	mu   sync.Mutex
	seen map[string]string
}

func (w *wire) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := rt.RoundTrip(req)
		if err == nil {
			got := resp.Header.Get("Content-Type")
			if resp.Uncompressed || resp.Header.Get("Content-Encoding") == "gzip" {
				got += " gzipped"
			}
			key := req.Method + " " + req.URL.Path
			if q := req.URL.Query(); q.Get("watch") != "" {
				key = "WATCH " + req.URL.Path
			}
			w.mu.Lock()
			w.seen[key] = got
			w.mu.Unlock()
		}
		return resp, err
	})
}

// The API server encodes each change of a pod once per encoding and, for a
// streamed watch a client accepts gzip on, compresses every event for that
// stream alone: the sidecar's requests, one watch per pod of the cluster, ask
// for protobuf (what the controller's informer asks too) and no gzip.
func TestIntegrationTheReloaderSpeaksProtobufWithoutGzip(t *testing.T) {
	env := testenv.Get(t)
	ns := env.Namespace(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := env.Clientset.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx"}}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)

	w := &wire{seen: map[string]string{}}
	cfg := rest.CopyConfig(env.Config)
	cfg.Wrap(w.wrap)
	api, err := NewAPI(cfg)
	require.NoError(t, err)
	view := NewPodView(api, ns, "web")
	require.True(t, view.Start(ctx), "the view synced")
	pod, err := api.PatchPod(ctx, ns, "web", types.MergePatchType, []byte(`{"metadata":{"annotations":{"a":"b"}}}`), metav1.PatchOptions{})
	require.NoError(t, err)
	assert.Equal(t, "b", pod.Annotations["a"], "the patched pod, decoded")
	require.Eventually(t, func() bool { return view.Pod().Annotations["a"] == "b" }, 30*time.Second, 10*time.Millisecond,
		"the view saw the patch through its watch")
	_, err = api.CreateEvent(ctx, ns, &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{GenerateName: "web."},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: "web", UID: pod.UID},
		Reason:         "Test", Message: "m", Type: corev1.EventTypeNormal,
	})
	require.NoError(t, err)
	list, err := api.ListPods(ctx, ns, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", "web").String()})
	require.NoError(t, err)
	require.Len(t, list.Items, 1)

	podPath, podsPath := "/api/v1/namespaces/"+ns+"/pods/web", "/api/v1/namespaces/"+ns+"/pods"
	w.mu.Lock()
	defer w.mu.Unlock()
	assert.Equal(t, map[string]string{
		"GET " + podsPath:                           runtime.ContentTypeProtobuf,
		"WATCH " + podsPath:                         runtime.ContentTypeProtobuf + ";stream=watch",
		"PATCH " + podPath:                          runtime.ContentTypeProtobuf,
		"POST /api/v1/namespaces/" + ns + "/events": runtime.ContentTypeProtobuf,
	}, w.seen)
}
