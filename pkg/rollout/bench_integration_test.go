//go:build integration

package rollout

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/internal/identity"
	"github.com/hotreload/hotreload/internal/reloadertoken"
	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/mutate"
)

// Sizes of the benchmarks, overridable for a quick run.
func benchSize(b *testing.B, env string, def int) int {
	if v := os.Getenv(env); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(b, err, env)
		return n
	}
	return def
}

// BenchmarkIntegrationControllerMemory measures the controller's heap with
// HOTRELOAD_BENCH_PODS injected pods (default 10000, made by pkg/mutate from
// an nginx pod) in groups of HOTRELOAD_BENCH_PODS/HOTRELOAD_BENCH_CONFIGMAPS,
// each group mounting its own ConfigMap of 4 KiB (default 5000), in a real
// API server: the heap the process gains from starting the controller until
// its caches hold everything and it has rolled out a sentinel change; then
// the resident memory of the same controller alone in a process of its own,
// with the GOMEMLIMIT deploy/base sets (none with
// HOTRELOAD_BENCH_NO_GOMEMLIMIT=1).
// HOTRELOAD_BENCH_HEAPPROFILE names a file to write a heap profile to then.
func BenchmarkIntegrationControllerMemory(b *testing.B) {
	nPods := benchSize(b, "HOTRELOAD_BENCH_PODS", 10000)
	nCMs := benchSize(b, "HOTRELOAD_BENCH_CONFIGMAPS", 5000)
	c := newCluster(b, nil)
	created := time.Now()
	c.createMany(nCMs, func(i int) error {
		_, err := c.env.Clientset.CoreV1().ConfigMaps(c.ns).Create(c.ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%d", i)},
			Data:       map[string]string{"nginx.conf": strings.Repeat("x", 4096)},
		}, metav1.CreateOptions{})
		return err
	})
	rev0 := c.desired(injectedPod(b, "pod", "cm-0", "", "")) // every ConfigMap holds the same data
	c.createMany(nPods, func(i int) error {
		g := i % nCMs
		_, err := c.env.Clientset.CoreV1().Pods(c.ns).Create(c.ctx, injectedPod(b, fmt.Sprintf("pod-%d", i), fmt.Sprintf("cm-%d", g), types.UID(fmt.Sprintf("rs-%d", g)), rev0), metav1.CreateOptions{})
		return err
	})
	c.configMap("sentinel", map[string]string{"nginx.conf": "v=0"})
	sentinel := injectedPod(b, "sentinel", "sentinel", "sentinel", "")
	sentinel, err := c.env.Clientset.CoreV1().Pods(c.ns).Create(c.ctx, injectedPod(b, "sentinel", "sentinel", "sentinel", c.desired(sentinel)), metav1.CreateOptions{})
	require.NoError(b, err)
	b.Logf("created %d ConfigMaps and %d pods in %s", nCMs, nPods, time.Since(created).Round(time.Second))

	v := 0
	edit := func() {
		v++
		c.configMap("sentinel", map[string]string{"nginx.conf": fmt.Sprintf("v=%d", v)})
		c.waitReleased(func(p *corev1.Pod) bool { return p.Name == "sentinel" }, c.desired(sentinel), 1)
		time.Sleep(10 * time.Second) // the start-up reconciles of every group end
	}
	for b.Loop() {
		before := heap()
		run := startController(b, c.env, c.ns)
		edit()
		after := heap()
		if path := os.Getenv("HOTRELOAD_BENCH_HEAPPROFILE"); path != "" {
			f, err := os.Create(path)
			require.NoError(b, err)
			require.NoError(b, pprof.WriteHeapProfile(f))
			require.NoError(b, f.Close())
		}
		b.ReportMetric(float64(after-before)/(1<<20), "controller-heap-MiB")
		b.ReportMetric(float64(after)/(1<<20), "process-heap-MiB")
		self, _ := memoryOf(b, "self")
		b.ReportMetric(float64(self)/(1<<20), "process-RSS-MiB")
		run.stop()

		// The same controller alone in a process: its memory, none of the
		// test's clients and objects.
		proc := c.startControllerProcess()
		edit()
		rss, peak := proc.memory(b)
		b.ReportMetric(float64(rss)/(1<<20), "controller-process-RSS-MiB")
		b.ReportMetric(float64(peak)/(1<<20), "controller-process-peak-RSS-MiB")
		proc.wait()
	}
}

