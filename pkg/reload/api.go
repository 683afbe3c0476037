package reload

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
)

// API is all the reloader asks of the API server: its own pod, and Events.
type API interface {
	ListPods(ctx context.Context, namespace string, opts metav1.ListOptions) (*corev1.PodList, error)
	WatchPods(ctx context.Context, namespace string, opts metav1.ListOptions) (watch.Interface, error)
	PatchPod(ctx context.Context, namespace, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions) (*corev1.Pod, error)
	CreateEvent(ctx context.Context, namespace string, ev *corev1.Event) (*corev1.Event, error)
}

// NewAPI returns an API for cfg. It speaks core/v1 only, through a scheme of
// that one group, so the sidecar links and initialises no other API group
// (client-go's clientset and typed clients register them all). It speaks
// protobuf, as the kubelet does: the API server encodes each change of the pod
// once for the sidecar's watch and the controller's, not once more as JSON.
// It asks for no gzip: the API server would compress each event of the
// sidecar's watch for that one stream, a cost per pod, to save a few KiB.
func NewAPI(cfg *rest.Config) (API, error) {
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	metav1.AddToGroupVersion(scheme, schema.GroupVersion{Version: "v1"})
	c := rest.CopyConfig(cfg)
	c.APIPath = "/api"
	c.GroupVersion = &corev1.SchemeGroupVersion
	c.NegotiatedSerializer = serializer.NewCodecFactory(scheme).WithoutConversion()
	c.ContentType = runtime.ContentTypeProtobuf
	c.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
	c.DisableCompression = true
	if c.UserAgent == "" {
		c.UserAgent = "hotreload-reloader"
	}
	rc, err := rest.RESTClientFor(c)
	if err != nil {
		return nil, fmt.Errorf("building the API client: %w", err)
	}
	return &coreAPI{rc: rc, params: runtime.NewParameterCodec(scheme)}, nil
}

type coreAPI struct {
	rc     rest.Interface
	params runtime.ParameterCodec
}

func (a *coreAPI) ListPods(ctx context.Context, namespace string, opts metav1.ListOptions) (*corev1.PodList, error) {
	list := &corev1.PodList{}
	err := a.rc.Get().Namespace(namespace).Resource("pods").VersionedParams(&opts, a.params).Do(ctx).Into(list)
	return list, err
}

func (a *coreAPI) WatchPods(ctx context.Context, namespace string, opts metav1.ListOptions) (watch.Interface, error) {
	opts.Watch = true
	return a.rc.Get().Namespace(namespace).Resource("pods").VersionedParams(&opts, a.params).Watch(ctx)
}

func (a *coreAPI) PatchPod(ctx context.Context, namespace, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions) (*corev1.Pod, error) {
	pod := &corev1.Pod{}
	err := a.rc.Patch(pt).Namespace(namespace).Resource("pods").Name(name).VersionedParams(&opts, a.params).Body(data).Do(ctx).Into(pod)
	return pod, err
}

func (a *coreAPI) CreateEvent(ctx context.Context, namespace string, ev *corev1.Event) (*corev1.Event, error) {
	out := &corev1.Event{}
	err := a.rc.Post().Namespace(namespace).Resource("events").Body(ev).Do(ctx).Into(out)
	return out, err
}
