//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/revision"
)

// server is a real server from Debian's packages as a testdata manifest runs
// it: a ConfigMap holding its whole config file, a Deployment mounting it by
// subPath. Its config names the version it serves.
type server struct {
	// file is the manifest in testdata; name the app label, the container
	// and the Deployment; configMap and key the config file's source.
	file, name, configMap, key string
	// marker is the config text that sets the version served, a format of
	// the version number; the manifest's config holds version 1.
	marker string
	// url is where a pod serves its version (%s: its IP); version reads the
	// number in the answer.
	url     string
	version *regexp.Regexp
	// bad makes a config the server refuses from one it runs.
	bad func(conf string) string
}

var (
	nginxServer = server{file: "nginx.yaml", name: "nginx", configMap: "nginx-config", key: "nginx.conf",
		marker: `return 200 "version %d\n";`, url: "http://%s:8080/", version: regexp.MustCompile(`^version (\d+)\n$`),
		bad: func(conf string) string {
			return strings.Replace(conf, "default_type text/plain;", "default_type text/plain;\n    no_such_directive on;", 1)
		}}
	haproxyServer = server{file: "haproxy.yaml", name: "haproxy", configMap: "haproxy-config", key: "haproxy.cfg",
		marker: `string "version %d\n"`, url: "http://%s:8080/", version: regexp.MustCompile(`^version (\d+)\n$`),
		bad: func(conf string) string { return strings.TrimRight(conf, "\n") + "\n    no_such_keyword on\n" }} // in the last section, frontend
	apacheServer = server{file: "apache.yaml", name: "apache", configMap: "apache-config", key: "apache2.conf",
		marker: `ErrorDocument 200 "version %d"`, url: "http://%s:8080/", version: regexp.MustCompile(`^version (\d+)$`),
		bad: func(conf string) string { return strings.TrimRight(conf, "\n") + "\nNoSuchDirective on\n" }}
	prometheusServer = server{file: "prometheus.yaml", name: "prometheus", configMap: "prometheus-config", key: "prometheus.yml",
		marker: `version: "%d"`, url: "http://%s:9090/api/v1/status/config",
		// The loaded config, as YAML in JSON: its external label.
		version: regexp.MustCompile(`version: \\"(\d+)\\"`),
		bad: func(conf string) string {
			return strings.Replace(conf, "scrape_interval: 5s", "scrape_interval: 5 seconds", 1)
		}}
)

// TestNginxRefusedConfigHaltsWithConfirmWorkers: nginx keeps running on a
// config it refuses, so surviving the signal says nothing. With
// hotreload/confirm: workers alone, a reload counts only when the master
// forks new workers: the refused edit is swapped back on the first pod.
func TestNginxRefusedConfigHaltsWithConfirmWorkers(t *testing.T) {
	refusal(t, nginxServer, map[string]string{annotations.Confirm: "workers"}, func(t *testing.T, cause, log string) {
		require.Regexp(t, `^refused by the app: no new worker of pid \d+ within 10s after SIGHUP: it kept its old config \(container nginx\)`, cause)
		require.Regexp(t, `\[emerg\] \d+#\d+: unknown directive "no_such_directive"`, log, "nginx itself refused the edit")
	})
}

// TestNginxValidateRefusesBeforeTheSwap: with the README's nginx preset,
// nginx -t runs in a validator in nginx's image, on the staged nginx.conf at
// nginx's own path, before the swap: the refused edit is never live on any
// pod, nginx never reads it, and the cause is nginx -t's own words.
func TestNginxValidateRefusesBeforeTheSwap(t *testing.T) {
	refusal(t, nginxServer, map[string]string{annotations.Validate: "nginx -t", annotations.Confirm: "workers"}, func(t *testing.T, cause, log string) {
		// nginx -t's last lines, its newlines escaped: the error on stderr (as
		// nginx.conf's error_log says), then its verdict.
		require.Regexp(t, `^refused by the app: nginx -t: exit status 1: .*\[emerg\] \d+#\d+: unknown directive "no_such_directive" in /etc/nginx/nginx.conf:\d+\\nnginx: configuration file /etc/nginx/nginx.conf test failed \(container nginx\)`, cause)
		require.NotContains(t, log, "no_such_directive", "nginx never read the refused edit")
	})
}