// BenchmarkIntegrationControllerMemoryWithJunk measures what
// HOTRELOAD_BENCH_JUNK objects (default 50), in a namespace hotreload does
// not serve, cost the controller: its heap once its caches synced and it
// released a sentinel change, without them and then with them. ConfigMaps
// hold 100,000 empty keys (1.4 MB, under Kubernetes' 1 MiB data limit), or
// 2,000 keys of 250-byte names; pods opt in and carry a 200 KB hotreload/
// annotation. Anyone who may create ConfigMaps or pods anywhere can make
// such objects.
func BenchmarkIntegrationControllerMemoryWithJunk(b *testing.B) {
	nJunk := benchSize(b, "HOTRELOAD_BENCH_JUNK", 50)
	junk := func(n, keyLen int) map[string]string {
		keys := make(map[string]string, n)
		for i := range n {
			keys[fmt.Sprintf("%0*d", keyLen, i)] = ""
		}
		return keys
	}
	configMaps := func(data map[string]string) func(b *testing.B, c *cluster, ns string, i int) {
		return func(b *testing.B, c *cluster, ns string, i int) {
			_, err := c.env.Clientset.CoreV1().ConfigMaps(ns).Create(c.ctx, &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("junk-%d", i)}, Data: data}, metav1.CreateOptions{})
			require.NoError(b, err)
		}
	}
	big := strings.Repeat("x", 200<<10)
	pods := func(b *testing.B, c *cluster, ns string, i int) {
		pod := injectedPod(b, fmt.Sprintf("junk-%d", i), "junk", "sentinel", "")
		pod.Annotations = map[string]string{annotations.Rollout: big}
		_, err := c.env.Clientset.CoreV1().Pods(ns).Create(c.ctx, pod, metav1.CreateOptions{})
		require.NoError(b, err)
	}
	for _, tc := range []struct {
		name string
		add  func(b *testing.B, c *cluster, ns string, i int)
	}{
		// Over MaxSourceKeys: 1.4 MB each in etcd.
		{"100000 empty keys", configMaps(junk(100000, 6))},
		// At MaxSourceKeys, with long names: 0.5 MB each, every digest kept
		// were the namespace enabled.
		{"2000 keys of 250 bytes", configMaps(junk(MaxSourceKeys, 250))},
		// Opted-in pods that look injected, each with a 200 KB annotation.
		{"opted-in pods of 200 KB", pods},
	} {
		b.Run(tc.name, func(b *testing.B) { benchmarkJunk(b, nJunk, tc.add) })
	}
}

// benchmarkJunk reports the controller's heap before and after nJunk
// objects are made (by add) in a namespace that is not enabled.
func benchmarkJunk(b *testing.B, nJunk int, add func(b *testing.B, c *cluster, ns string, i int)) {
	c := newCluster(b, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute) // making the junk takes minutes
	defer cancel()
	c.ctx = ctx
	c.configMap("sentinel", map[string]string{"nginx.conf": "v=0"})
	sentinel := injectedPod(b, "sentinel", "sentinel", "sentinel", "")
	sentinel, err := c.env.Clientset.CoreV1().Pods(c.ns).Create(c.ctx, injectedPod(b, "sentinel", "sentinel", "sentinel", c.desired(sentinel)), metav1.CreateOptions{})
	require.NoError(b, err)
	v := 0
	controllerHeap := func() float64 {
		before := heap()
		run := startController(b, c.env, c.ns)
		defer run.stop()
		v++
		c.configMap("sentinel", map[string]string{"nginx.conf": fmt.Sprintf("v=%d", v)})
		c.waitReleased(func(p *corev1.Pod) bool { return p.Name == "sentinel" }, c.desired(sentinel), 1)
		return float64(heap()-before) / (1 << 20)
	}
	for b.Loop() {
		baseline := controllerHeap()
		junk := c.env.Namespace(b, nil)
		for i := range nJunk { // one at a time: each takes the API server seconds
			add(b, c, junk, i)
		}
		with := controllerHeap()
		b.ReportMetric(baseline, "controller-heap-MiB")
		b.ReportMetric(with, "with-junk-heap-MiB")
		b.ReportMetric(with-baseline, "junk-cost-MiB")
	}
}

