//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/annotations"
)

// nginxEdits is the number of nginx edits measured per setting,
// E2E_NGINX_EDITS or 20.
func nginxEdits(b *testing.B) int { return envInt(b, "E2E_NGINX_EDITS", 20) }

// BenchmarkE2ENginxVerified times edit -> all 3 replicas of Debian's nginx
// serve it (testdata/nginx.yaml, rollout 100%), with nginx's own check
// before the swap and its new workers after it (hotreload/validate: nginx
// -t, hotreload/confirm: workers), beside the same nginx told by SIGHUP
// alone: what the app's verdict costs an edit. The two Deployments run side
// by side, in namespaces of their own, and take their edits in turn, so
// that both see the same node.
func BenchmarkE2ENginxVerified(b *testing.B) {
	n := nginxEdits(b)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cs := clusterClient(b)
	installHotreload(ctx, b, cs)
	waitNoNamespaceTerminating(ctx, b, cs)

	const v1 = `return 200 "version 1\n";`
	type setting struct {
		ns, conf  string
		pods      map[string]string
		all, each []time.Duration
	}
	start := func(prefix string, annotate map[string]string) *setting {
		ns := enabledNamespace(ctx, b, cs, prefix)
		cm, dep := nginxManifest(b)
		dep.Spec.Replicas = ptr[int32](3)
		for k, v := range annotate {
			dep.Spec.Template.Annotations[k] = v
		}
		conf := cm.Data["nginx.conf"]
		require.Equal(b, 1, strings.Count(conf, v1), "testdata/nginx.yaml's nginx.conf returns version 1 at /")
		_, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{})
		require.NoError(b, err)
		_, err = cs.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{})
		require.NoError(b, err)
		return &setting{ns: ns, conf: conf}
	}
	plain := start("bench-nginx-", nil)
	verified := start("bench-nginx-verified-", map[string]string{annotations.Validate: "nginx -t", annotations.Confirm: "workers"})
	for _, s := range []*setting{plain, verified} {
		s.pods = waitDeploymentPods(ctx, b, cs, s.ns, "app=nginx", 3)
		waitNginxRelease(ctx, b, cs, s.ns, "first seen", time.Minute, func(rel *v1alpha1.ConfigRelease) bool {
			return rel.Status.Phase == v1alpha1.PhaseComplete && workloadPods(rel) == 3
		})
	}
	for b.Loop() {
		for i := 1; i <= n; i++ {
			for _, s := range []*setting{plain, verified} {
				body := fmt.Sprintf("version %d\n", i+1)
				nginxServer.edit(ctx, b, cs, s.ns, strings.Replace(s.conf, v1, fmt.Sprintf("return 200 %q;", body), 1))
				took := waitServing(ctx, b, s.pods, body, time.Now(), 30*time.Second)
				s.all = append(s.all, slowest(took, &s.each))
				// One edit at a time: the next once every pod confirmed this one.
				waitApplied(ctx, b, cs, s.ns, s.pods, releasedRevision(ctx, b, cs, s.ns, s.pods))
			}
		}
	}
	for _, s := range []*setting{plain, verified} {
		for name := range s.pods {
			p := podNamed(ctx, b, cs, s.ns, name)
			for _, c := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
				require.Zero(b, c.RestartCount, "pod %s: container %s restarted", name, c.Name)
			}
		}
	}
	logQuantiles(b, "nginx edit -> serving (ms)", "edits", []durations{
		{"SIGHUP, all 3 replicas", plain.all, "nginx"},
		{"SIGHUP, each replica", plain.each, ""},
		{"validate + confirm, all 3 replicas", verified.all, "nginx-verified"},
		{"validate + confirm, each replica", verified.each, ""},
	})
}
