//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// TestPodsAdmittedWithoutTheSidecarAreReplacedOnceTheWebhookIsBack: every
// webhook replica gone (as a botched upgrade leaves it), a Deployment of 3
// opted-in pods is admitted without the sidecar (failurePolicy: Ignore).
// Once the webhook is back, hotreload replaces them, one at a time (the
// first as a probe, the others at once after it came back injected), and
// every pod then serves its config and takes an edit in place.
func TestPodsAdmittedWithoutTheSidecarAreReplacedOnceTheWebhookIsBack(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cs := clusterClient(t)
	installHotreload(ctx, t, cs)
	dep, err := cs.AppsV1().Deployments(hotreloadNamespace).Get(ctx, "hotreload-webhook", metav1.GetOptions{})
	require.NoError(t, err)
	replicas := *dep.Spec.Replicas
	d := demo{name: "late", replicas: 3, inject: true}
	d.ns = enabledNamespace(ctx, t, cs, "hotreload-uninjected-")

	scaleWebhook(ctx, t, cs, 0)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		scaleWebhook(ctx, t, cs, replicas)
		waitInjecting(ctx, t, cs)
	})
	first := d.create(ctx, t, cs, "config 1")
	for name := range first {
		p, err := cs.CoreV1().Pods(d.ns).Get(ctx, name, metav1.GetOptions{})
		require.NoError(t, err)
		require.NotContains(t, p.Annotations, "hotreload/injected", "pod %s admitted while no webhook answered", name)
	}

	back := time.Now()
	scaleWebhook(ctx, t, cs, replicas)
	waitInjecting(ctx, t, cs)
	pods := waitInjectedPods(ctx, t, cs, d.ns, "app="+d.name, 3, 4*time.Minute)
	took := time.Since(back)
	for name := range pods {
		assert.NotContains(t, first, name, "pod %s is a replacement", name)
	}
	replaced, err := cs.CoreV1().Events(d.ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.kind=Pod,reason=PodReplaced"})
	require.NoError(t, err)
	var gone []string
	for _, e := range replaced.Items {
		gone = append(gone, e.InvolvedObject.Name)
	}
	for name := range first {
		assert.Contains(t, gone, name, "pod %s replaced", name)
	}
	t.Logf("3 pods admitted without the sidecar: all replaced and injected %v after the webhook was scaled back, in %d replacements",
		took.Round(100*time.Millisecond), len(gone))
	requireServing(ctx, t, pods, "config 1", "every replacement serves the config")
	waitServing(ctx, t, pods, "config 2", d.edit(ctx, t, cs, "config 2"), time.Minute)
}

// scaleWebhook sets the webhook's replicas and waits until it runs exactly
// that many pods (none for 0).
func scaleWebhook(ctx context.Context, t testing.TB, cs kubernetes.Interface, n int32) {
	t.Helper()
	patchDeployment(ctx, t, cs, hotreloadNamespace, "hotreload-webhook", fmt.Sprintf(`{"spec":{"replicas":%d}}`, n))
	deadline := time.Now().Add(3 * time.Minute)
	for {
		list, err := cs.CoreV1().Pods(hotreloadNamespace).List(ctx, metav1.ListOptions{LabelSelector: webhookSelector})
		require.NoError(t, err)
		if int32(len(list.Items)) == n && int32(len(readyOf(list))) == n {
			return
		}
		require.True(t, time.Now().Before(deadline), "the webhook does not run %d pods after 3m: %d", n, len(list.Items))
		time.Sleep(500 * time.Millisecond)
	}
}

// waitInjectedPods waits until the selector's Ready pods are n, each
// injected, and returns them.
func waitInjectedPods(ctx context.Context, t testing.TB, cs kubernetes.Interface, ns, selector string, n int, timeout time.Duration) map[string]string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		require.NoError(t, err)
		ready := readyOf(list)
		injected := 0
		for _, p := range list.Items {
			if _, ok := ready[p.Name]; ok && p.Annotations["hotreload/injected"] != "" {
				injected++
			}
		}
		if len(ready) == n && injected == n && len(list.Items) == n {
			return ready
		}
		require.True(t, time.Now().Before(deadline), "not %d Ready injected pods after %v: %d Ready, %d injected, %d in all\nEvents: %v",
			n, timeout, len(ready), injected, len(list.Items), allEvents(ctx, cs, ns))
		time.Sleep(250 * time.Millisecond)
	}
}