// TestHAProxyPreset: haproxy in master-worker mode with the README's preset:
// haproxy -c checks the staged haproxy.cfg, SIGUSR2 reloads, new workers
// confirm.
func TestHAProxyPreset(t *testing.T) {
	refusal(t, haproxyServer, map[string]string{
		annotations.Validate: "haproxy -c -f /etc/haproxy/haproxy.cfg", annotations.Signal: "SIGUSR2", annotations.Confirm: "workers",
	}, func(t *testing.T, cause, log string) {
		require.Regexp(t, `^refused by the app: haproxy -c -f /etc/haproxy/haproxy.cfg: exit status 1: .*\[/etc/haproxy/haproxy.cfg:\d+\] : unknown keyword 'no_such_keyword' in 'frontend' section.*\(container haproxy\)`, cause)
		require.NotContains(t, log, "no_such_keyword", "haproxy never read the refused edit")
	})
}

// TestApachePreset: apache httpd with the README's preset: apache2 -t checks
// the staged apache2.conf, SIGUSR1 is a graceful restart, new children
// confirm. Apache is the server for which the check is not optional: its
// parent exits on a graceful restart into a config it cannot load.
func TestApachePreset(t *testing.T) {
	refusal(t, apacheServer, map[string]string{
		annotations.Validate: "apache2 -t", annotations.Signal: "SIGUSR1", annotations.Confirm: "workers",
	}, func(t *testing.T, cause, log string) {
		require.Regexp(t, `^refused by the app: apache2 -t: exit status 1: .*Invalid command 'NoSuchDirective'.*\(container apache\)`, cause)
		require.NotContains(t, log, "NoSuchDirective", "apache never read the refused edit")
	})
}

// TestPrometheusPreset: Prometheus with the README's preset: promtool checks
// the staged prometheus.yml, a POST to /-/reload reloads, and the reload
// metric confirms.
func TestPrometheusPreset(t *testing.T) {
	refusal(t, prometheusServer, map[string]string{
		annotations.Validate: "promtool check config /etc/prometheus/prometheus.yml",
		annotations.URL:      "http://127.0.0.1:9090/-/reload",
		annotations.Confirm:  "http://127.0.0.1:9090/metrics prometheus_config_last_reload_successful 1",
	}, func(t *testing.T, cause, log string) {
		require.Regexp(t, `^refused by the app: promtool check config /etc/prometheus/prometheus.yml: exit status 1: .*FAILED: parsing YAML file /etc/prometheus/prometheus.yml: not a valid duration string: "5 seconds" \(container prometheus\)`, cause)
		require.NotContains(t, log, "5 seconds", "Prometheus never read the refused edit")
	})
}