// BenchmarkIntegrationRelease100Percent measures the time from a ConfigMap
// update to every pod of a 100% group of HOTRELOAD_BENCH_GROUP pods (default
// 1000) being released the new revision, seen through a watch, and the API
// requests the controller sent for it, per pod (its Lease's and its watches
// aside).
func BenchmarkIntegrationRelease100Percent(b *testing.B) {
	n := benchSize(b, "HOTRELOAD_BENCH_GROUP", 1000)
	c, _ := benchGroup(b, n, nil, false)
	run := startController(b, c.env, c.ns)
	defer run.stop()
	v := 0
	release := func() {
		v++
		c.configMap("app", map[string]string{"nginx.conf": fmt.Sprintf("v=%d", v)})
		pod, err := c.env.Clientset.CoreV1().Pods(c.ns).Get(c.ctx, "pod-0", metav1.GetOptions{})
		require.NoError(b, err)
		c.waitReleased(func(*corev1.Pod) bool { return true }, c.desired(pod), n)
	}
	release() // the controller's caches are synced after this one
	for b.Loop() {
		before, cpu := run.requests.snapshot(), processCPU(b)
		start := time.Now()
		release()
		b.ReportMetric(time.Since(start).Seconds(), "s-to-release-all")
		// The controller's and the test's own watch of the pods: not the
		// controller's alone, but a term growing faster than the pods in
		// either shows.
		b.ReportMetric((processCPU(b)-cpu).Seconds()*1000/float64(n), "process-cpu-ms/pod")
		writes, reads, diff := perPod(before, run.requests.snapshot(), n)
		b.ReportMetric(writes, "controller-writes/pod")
		b.ReportMetric(reads, "controller-reads/pod")
		b.ReportMetric(writes+reads, "controller-requests/pod")
		b.Logf("the controller's requests for the edit (the Lease's included): %v", diff)
	}
}

