//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"
)

// TestNginx runs Debian's nginx (hotreload/nginx:dev) as `make demo-nginx` does
// (test/e2e/testdata/nginx.yaml: nginx.conf mounted by subPath, 2 replicas, as
// www-data), edits nginx.conf in the ConfigMap, and checks that every pod
// serves the new config within seconds, reloaded by SIGHUP: the same master
// process (its PID, from the pid file it wrote, served at /master-pid) with a
// new worker (/worker-pid), the master having logged the signal once, in the
// same container (ID unchanged, no restart) of the same pod.
func TestNginx(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cs := clusterClient(t)
	installHotreload(ctx, t, cs)
	ns := enabledNamespace(ctx, t, cs, "nginx-")

	cm, dep := nginxManifest(t)
	const v1 = `return 200 "version 1\n";`
	conf := cm.Data["nginx.conf"]
	require.Equal(t, 1, strings.Count(conf, v1), "testdata/nginx.yaml's nginx.conf returns version 1 at /")
	_, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = cs.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{})
	require.NoError(t, err)
	pods := waitDeploymentPods(ctx, t, cs, ns, "app=nginx", int(*dep.Spec.Replicas))

	before := map[string]nginxState{}
	for name, ip := range pods {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		require.NoError(t, err)
		require.NotEmpty(t, p.Annotations["hotreload/injected"], "pod %s was not injected", name)
		requireSidecarAsApp(t, p)
		require.Equal(t, "version 1\n", httpGet(ctx, t, "http://"+ip+":8080/"), "pod %s serves its first config", name)
		before[name] = getNginxState(ctx, t, p)
	}

	want := fmt.Sprintf("version 2 %d\n", time.Now().UnixNano())
	patch, err := json.Marshal(map[string]any{"data": map[string]string{
		"nginx.conf": strings.Replace(conf, v1, fmt.Sprintf("return 200 %q;", want), 1),
	}})
	require.NoError(t, err)
	_, err = cs.CoreV1().ConfigMaps(ns).Patch(ctx, cm.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	require.NoError(t, err)
	edited := time.Now()

	// Every 50 ms, each pod until it serves the edit.
	took := map[string]time.Duration{}
	for len(took) < len(pods) {
		for name, ip := range pods {
			if _, ok := took[name]; !ok {
				if body, err := nginxGet(ctx, "http://"+ip+":8080/"); err == nil && body == want {
					took[name] = time.Since(edited)
				}
			}
		}
		if len(took) < len(pods) {
			require.Less(t, time.Since(edited), 20*time.Second, "pods serving the edit after 20s: %v of %v", took, pods)
			time.Sleep(50 * time.Millisecond)
		}
	}
	names := make([]string, 0, len(pods))
	for name := range pods {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Logf("pod %s serves the edited nginx.conf %v after the edit", name, took[name].Round(10*time.Millisecond))
	}

	list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=nginx"})
	require.NoError(t, err)
	var now []string
	for _, p := range list.Items {
		now = append(now, p.Name)
		b, ok := before[p.Name]
		require.True(t, ok, "pod %s is new: the Deployment's pods were replaced", p.Name)
		require.Nil(t, p.DeletionTimestamp, "pod %s is being deleted", p.Name)
		for _, c := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
			require.Zero(t, c.RestartCount, "pod %s: container %s restarted", p.Name, c.Name)
		}
		// For a moment after a reload the old worker still accepts connections
		// beside the new one, until the master tells it to finish.
		a := getNginxState(ctx, t, &p)
		for deadline := time.Now().Add(10 * time.Second); a.worker == b.worker && time.Now().Before(deadline); {
			time.Sleep(100 * time.Millisecond)
			a = getNginxState(ctx, t, &p)
		}
		require.Equal(t, b.containerID, a.containerID, "pod %s: the nginx container is another one", p.Name)
		require.Equal(t, b.master, a.master, "pod %s: the nginx master is another process", p.Name)
		require.NotEqual(t, b.worker, a.worker, "pod %s: the same worker answers 10s after; nginx did not reload", p.Name)

		raw, err := cs.CoreV1().Pods(ns).GetLogs(p.Name, &corev1.PodLogOptions{Container: "nginx"}).DoRaw(ctx)
		require.NoError(t, err)
		sighup := fmt.Sprintf("[notice] %s#%s: signal 1 (SIGHUP) received", a.master, a.master)
		require.Equal(t, 1, strings.Count(string(raw), sighup), "pod %s: the master logs one SIGHUP; its log:\n%s", p.Name, raw)
		t.Logf("pod %s: master %s, worker %s -> %s, container %s, no restart", p.Name, a.master, b.worker, a.worker, shortID(a.containerID))
	}
	require.ElementsMatch(t, names, now, "the Deployment's pods were replaced")
}