// refusal runs s's manifest, in a namespace enforcing the restricted Pod
// Security level, three replicas, "1,100%", with annotate's
// annotations: a good edit reaches every pod in place (the same container,
// so the same main process: the master, never restarted); an edit s refuses
// halts at the first pod, whose reloader says the app refused it (checkHalt
// reads the cause and that pod's app log) and leaves the previous config
// live; no other pod is given it; stable stays the good edit; every pod
// serves it; and a pod deleted afterwards comes back Ready on it.
func refusal(t *testing.T, s server, annotate map[string]string, checkHalt func(t *testing.T, cause, log string)) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	cs := clusterClient(t)
	installHotreload(ctx, t, cs)
	ns := enabledNamespace(ctx, t, cs, s.name+"-verified-")
	// The injected pod, validator included, meets the restricted level, or
	// no pod starts.
	enforceRestricted(ctx, t, cs, ns)

	cm, dep := appManifest(t, s.file)
	dep.Spec.Replicas = ptr[int32](3)
	for k, v := range annotate {
		dep.Spec.Template.Annotations[k] = v
	}
	dep.Spec.Template.Annotations[annotations.Rollout] = "1,100%"
	dep.Spec.Template.Annotations[annotations.RolloutInterval] = "5s"
	conf := cm.Data[s.key]
	require.Equal(t, 1, strings.Count(conf, fmt.Sprintf(s.marker, 1)), "testdata/%s serves version 1", s.file)
	_, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = cs.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{})
	require.NoError(t, err)
	pods := waitDeploymentPods(ctx, t, cs, ns, "app="+s.name, 3)
	waitConfigRelease(ctx, t, cs, ns, s, "first seen", time.Minute, func(rel *v1alpha1.ConfigRelease) bool {
		return rel.Status.Phase == v1alpha1.PhaseComplete && rel.Status.Candidate == s.revision(conf) && workloadPods(rel) == 3
	})
	s.requireServing(ctx, t, pods, 1, "the first config")

	// A good edit: every pod serves it, reloaded in place.
	good := strings.Replace(conf, fmt.Sprintf(s.marker, 1), fmt.Sprintf(s.marker, 2), 1)
	before := map[string]string{}
	for name := range pods {
		before[name] = s.containerID(t, podNamed(ctx, t, cs, ns, name))
	}
	s.edit(ctx, t, cs, ns, good)
	waitConfigRelease(ctx, t, cs, ns, s, "the good edit complete", 2*time.Minute, func(rel *v1alpha1.ConfigRelease) bool {
		return rel.Status.Phase == v1alpha1.PhaseComplete && rel.Status.Stable == s.revision(good)
	})
	s.requireServing(ctx, t, pods, 2, "the good edit")
	applied := map[string]string{}
	for name := range pods {
		p := podNamed(ctx, t, cs, ns, name)
		applied[name] = p.Labels[annotations.Applied]
		require.Equal(t, before[name], s.containerID(t, p), "pod %s: the good edit reloaded the same %s", name, s.name)
	}

	// An edit the server refuses. It would serve version 3.
	bad := s.bad(strings.Replace(good, fmt.Sprintf(s.marker, 2), fmt.Sprintf(s.marker, 3), 1))
	s.edit(ctx, t, cs, ns, bad)
	// Rolled back: the pods' releases go back just after the status that
	// records the halt.
	rel := waitConfigRelease(ctx, t, cs, ns, s, "halted on the refused edit, and rolled back", 2*time.Minute, func(rel *v1alpha1.ConfigRelease) bool {
		return rel.Status.Phase == v1alpha1.PhaseHalted && rel.Status.Candidate == s.revision(bad) && rel.Status.Halt != nil && rel.Status.Halt.RolledBack
	})
	halt := rel.Status.Halt
	require.Equal(t, s.revision(good), rel.Status.Stable, "stable is still the good edit")
	require.Contains(t, pods, halt.Pod, "the halt names one of the Deployment's pods")

	s.requireServing(ctx, t, pods, 2, "every pod after the refused edit")
	refusedRev, _, ok := annotations.FailedOf(podNamed(ctx, t, cs, ns, halt.Pod).Annotations)
	require.True(t, ok, "the halted pod says it failed")
	require.NotEqual(t, applied[halt.Pod], refusedRev)
	for name := range pods {
		p := podNamed(ctx, t, cs, ns, name)
		require.Equal(t, applied[name], p.Labels[annotations.Applied], "pod %s runs the good edit", name)
		require.NotEqual(t, refusedRev, p.Annotations[annotations.Released], "pod %s holds the refused edit", name)
		require.Equal(t, before[name], s.containerID(t, p), "pod %s: the same %s", name, s.name)
		for _, c := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
			require.Zero(t, c.RestartCount, "pod %s: container %s restarted", name, c.Name)
		}
		if _, _, failed := annotations.FailedOf(p.Annotations); failed {
			require.Equal(t, halt.Pod, name, "pod %s was never given the refused edit, yet failed: %s", name, p.Annotations[annotations.Failed])
		}
	}
	raw, err := cs.CoreV1().Pods(ns).GetLogs(halt.Pod, &corev1.PodLogOptions{Container: s.name}).DoRaw(ctx)
	require.NoError(t, err)
	checkHalt(t, halt.Cause, string(raw))

	// A pod deleted now comes back on stable, Ready.
	require.NoError(t, cs.CoreV1().Pods(ns).Delete(ctx, halt.Pod, metav1.DeleteOptions{}))
	now := waitNewPods(ctx, t, cs, demo{ns: ns, name: s.name}, len(pods), map[string]string{halt.Pod: ""})
	s.requireServing(ctx, t, now, 2, "every pod after a deletion")
	rel = waitConfigRelease(ctx, t, cs, ns, s, "still halted", time.Minute, func(rel *v1alpha1.ConfigRelease) bool {
		return rel.Status.Phase == v1alpha1.PhaseHalted && workloadPods(rel) == 3
	})
	require.Equal(t, s.revision(good), rel.Status.Stable)
}

