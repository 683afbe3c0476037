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
// alone: what the app's verdict costs an edit. The two run one after the
// other, in namespaces of their own, the same number of edits each.
func BenchmarkE2ENginxVerified(b *testing.B) {
	n := nginxEdits(b)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cs := clusterClient(b)
	installHotreload(ctx, b, cs)
	waitNoNamespaceTerminating(ctx, b, cs)

	run := func(prefix string, annotate map[string]string) (all, each []time.Duration) {
		ns := enabledNamespace(ctx, b, cs, prefix)
		cm, dep := nginxManifest(b)
		dep.Spec.Replicas = ptr[int32](3)
		for k, v := range annotate {
			dep.Spec.Template.Annotations[k] = v
		}
		const v1 = `return 200 "version 1\n";`
		conf := cm.Data["nginx.conf"]
		require.Equal(b, 1, strings.Count(conf, v1), "testdata/nginx.yaml's nginx.conf returns version 1 at /")
		_, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{})
		require.NoError(b, err)
		_, err = cs.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{})
		require.NoError(b, err)
		pods := waitDeploymentPods(ctx, b, cs, ns, "app=nginx", 3)
		waitNginxRelease(ctx, b, cs, ns, "first seen", time.Minute, func(rel *v1alpha1.ConfigRelease) bool {
			return rel.Status.Phase == v1alpha1.PhaseComplete && workloadPods(rel) == 3
		})
		for i := 1; i <= n; i++ {
			body := fmt.Sprintf("version %d of %s\n", i+1, prefix)
			next := strings.Replace(conf, v1, fmt.Sprintf("return 200 %q;", body), 1)
			editNginx(ctx, b, cs, ns, next)
			took := waitServing(ctx, b, pods, body, time.Now(), 30*time.Second)
			all = append(all, slowest(took, &each))
			// One edit at a time: the next once every pod confirmed this one.
			waitApplied(ctx, b, cs, ns, pods, releasedRevision(ctx, b, cs, ns, pods))
		}
		for name := range pods {
			p := podNamed(ctx, b, cs, ns, name)
			for _, c := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
				require.Zero(b, c.RestartCount, "pod %s: container %s restarted", name, c.Name)
			}
		}
		return all, each
	}
	var plainAll, plainEach, verifiedAll, verifiedEach []time.Duration
	for b.Loop() {
		plainAll, plainEach = run("bench-nginx-", nil)
		verifiedAll, verifiedEach = run("bench-nginx-verified-", map[string]string{
			annotations.Validate: "nginx -t", annotations.Confirm: "workers"})
	}
	logQuantiles(b, "nginx edit -> serving (ms)", "edits", []durations{
		{"SIGHUP, all 3 replicas", plainAll, "nginx"},
		{"SIGHUP, each replica", plainEach, ""},
		{"validate + confirm, all 3 replicas", verifiedAll, "nginx-verified"},
		{"validate + confirm, each replica", verifiedEach, ""},
	})
}
