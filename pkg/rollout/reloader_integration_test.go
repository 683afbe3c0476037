//go:build integration

package rollout

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/internal/kubeletdir"
	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/contract"
	"github.com/hotreload/hotreload/pkg/reload"
)

// kubelet plays the kubelet for pods whose sidecars run in this process: it
// writes each pod's candidate (the ConfigMap as it is) and stable twin (the
// stable copy hotreload keeps, empty while there is none) where the
// contract's layout puts them, whenever their content changes.
func (c *cluster) kubelet(ctx context.Context, root string, pods []*corev1.Pod, cm string) {
	last := map[string][32]byte{}
	write := func(dir string, obj *corev1.ConfigMap, items []corev1.KeyToPath) {
		payload, err := kubeletdir.Payload(corev1.Volume{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: obj.Name}, Items: items, Optional: ptrTo(true)}}},
			kubeletdir.Objects{ConfigMaps: map[string]*corev1.ConfigMap{obj.Name: obj}})
		if err != nil {
			return
		}
		b, _ := json.Marshal(payload)
		sum := sha256.Sum256(b)
		if last[dir] == sum {
			return
		}
		if kubeletdir.Write(dir, payload) == nil {
			last[dir] = sum
		}
	}
	go func() {
		for ctx.Err() == nil {
			cms := c.env.Clientset.CoreV1().ConfigMaps(c.ns)
			src, err := cms.Get(ctx, cm, metav1.GetOptions{})
			stable, serr := cms.Get(ctx, contract.StableName(cm), metav1.GetOptions{})
			if apierrors.IsNotFound(serr) {
				stable, serr = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: contract.StableName(cm)}}, nil
			}
			if err == nil && serr == nil {
				for _, p := range pods {
					write(filepath.Join(root, p.Name, "src", "config", "0"), src, nil)
					write(filepath.Join(root, p.Name, "stable", "config", "0"), stable, nil)
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
}

// The real reloader code follows a release, and a halt: it applies the
// candidate on its step and goes back to the stable copy in place when the
// canary fails, each pod's live copy holding what the controller released.
func TestIntegrationRealReloadersFollowAReleaseAndItsRollback(t *testing.T) {
	c := newCluster(t, nil)
	data0 := map[string]string{"app.conf": "v=0"}
	c.configMap("app", data0)
	pods := c.replicaSet("web", 3, map[string]string{annotations.Rollout: "1,100%", annotations.RolloutInterval: "1s"}, "app")
	root := t.TempDir()
	ctx, cancel := context.WithCancel(c.ctx)
	var done []chan error
	t.Cleanup(func() {
		cancel()
		for _, d := range done {
			<-d
		}
	})
	startController(t, c.env, c.ns)
	c.waitRelease("app", "first seen", phase(v1alpha1.PhaseComplete, sourceRev(data0)))
	c.kubelet(ctx, root, pods, "app")
	require.Eventually(t, func() bool {
		for _, p := range pods {
			for _, d := range []string{"src", "stable"} {
				if _, err := os.Stat(filepath.Join(root, p.Name, d, "config", "0", "..data")); err != nil {
					return false
				}
			}
		}
		return true
	}, wait, 10*time.Millisecond, "the kubelet mounted every pod's volumes")
	api, err := reload.NewAPI(c.env.Config)
	require.NoError(t, err)
	method, err := reload.MethodOf(contract.Delivery{Signal: annotations.SignalNone})
	require.NoError(t, err)
	sources := contract.Sources{Volumes: []string{"config"}}
	for _, p := range pods {
		sources.SrcDir, sources.StableDir = filepath.Join(root, p.Name, "src"), filepath.Join(root, p.Name, "stable")
		r := reload.New(reload.Options{
			Client: api, Namespace: c.ns, PodName: p.Name,
			Live:       &reload.Live{Layout: sources.Layout(2), Volumes: []string{"config"}, LiveRoot: filepath.Join(root, p.Name, "live")},
			Containers: []string{"app"}, Deliverer: &reload.Deliverer{Method: method},
			WaitRelease: true, VerifyTimeout: 30 * time.Second, ReportRetry: 100 * time.Millisecond,
		})
		d := make(chan error, 1)
		done = append(done, d)
		go func() { d <- r.Run(ctx) }()
	}
	live := func(pod string) string {
		b, err := os.ReadFile(filepath.Join(root, pod, "live", "config", "app.conf"))
		if err != nil {
			return err.Error()
		}
		return string(b)
	}

	// A good change reaches every pod in two steps.
	data1 := map[string]string{"app.conf": "v=1"}
	c.configMap("app", data1)
	rev1 := c.desired(pods[0])
	c.waitRelease("app", "complete", phase(v1alpha1.PhaseComplete, sourceRev(data1)))
	c.waitPods("web", func(got []corev1.Pod) map[string]string { return all(got, rev1+" "+rev1) })
	for _, p := range pods {
		assert.Equal(t, "v=1", live(p.Name), "pod %s", p.Name)
	}

	// A change whose canary restarts goes back on it, in place, to stable.
	data2 := map[string]string{"app.conf": "v=2"}
	c.configMap("app", data2)
	cand, rev2 := sourceRev(data2), c.desired(pods[0])
	canaryPod := order(pods, cand)[0]
	c.waitPods("web", func(got []corev1.Pod) map[string]string {
		want := all(got, rev1+" "+rev1)
		want[canaryPod] = rev2 + " " + rev2
		return want
	})
	assert.Equal(t, "v=2", live(canaryPod))
	c.setStatus(canaryPod, true, time.Now().Add(-time.Hour), time.Now())
	rel := c.waitRelease("app", "rolled back", func(rel *v1alpha1.ConfigRelease) bool {
		return rel.Status.Halt != nil && rel.Status.Halt.RolledBack
	})
	assert.Equal(t, canaryPod, rel.Status.Halt.Pod)
	final := c.pods("web")
	assert.Equal(t, all(final, rev1+" "+rev1), podRevisions(final))
	for _, p := range pods {
		assert.Equal(t, "v=1", live(p.Name), "pod %s runs stable", p.Name)
	}
}