// revision is the revision of s's ConfigMap holding conf.
func (s server) revision(conf string) string {
	return revision.Files(revision.ConfigMapKeys(&corev1.ConfigMap{Data: map[string]string{s.key: conf}})).Revision()
}

// edit writes conf into s's ConfigMap.
func (s server) edit(ctx context.Context, t testing.TB, cs kubernetes.Interface, ns, conf string) {
	t.Helper()
	patch, err := json.Marshal(map[string]any{"data": map[string]string{s.key: conf}})
	require.NoError(t, err)
	_, err = cs.CoreV1().ConfigMaps(ns).Patch(ctx, s.configMap, types.MergePatchType, patch, metav1.PatchOptions{})
	require.NoError(t, err)
}

// containerID is the ID of the server's container in p.
func (s server) containerID(t testing.TB, p *corev1.Pod) string {
	t.Helper()
	for _, c := range p.Status.ContainerStatuses {
		if c.Name == s.name {
			return c.ContainerID
		}
	}
	t.Fatalf("pod %s has no container %s", p.Name, s.name)
	return ""
}

// serving is the version each pod serves now, "" for none.
func (s server) serving(ctx context.Context, pods map[string]string) map[string]string {
	got := map[string]string{}
	for name, ip := range pods {
		body, err := nginxGet(ctx, fmt.Sprintf(s.url, ip))
		if m := s.version.FindStringSubmatch(body); err == nil && m != nil {
			got[name] = m[1]
		} else {
			got[name] = ""
		}
	}
	return got
}

// requireServing waits (up to 20 s, for old workers to finish) until every
// pod serves version, on a new connection.
func (s server) requireServing(ctx context.Context, t testing.TB, pods map[string]string, version int, why string) {
	t.Helper()
	want := each(pods, fmt.Sprint(version))
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := s.serving(ctx, pods)
		if fmt.Sprint(got) == fmt.Sprint(want) {
			return
		}
		require.True(t, time.Now().Before(deadline), "%s: pods serve versions %v, want %v", why, got, want)
		time.Sleep(100 * time.Millisecond)
	}
}

func waitConfigRelease(ctx context.Context, t testing.TB, cs kubernetes.Interface, ns string, s server, what string, timeout time.Duration, ok func(*v1alpha1.ConfigRelease) bool) *v1alpha1.ConfigRelease {
	t.Helper()
	return waitRelease(ctx, t, cs, ns, s.configMap, what, timeout, ok)
}

func waitNginxRelease(ctx context.Context, t testing.TB, cs kubernetes.Interface, ns, what string, timeout time.Duration, ok func(*v1alpha1.ConfigRelease) bool) *v1alpha1.ConfigRelease {
	t.Helper()
	return waitConfigRelease(ctx, t, cs, ns, nginxServer, what, timeout, ok)
}

func workloadPods(rel *v1alpha1.ConfigRelease) int32 {
	var n int32
	for _, w := range rel.Status.Workloads {
		n += w.Pods
	}
	return n
}

func podNamed(ctx context.Context, t testing.TB, cs kubernetes.Interface, ns, name string) *corev1.Pod {
	t.Helper()
	p, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	require.NoError(t, err)
	return p
}

// enforceRestricted makes the namespace enforce the restricted Pod Security
// level: a pod that does not meet it is not created.
func enforceRestricted(ctx context.Context, t testing.TB, cs kubernetes.Interface, ns string) {
	t.Helper()
	patch := []byte(`{"metadata":{"labels":{"pod-security.kubernetes.io/enforce":"restricted"}}}`)
	_, err := cs.CoreV1().Namespaces().Patch(ctx, ns, types.MergePatchType, patch, metav1.PatchOptions{})
	require.NoError(t, err)
}
