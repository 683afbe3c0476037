//go:build e2e

package e2e

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"maps"
	"net"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
)

// envSizes are the Deployment sizes measured, E2E_ENV_REPLICAS ("3,30").
func envSizes(b *testing.B) []int {
	var out []int
	for _, f := range strings.Split(cmp.Or(os.Getenv("E2E_ENV_REPLICAS"), "3,30"), ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		require.NoError(b, err, "E2E_ENV_REPLICAS")
		out = append(out, n)
	}
	return out
}

// BenchmarkE2EEnvChange measures an env change delivered by hotreload against
// `kubectl rollout restart` of the same Deployment, in the same run: the
// demo app reads ConfigMap palette through valueFrom and envFrom (and its
// config file, reloaded in place), rollout 100%, the Deployment's default
// strategy (maxUnavailable and maxSurge 25%). For each size (E2E_ENV_REPLICAS):
//
//   - hotreload: from the ConfigMap edit until every replica is a Ready pod
//     serving the new value from its env; the controller's API requests
//     (rest_client_requests_total of every hotreload-webhook replica,
//     scraped as Prometheus scrapes them) per pod, by verb;
//   - restart: from the patch `kubectl rollout restart` makes (the template's
//     kubectl.kubernetes.io/restartedAt) until every replica is a new Ready
//     pod.
//
// Both end on the same condition: as many Ready pods as replicas, each
// started after the change, none of the old ones Ready. An eviction cannot
// surge, so hotreload replaces maxUnavailable pods at a time where the
// rolling update replaces maxUnavailable plus maxSurge.
func BenchmarkE2EEnvChange(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	cs := clusterClient(b)
	installHotreload(ctx, b, cs)
	for _, n := range envSizes(b) {
		ns := enabledNamespace(ctx, b, cs, "bench-env-")
		s := newScraper(ctx, b, cs, ns)
		d := demo{ns: ns, name: "env", replicas: int32(n), inject: true, args: []string{"--env=COLOR,P_COLOR"},
			annotations: map[string]string{"hotreload/rollout": "100%", "hotreload/rollout-interval": "1s"}}
		_, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "palette"},
			Data: map[string]string{"COLOR": "blue"}}, metav1.CreateOptions{})
		require.NoError(b, err)
		d.createConfig(ctx, b, cs, "file-1")
		_, err = cs.AppsV1().Deployments(ns).Create(ctx, envDeployment(d), metav1.CreateOptions{})
		require.NoError(b, err)
		first := waitEnv(ctx, b, cs, ns, "env", n, colors("blue"), 10*time.Minute)
		waitRelease(ctx, b, cs, ns, "palette", "first seen", 2*time.Minute, isPhase(v1alpha1.PhaseComplete, paletteRevision("blue")))

		before := controllerRequests(ctx, b, cs, s)
		start := time.Now()
		patchConfigMap(ctx, b, cs, ns, "palette", map[string]string{"COLOR": "green"})
		green := waitEnv(ctx, b, cs, ns, "env", n, colors("green"), 15*time.Minute)
		hot := time.Since(start)
		requireNew(b, first, green)
		waitRelease(ctx, b, cs, ns, "palette", "green complete", 2*time.Minute, isPhase(v1alpha1.PhaseComplete, paletteRevision("green")))
		used := controllerRequests(ctx, b, cs, s)

		start = time.Now()
		patchDeployment(ctx, b, cs, ns, "env", fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":%q}}}}}`,
			start.Format(time.RFC3339)))
		restarted := waitNewReady(ctx, b, cs, ns, "env", n, green, 15*time.Minute)
		restart := time.Since(start)

		ratio := hot.Seconds() / restart.Seconds()
		b.Logf("env change, %d replicas: hotreload %v, kubectl rollout restart %v (%.2fx); controller API requests per pod: %s",
			n, hot.Round(100*time.Millisecond), restart.Round(100*time.Millisecond), ratio, perPod(used.minus(before), n))
		b.ReportMetric(hot.Seconds(), fmt.Sprintf("env-%d-s", n))
		b.ReportMetric(restart.Seconds(), fmt.Sprintf("restart-%d-s", n))
		b.ReportMetric(ratio, fmt.Sprintf("env-vs-restart-%d", n))
		require.Len(b, restarted, n)
		require.NoError(b, cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}))
	}
}

// requireNew fails unless no pod of after is one of before.
func requireNew(t testing.TB, before, after map[string]string) {
	t.Helper()
	for name := range after {
		require.NotContains(t, before, name, "pod %s is a new pod", name)
	}
}

// waitNewReady waits until the Deployment's Ready pods are n pods none of
// which is in old, and returns them.
func waitNewReady(ctx context.Context, t testing.TB, cs kubernetes.Interface, ns, app string, n int, old map[string]string, timeout time.Duration) map[string]string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		pods := readyPods(ctx, t, cs, ns, "app="+app)
		if len(pods) == n && !slices.ContainsFunc(slices.Collect(maps.Keys(pods)), func(name string) bool { _, ok := old[name]; return ok }) {
			return pods
		}
		require.True(t, time.Now().Before(deadline), "not %d new Ready pods after %v: %v", n, timeout, pods)
		time.Sleep(250 * time.Millisecond)
	}
}

// requests counts API requests by verb.
type requests map[string]float64

func (r requests) minus(o requests) requests {
	out := requests{}
	for verb, v := range r {
		if d := v - o[verb]; d > 0 {
			out[verb] = d
		}
	}
	return out
}

// perPod says requests per pod, by verb, in verb order.
func perPod(r requests, n int) string {
	var out []string
	for _, verb := range slices.Sorted(maps.Keys(r)) {
		out = append(out, fmt.Sprintf("%s %.1f", verb, r[verb]/float64(n)))
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}

var (
	counterLine = regexp.MustCompile(`^rest_client_requests_total\{([^}]*)\} (\S+)$`)
	methodLabel = regexp.MustCompile(`method="([^"]+)"`)
)

// controllerRequests sums, by verb, the API requests every hotreload-webhook
// replica (the controller and the webhook) made, from their metrics, read
// as a scraper of s reads them.
func controllerRequests(ctx context.Context, t testing.TB, cs kubernetes.Interface, s scraper) requests {
	t.Helper()
	list, err := cs.CoreV1().Pods(hotreloadNamespace).List(ctx, metav1.ListOptions{LabelSelector: webhookSelector})
	require.NoError(t, err)
	out := requests{}
	for _, p := range list.Items {
		if p.DeletionTimestamp != nil || p.Status.PodIP == "" {
			continue
		}
		sc := bufio.NewScanner(strings.NewReader(s.get(ctx, t, "https://"+net.JoinHostPort(p.Status.PodIP, "8443")+"/metrics")))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			m := counterLine.FindStringSubmatch(sc.Text())
			if m == nil {
				continue
			}
			method := methodLabel.FindStringSubmatch(m[1])
			v, err := strconv.ParseFloat(m[2], 64)
			require.NoError(t, err)
			if method != nil {
				out[method[1]] += v
			}
		}
		require.NoError(t, sc.Err())
	}
	return out
}
