//go:build integration

package testenv_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hotreload/hotreload/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// The harness really talks to kube-apiserver and etcd: an update made through
// the API server reaches an informer watching the namespace.
func TestIntegrationInformerSeesConfigMapUpdate(t *testing.T) {
	env := testenv.Get(t)
	require.Regexp(t, `^v1\.37\.`, env.ServerVersion, "the API server reports the version it was built as")

	ns := env.Namespace(t, map[string]string{"hotreload/injection": "enabled"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	cms := env.Clientset.CoreV1().ConfigMaps(ns)
	cm, err := cms.Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "app-config"},
		Data:       map[string]string{"app.conf": "color=blue\n"},
	}, metav1.CreateOptions{})
	require.NoError(t, err)

	factory := informers.NewSharedInformerFactoryWithOptions(env.Clientset, 0, informers.WithNamespace(ns))
	seen := make(chan map[string]string, 10)
	_, err = factory.Core().V1().ConfigMaps().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { seen <- obj.(*corev1.ConfigMap).Data },
		UpdateFunc: func(_, obj any) { seen <- obj.(*corev1.ConfigMap).Data },
	})
	require.NoError(t, err)
	stop := make(chan struct{})
	factory.Start(stop)
	defer func() { close(stop); factory.Shutdown() }()

	require.Equal(t, map[string]string{"app.conf": "color=blue\n"}, next(t, ctx, seen), "the informer lists the ConfigMap")

	cm.Data["app.conf"] = "color=green\n"
	_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"app.conf": "color=green\n"}, next(t, ctx, seen), "the informer sees the update")
}

// Each test gets its own namespace, carrying the labels it asked for.
func TestIntegrationNamespacesAreFreshAndLabelled(t *testing.T) {
	env := testenv.Get(t)
	a := env.Namespace(t, map[string]string{"team": "a"})
	b := env.Namespace(t, nil)
	require.NotEqual(t, a, b)

	var ns corev1.Namespace
	require.NoError(t, env.Client.Get(context.Background(), client.ObjectKey{Name: a}, &ns))
	require.Equal(t, "a", ns.Labels["team"])
}

func next(t *testing.T, ctx context.Context, ch <-chan map[string]string) map[string]string {
	t.Helper()
	select {
	case d := <-ch:
		return d
	case <-ctx.Done():
		t.Fatal("timed out waiting for the informer")
		return nil
	}
}