// BenchmarkIntegrationReleaseInSteps measures one edit released to a group
// of HOTRELOAD_BENCH_GROUP pods (default 1000) in the steps 1,10%,100% with
// HOTRELOAD_BENCH_INTERVAL (default 30s) between them, each pod's sidecar
// played by the fleet with the reloader's own code: the time until every pod
// is released and until every pod has applied, and the requests per pod of
// the controller and of the reloaders. HOTRELOAD_BENCH_PROFILE takes the API
// server's CPU profile from the edit on (apiserverProfile).
func BenchmarkIntegrationReleaseInSteps(b *testing.B) {
	n := benchSize(b, "HOTRELOAD_BENCH_GROUP", 1000)
	interval := benchDuration(b, "HOTRELOAD_BENCH_INTERVAL", 30*time.Second)
	c, names := benchGroup(b, n, map[string]string{annotations.Rollout: "1,10%,100%", annotations.RolloutInterval: interval.String()}, true)
	sidecars := c.startFleet(names)
	run := startController(b, c.env, c.ns)
	defer run.stop()
	c.waitRelease("app", "first seen", phase(v1alpha1.PhaseComplete, sourceRev(benchGroupData)))
	v := 0
	for b.Loop() {
		v++
		before, reloaders, cpu, server := run.requests.snapshot(), sidecars.requests.snapshot(), processCPU(b), controlPlaneCPU(b)
		applied := sidecars.applied.Load()
		profiled := c.apiserverProfile(b)
		start := time.Now()
		data := map[string]string{"nginx.conf": fmt.Sprintf("v=%d", v)}
		c.configMap("app", data)
		pod, err := c.env.Clientset.CoreV1().Pods(c.ns).Get(c.ctx, "pod-0", metav1.GetOptions{})
		require.NoError(b, err)
		c.waitReleased(func(*corev1.Pod) bool { return true }, c.desired(pod), n)
		b.ReportMetric(time.Since(start).Seconds(), "s-to-release-all")
		require.Eventually(b, func() bool { return sidecars.applied.Load()-applied >= int64(n) }, 5*time.Minute, 10*time.Millisecond,
			"every sidecar applied the edit")
		b.ReportMetric(time.Since(start).Seconds(), "s-to-apply-all")
		c.waitRelease("app", "complete", phase(v1alpha1.PhaseComplete, sourceRev(data)))
		used := processCPU(b) - cpu
		b.ReportMetric(used.Seconds()*1000/float64(n), "process-cpu-ms/pod")
		b.ReportMetric(used.Seconds(), "test-process-cpu-s")
		for name, t := range controlPlaneCPU(b) {
			b.ReportMetric((t - server[name]).Seconds(), name+"-cpu-s")
		}
		writes, reads, diff := perPod(before, run.requests.snapshot(), n)
		b.ReportMetric(writes, "controller-writes/pod")
		b.ReportMetric(reads, "controller-reads/pod")
		b.Logf("the controller's requests for the edit (the Lease's included): %v", diff)
		benchFleet(b, reloaders, sidecars.requests.snapshot(), n)
		profiled()
	}
}

