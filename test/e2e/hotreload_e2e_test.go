//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes"
)

// TestHotreloadSubPath installs hotreload as a user does (kubectl apply -k
// deploy/selfsigned), runs the demo app with its config mounted by subPath in
// an enabled namespace, edits the ConfigMap, and checks that every pod serves
// the new config within seconds, from the same process, without a restart.
func TestHotreloadSubPath(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cs := clusterClient(t)
	installHotreload(ctx, t, cs)

	ns := createNamespace(ctx, t, cs, "hotreload-subpath-")
	enableInjection(ctx, t, cs, ns)

	v1 := "version 1 " + rand.String(8) + "\n"
	_, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "demo-config"},
		Data:       map[string]string{"config": v1},
	}, metav1.CreateOptions{})
	require.NoError(t, err)

	pod := demoPod("demo", "demo-config")
	pod.Labels["hotreload/enable"] = "true"
	pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{
		Name: "config", MountPath: "/etc/demoapp/config", SubPath: "config",
	}}
	replicas := int32(2)
	_, err = cs.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "demo"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "demo"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: pod.Labels}, Spec: pod.Spec},
		},
	}, metav1.CreateOptions{})
	require.NoError(t, err)

	pods := waitDeploymentPods(ctx, t, cs, ns, "app=demo", int(replicas))
	before := map[string]demoStatus{}
	for name, ip := range pods {
		require.Equal(t, v1, httpGet(ctx, t, "http://"+ip+":8080/"), "pod %s before the edit", name)
		before[name] = getStatus(ctx, t, ip)
	}

	v2 := "version 2 " + rand.String(8) + "\n"
	cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "demo-config", metav1.GetOptions{})
	require.NoError(t, err)
	cm.Data["config"] = v2
	edited := time.Now()
	_, err = cs.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{})
	require.NoError(t, err)

	for name, ip := range pods {
		deadline := edited.Add(20 * time.Second)
		for httpGet(ctx, t, "http://"+ip+":8080/") != v2 {
			require.True(t, time.Now().Before(deadline), "pod %s does not serve the new config 20s after the edit", name)
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("pod %s serves the new config %v after the edit", name, time.Since(edited).Round(10*time.Millisecond))
		after := getStatus(ctx, t, ip)
		require.Equal(t, before[name].PID, after.PID, "pod %s: the app's process changed", name)
		require.Equal(t, before[name].Started, after.Started, "pod %s: the app restarted", name)
		require.Greater(t, after.Loads, before[name].Loads, "pod %s: the app did not reload", name)
	}
	list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=demo"})
	require.NoError(t, err)
	for _, p := range list.Items {
		for _, c := range p.Status.ContainerStatuses {
			require.Zero(t, c.RestartCount, "pod %s container %s restarted", p.Name, c.Name)
		}
	}
}

type demoStatus struct {
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
	Loads   int       `json:"loads"`
}

func getStatus(ctx context.Context, t *testing.T, ip string) demoStatus {
	t.Helper()
	var s demoStatus
	require.NoError(t, json.Unmarshal([]byte(httpGet(ctx, t, "http://"+ip+":8080/status")), &s))
	return s
}

// installHotreload applies deploy/selfsigned with kubectl, as the README says,
// and waits until the webhook answers admission requests: a dry-run pod in an
// enabled namespace comes back injected. (The Deployment being Available is not
// enough: kube-proxy programs the webhook's Service a moment later, and pods
// created before then are admitted without hotreload, failurePolicy Ignore.)
func installHotreload(ctx context.Context, t *testing.T, cs kubernetes.Interface) {
	t.Helper()
	root := repoRoot()
	kubectl := os.Getenv("KUBECTL")
	if kubectl == "" {
		kubectl = filepath.Join(root, "bin", "k8s", "v1.37.2", "kubectl")
	}
	_, err := os.Stat(filepath.Join(root, "deploy", "selfsigned", "certs", "secret.yaml"))
	require.NoError(t, err, "deploy/selfsigned has no certificates; run: make certs")
	out, err := exec.CommandContext(ctx, kubectl, "apply", "-k", filepath.Join(root, "deploy", "selfsigned")).CombinedOutput()
	require.NoError(t, err, "kubectl apply -k deploy/selfsigned:\n%s", out)

	probeNs := createNamespace(ctx, t, cs, "hotreload-probe-")
	enableInjection(ctx, t, cs, probeNs)
	probe := demoPod("probe", "none")
	probe.Labels["hotreload/enable"] = "true"
	deadline := time.Now().Add(90 * time.Second)
	for {
		p, err := cs.CoreV1().Pods(probeNs).Create(ctx, probe, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err == nil && p.Annotations["hotreload/injected"] != "" {
			return
		}
		require.True(t, time.Now().Before(deadline),
			"the hotreload webhook does not inject pods 90s after kubectl apply (see kubectl -n hotreload-system logs deploy/hotreload-webhook and bin/cluster/logs/kube-apiserver.log); last error: %v", err)
		time.Sleep(500 * time.Millisecond)
	}
}

// waitDeploymentPods waits for n Ready pods matching selector and returns
// their names and IPs.
func waitDeploymentPods(ctx context.Context, t *testing.T, cs kubernetes.Interface, ns, selector string, n int) map[string]string {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		require.NoError(t, err)
		ready := map[string]string{}
		var states []string
		for _, p := range list.Items {
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue && p.DeletionTimestamp == nil {
					ready[p.Name] = p.Status.PodIP
				}
			}
			states = append(states, p.Name+": "+string(p.Status.Phase))
		}
		if len(ready) == n {
			return ready
		}
		require.True(t, time.Now().Before(deadline), "%d of %d pods Ready after 90s: %s", len(ready), n, strings.Join(states, ", "))
		time.Sleep(250 * time.Millisecond)
	}
}

// enableInjection labels the namespace hotreload/injection=enabled.
func enableInjection(ctx context.Context, t *testing.T, cs kubernetes.Interface, ns string) {
	t.Helper()
	n, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	require.NoError(t, err)
	if n.Labels == nil {
		n.Labels = map[string]string{}
	}
	n.Labels["hotreload/injection"] = "enabled"
	_, err = cs.CoreV1().Namespaces().Update(ctx, n, metav1.UpdateOptions{})
	require.NoError(t, err)
}

// repoRoot is the repository's root directory, found from this file's path.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}