// nginxManifest reads the ConfigMap and the Deployment of testdata/nginx.yaml.
func nginxManifest(t testing.TB) (*corev1.ConfigMap, *appsv1.Deployment) {
	return appManifest(t, "nginx.yaml")
}

// appManifest reads the ConfigMap and the Deployment of testdata/file.
func appManifest(t testing.TB, file string) (*corev1.ConfigMap, *appsv1.Deployment) {
	t.Helper()
	cms, dep := appManifests(t, file)
	require.Len(t, cms, 1, "testdata/%s: its ConfigMaps", file)
	return cms[0], dep
}

// appManifests reads the ConfigMaps, in order, and the Deployment of
// testdata/file.
func appManifests(t testing.TB, file string) ([]*corev1.ConfigMap, *appsv1.Deployment) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(), "test", "e2e", "testdata", file))
	require.NoError(t, err)
	var cms []*corev1.ConfigMap
	var dep *appsv1.Deployment
	for _, doc := range strings.Split(string(data), "\n---\n") {
		doc += "\n" // the line break before "---": a block scalar ending there keeps its last one
		var meta metav1.TypeMeta
		require.NoError(t, yaml.Unmarshal([]byte(doc), &meta))
		switch meta.Kind {
		case "ConfigMap":
			cm := &corev1.ConfigMap{}
			require.NoError(t, yaml.UnmarshalStrict([]byte(doc), cm))
			cms = append(cms, cm)
		case "Deployment":
			require.Nil(t, dep, "testdata/%s has a second Deployment", file)
			dep = &appsv1.Deployment{}
			require.NoError(t, yaml.UnmarshalStrict([]byte(doc), dep))
		default:
			t.Fatalf("testdata/%s: unexpected kind %q", file, meta.Kind)
		}
	}
	require.NotEmpty(t, cms, "testdata/%s has no ConfigMap", file)
	require.NotNil(t, dep, "testdata/%s has no Deployment", file)
	return cms, dep
}

// requireSidecarAsApp checks the reloader sidecar runs as nginx's user (the
// pod's runAsUser), without adding a capability: it may signal nginx because
// they are the same user.
func requireSidecarAsApp(t *testing.T, p *corev1.Pod) {
	t.Helper()
	app := p.Spec.SecurityContext.RunAsUser
	require.NotNil(t, app, "the pod states runAsUser")
	for _, c := range append(p.Spec.InitContainers, p.Spec.Containers...) {
		if c.Name != "hotreload-reloader" {
			continue
		}
		uid := app
		if c.SecurityContext != nil && c.SecurityContext.RunAsUser != nil {
			uid = c.SecurityContext.RunAsUser
		}
		require.Equal(t, *app, *uid, "pod %s: the sidecar's user", p.Name)
		if c.SecurityContext != nil && c.SecurityContext.Capabilities != nil {
			require.Empty(t, c.SecurityContext.Capabilities.Add, "pod %s: the sidecar's added capabilities", p.Name)
		}
		return
	}
	t.Fatalf("pod %s has no hotreload-reloader container", p.Name)
}

// nginxState is what shows the pod's nginx is the same: the master's PID, the
// container's ID; and that it reloaded: the worker's PID.
type nginxState struct {
	master, worker, containerID string
}

func getNginxState(ctx context.Context, t *testing.T, p *corev1.Pod) nginxState {
	t.Helper()
	get := func(path string) string {
		var err error
		for range 20 {
			var body string
			if body, err = nginxGet(ctx, "http://"+p.Status.PodIP+":8080"+path); err == nil {
				return strings.TrimSpace(body)
			}
			time.Sleep(250 * time.Millisecond)
		}
		t.Fatalf("pod %s: GET %s: %v", p.Name, path, err)
		return ""
	}
	s := nginxState{master: get("/master-pid"), worker: get("/worker-pid")}
	for _, c := range p.Status.ContainerStatuses {
		if c.Name == "nginx" {
			s.containerID = c.ContainerID
		}
	}
	require.NotEmpty(t, s.master, "pod %s: no master PID", p.Name)
	require.NotEmpty(t, s.containerID, "pod %s: no nginx container ID", p.Name)
	return s
}

// nginxClient opens a connection per request, as a new client would: one
// kept alive stays with the worker that accepted it, which may be a worker of
// the previous config until that worker has finished.
var nginxClient = &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// nginxGet returns the body of a 200 response, or an error.
func nginxGet(ctx context.Context, url string) (string, error) {
	return getWith(ctx, nginxClient, url)
}

func shortID(containerID string) string {
	_, id, _ := strings.Cut(containerID, "://")
	return id[:min(12, len(id))]
}