// BenchmarkIntegrationIdle measures what a group of HOTRELOAD_BENCH_GROUP
// pods (default 1000), their sidecars played by the fleet and the controller
// running, writes while no config changes. It watches them for
// HOTRELOAD_BENCH_IDLE (default 60s) with nothing happening; then each pod's
// reloader exchanges its token once, the exchange pinning the new credential
// on the pod (identity.Pin, its one write), and it watches them as long
// again after the last pin, counting whatever the controller and the
// reloaders write as their answer to the exchange. The writes per pod per
// hour are the quiet ones scaled to an hour plus, for each token the exchange
// issues (one per 80% of identity.DefaultTTL), its pin and those answers.
func BenchmarkIntegrationIdle(b *testing.B) {
	n := benchSize(b, "HOTRELOAD_BENCH_GROUP", 1000)
	window := benchDuration(b, "HOTRELOAD_BENCH_IDLE", time.Minute)
	c, names := benchGroup(b, n, map[string]string{annotations.Rollout: "1,10%,100%"}, true)
	sidecars := c.startFleet(names)
	run := startController(b, c.env, c.ns)
	defer run.stop()
	// The window starts once the release's status counts every pod: the
	// first status says only that the revision is stable, the next one
	// counts the pods, and that write is the group's first, not its idle.
	first := phase(v1alpha1.PhaseComplete, sourceRev(benchGroupData))
	c.waitRelease("app", "first seen, every pod counted Ready", func(rel *v1alpha1.ConfigRelease) bool {
		var pods, ready int32
		for _, w := range rel.Status.Workloads {
			pods, ready = pods+w.Pods, ready+w.Ready
		}
		return first(rel) && pods == int32(n) && ready == int32(n)
	})
	exchange := newRequestCounts()
	cfg := rest.CopyConfig(c.env.Config)
	cfg.QPS = -1
	cfg.Wrap(exchange.wrap)
	pinner, err := client.New(cfg, client.Options{Scheme: testScheme})
	require.NoError(b, err)
	tokensPerHour := 1 / (identity.DefaultTTL.Hours() * reloadertoken.RefreshAt)
	round := 0
	for b.Loop() {
		round++
		// What is measured is each window itself: nothing is awaited.
		controller, reloaders, server := run.requests.snapshot(), sidecars.requests.snapshot(), controlPlaneCPU(b)
		time.Sleep(window)
		quietController, _, quietDiff := perPod(controller, run.requests.snapshot(), n)
		quietReloaders, _, _ := perPod(reloaders, sidecars.requests.snapshot(), n)
		quietServer := controlPlaneCPU(b)["kube-apiserver"] - server["kube-apiserver"]
		b.Logf("the controller's requests in %v with nothing changing: %v", window, quietDiff)

		controller, reloaders, pinned := run.requests.snapshot(), sidecars.requests.snapshot(), exchange.snapshot()
		pods := c.pods("")
		c.createMany(len(pods), func(i int) error {
			return identity.Pin(c.ctx, pinner, &pods[i], fmt.Sprintf("JTI=idle-%d-%d", round, i))
		})
		time.Sleep(window)
		pins, _, pinDiff := perPod(pinned, exchange.snapshot(), n)
		answerController, _, answerDiff := perPod(controller, run.requests.snapshot(), n)
		answerReloaders, _, _ := perPod(reloaders, sidecars.requests.snapshot(), n)
		b.Logf("the exchange's requests for one token per pod: %v; the controller's in the %v after: %v", pinDiff, window, answerDiff)

		perHour := 3600 / window.Seconds()
		b.ReportMetric((quietController+quietReloaders)*perHour, "quiet-writes/pod/h")
		b.ReportMetric(answerController, "controller-writes/pod/token")
		b.ReportMetric(answerReloaders, "reloader-writes/pod/token")
		b.ReportMetric((quietController+quietReloaders)*perHour+(pins+answerController+answerReloaders)*tokensPerHour, "writes/pod/h")
		b.ReportMetric(quietServer.Seconds()*1000/window.Seconds(), "kube-apiserver-quiet-cpu-ms/s")
	}
}

// BenchmarkIntegrationLeaderTakeover stops the leader halfway through
// releasing an edit to a `100%` group of HOTRELOAD_BENCH_GROUP pods (default
// 1000) and starts another controller: the time from the stop until the new
// leader releases its first pod, and the pods the second leader releases
// again (none: nothing is released twice).
func BenchmarkIntegrationLeaderTakeover(b *testing.B) {
	n := benchSize(b, "HOTRELOAD_BENCH_GROUP", 1000)
	c, _ := benchGroup(b, n, nil, false)
	first := startController(b, c.env, c.ns)
	c.waitRelease("app", "first seen", phase(v1alpha1.PhaseComplete, sourceRev(benchGroupData)))
	v := 0
	for b.Loop() {
		v++
		before := first.requests.snapshot()
		c.configMap("app", map[string]string{"nginx.conf": fmt.Sprintf("v=%d", v)})
		pod, err := c.env.Clientset.CoreV1().Pods(c.ns).Get(c.ctx, "pod-0", metav1.GetOptions{})
		require.NoError(b, err)
		want := c.desired(pod)
		c.waitReleased(func(*corev1.Pod) bool { return true }, want, n/2)
		first.stop()
		stopped := time.Now()
		byFirst := first.requests.snapshot()["patch pods"] - before["patch pods"]
		released := len(c.releasedPods(want))
		second := startController(b, c.env, c.ns)
		c.waitReleased(func(*corev1.Pod) bool { return true }, want, released+1)
		b.ReportMetric(time.Since(stopped).Seconds(), "s-to-resume")
		c.waitReleased(func(*corev1.Pod) bool { return true }, want, n)
		bySecond := second.requests.snapshot()["patch pods"]
		// A pod the second leader released again would make it patch more
		// than the pods left; the first leader's patches beyond those
		// released were cut short by its stop.
		b.ReportMetric(float64(bySecond-(n-released)), "pods-released-again")
		b.Logf("%d pods released before the stop (%d patches sent, %d cut short by the stop), %d released by the second leader",
			released, byFirst, byFirst-released, bySecond)
		second.stop()
		first = startController(b, c.env, c.ns)
	}
	first.stop()
}

// benchDuration is the duration $env gives, else def.
func benchDuration(b *testing.B, env string, def time.Duration) time.Duration {
	v := os.Getenv(env)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	require.NoError(b, err, env)
	return d
}

// apiserverProfile starts fetching, when HOTRELOAD_BENCH_PROFILE names a
// file, a CPU profile of the API server over the next
// HOTRELOAD_BENCH_PROFILE_SECONDS (default 60) into it, for `go tool pprof`;
// the returned func waits until it is written.
func (c *cluster) apiserverProfile(b *testing.B) (written func()) {
	path := os.Getenv("HOTRELOAD_BENCH_PROFILE")
	if path == "" {
		return func() {}
	}
	secs := benchSize(b, "HOTRELOAD_BENCH_PROFILE_SECONDS", 60)
	done := make(chan struct{})
	go func() {
		defer close(done)
		raw, err := c.env.Clientset.CoreV1().RESTClient().Get().AbsPath("/debug/pprof/profile").
			Param("seconds", strconv.Itoa(secs)).Timeout(time.Duration(secs+60) * time.Second).DoRaw(c.ctx)
		if err == nil {
			err = os.WriteFile(path, raw, 0o644)
		}
		if err != nil {
			b.Errorf("the API server's CPU profile: %v", err)
		}
	}()
	return func() { <-done }
}

// benchGroupData is what benchGroup's ConfigMap app holds at first.
var benchGroupData = map[string]string{"nginx.conf": "v=0"}

// benchGroup makes, in a cluster given the time thousands of pods take,
// ConfigMap app (benchGroupData) and n injected pods pod-0…pod-(n-1) of one
// ReplicaSet mounting it, running its revision, with podAnnotations, and
// Ready for an hour when ready is set. It returns the pods' names.
func benchGroup(b *testing.B, n int, podAnnotations map[string]string, ready bool) (*cluster, []string) {
	c := newCluster(b, nil)
	c.forThousands()
	c.configMap("app", benchGroupData)
	rev := c.desired(injectedPod(b, "pod", "app", "", ""))
	names := make([]string, n)
	c.createMany(n, func(i int) error {
		names[i] = fmt.Sprintf("pod-%d", i)
		pod := injectedPod(b, names[i], "app", "rs-app", rev)
		maps.Copy(pod.Annotations, podAnnotations)
		if _, err := c.env.Clientset.CoreV1().Pods(c.ns).Create(c.ctx, pod, metav1.CreateOptions{}); err != nil || !ready {
			return err
		}
		return c.status(names[i], true, time.Now().Add(-time.Hour), time.Time{})
	})
	return c, names
}

// releasedPods returns the names of the namespace's pods released rev.
func (c *cluster) releasedPods(rev string) []string {
	var out []string
	for _, p := range c.pods("") {
		if p.Annotations[annotations.Released] == rev {
			out = append(out, p.Name)
		}
	}
	return out
}

// forThousands gives the cluster's requests and waits the time thousands of
// pods take.
func (c *cluster) forThousands() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	c.t.Cleanup(cancel)
	c.ctx, c.patience = ctx, 10*time.Minute
}

// injectedPod returns an nginx pod mounting ConfigMap cm, owned by a
// ReplicaSet of the given UID, as pkg/mutate injects it, running revision
// applied (as its reloader reports at start-up) when it is not empty.
func injectedPod(b *testing.B, name, cm string, owner types.UID, applied string) *corev1.Pod {
	labels := map[string]string{"app": "web", annotations.EnableLabel: annotations.EnableValue}
	var ann map[string]string
	if applied != "" {
		labels[annotations.Applied] = applied
		ann = map[string]string{annotations.AppliedAt: time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, Annotations: ann,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "rs-" + string(owner), UID: owner,
				Controller: ptrTo(true)}},
		},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "nginx", Image: "nginx:1.27",
				Ports:        []corev1.ContainerPort{{ContainerPort: 80}},
				VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: "/etc/nginx/conf.d"}}}},
			Volumes: []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: cm}}}}},
		},
	}
	out, _, err := mutate.Mutate(pod, mutate.Options{ReloaderImage: "ghcr.io/hotreload/reloader:v1.0.0", Version: "v1.0.0", NativeSidecar: true})
	require.NoError(b, err)
	return out
}

// createMany runs create(0..n-1), 32 at a time.
func (c *cluster) createMany(n int, create func(i int) error) {
	c.t.Helper()
	sem := make(chan struct{}, 32)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := create(i); err != nil {
				mu.Lock()
				first = err
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	require.NoError(c.t, first)
}

// waitReleased watches the namespace's pods until n of those match has been
// released rev.
func (c *cluster) waitReleased(match func(*corev1.Pod) bool, rev string, n int) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 5*time.Minute)
	defer cancel()
	released := map[string]bool{}
	see := func(p *corev1.Pod) {
		if match(p) && p.Annotations[annotations.Released] == rev {
			released[p.Name] = true
		}
	}
	// A watch the API server ends is resumed from a new list.
	for len(released) < n {
		list, err := c.env.Clientset.CoreV1().Pods(c.ns).List(ctx, metav1.ListOptions{})
		require.NoError(c.t, err)
		for i := range list.Items {
			see(&list.Items[i])
		}
		if len(released) >= n {
			break // the list has them all: no event may come
		}
		w, err := c.env.Clientset.CoreV1().Pods(c.ns).Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
		require.NoError(c.t, err)
		for ev := range w.ResultChan() {
			if p, isPod := ev.Object.(*corev1.Pod); isPod && ev.Type != watch.Deleted {
				see(p)
			}
			if len(released) >= n {
				break
			}
		}
		w.Stop()
	}
}

// processCPU is the CPU time, user and system, this process has used.
func processCPU(b *testing.B) time.Duration {
	var u syscall.Rusage
	require.NoError(b, syscall.Getrusage(syscall.RUSAGE_SELF, &u))
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}

// controlPlaneCPU is the CPU time, user and system, the kube-apiserver and
// etcd processes this test started have used, by name: not another run's,
// whose exit would take its time off the figure.
func controlPlaneCPU(b *testing.B) map[string]time.Duration {
	out := map[string]time.Duration{"kube-apiserver": 0, "etcd": 0}
	self := strconv.Itoa(os.Getpid())
	dirs, err := os.ReadDir("/proc")
	require.NoError(b, err)
	for _, d := range dirs {
		raw, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		if err != nil {
			continue // not a process, or gone
		}
		// pid (comm) state ppid ... utime stime: fields 14 and 15.
		open, closing := strings.IndexByte(string(raw), '('), strings.LastIndexByte(string(raw), ')')
		if open < 0 || closing < open {
			continue
		}
		comm := string(raw[open+1 : closing])
		if _, ok := out[comm]; !ok {
			continue
		}
		fields := strings.Fields(string(raw[closing+1:]))
		if fields[1] != self {
			continue // started by another process
		}
		utime, err1 := strconv.ParseInt(fields[11], 10, 64)
		stime, err2 := strconv.ParseInt(fields[12], 10, 64)
		require.NoError(b, errors.Join(err1, err2))
		out[comm] += time.Duration(utime+stime) * time.Second / 100 // USER_HZ
	}
	return out
}

// heap returns the bytes of live heap objects after a collection.
func heap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
