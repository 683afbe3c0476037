//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/contract"
)

// demo is a Deployment of the demo app in an enabled namespace, its config
// (the key "config") in a ConfigMap or a Secret of the same name.
type demo struct {
	ns, name    string
	replicas    int32
	annotations map[string]string // on the pod template
	args        []string          // besides --config
	secret      bool              // a Secret volume instead of a ConfigMap one
	subPath     bool              // the file mounted by subPath instead of the directory
	inject      bool              // labelled hotreload/enable=true
	config      string            // the ConfigMap or Secret's name, when it is not name
}

// source is the name of d's ConfigMap or Secret.
func (d demo) source() string {
	if d.config != "" {
		return d.config
	}
	return d.name
}

// release is the name of the release of d's ConfigMap or Secret.
func (d demo) release() string {
	if d.secret {
		return "secret-" + d.source()
	}
	return "configmap-" + d.source()
}

// revision is the revision of d's ConfigMap or Secret holding content.
func (d demo) revision(content string) string {
	if d.secret {
		return secretRevision(content)
	}
	return sourceRevision(content)
}

// configPath is where the app reads its config.
const configPath = "/etc/demoapp/config"

// create creates the config object holding content and the Deployment, and
// waits for its pods to be Ready. It returns their names and IPs.
func (d demo) create(ctx context.Context, t testing.TB, cs kubernetes.Interface, content string) map[string]string {
	t.Helper()
	d.createConfig(ctx, t, cs, content)
	dep, err := cs.AppsV1().Deployments(d.ns).Create(ctx, d.deployment(), metav1.CreateOptions{})
	require.NoError(t, err)
	pods := waitDeploymentPods(ctx, t, cs, d.ns, "app="+d.name, int(*dep.Spec.Replicas))
	for name, ip := range pods {
		require.Equal(t, content, httpGet(ctx, t, "http://"+ip+":8080/"), "pod %s serves its first config", name)
	}
	return pods
}

// createConfig creates the ConfigMap or Secret holding content.
func (d demo) createConfig(ctx context.Context, t testing.TB, cs kubernetes.Interface, content string) {
	t.Helper()
	meta := metav1.ObjectMeta{Name: d.source()}
	var err error
	if d.secret {
		_, err = cs.CoreV1().Secrets(d.ns).Create(ctx, &corev1.Secret{ObjectMeta: meta, Data: map[string][]byte{"config": []byte(content)}}, metav1.CreateOptions{})
	} else {
		_, err = cs.CoreV1().ConfigMaps(d.ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: meta, Data: map[string]string{"config": content}}, metav1.CreateOptions{})
	}
	require.NoError(t, err)
}

// deployment is d's Deployment.
func (d demo) deployment() *appsv1.Deployment {
	pod := demoPod(d.name, d.source())
	app := &pod.Spec.Containers[0]
	app.Args = append([]string{"--config=" + configPath}, d.args...)
	if d.subPath {
		app.VolumeMounts = []corev1.VolumeMount{{Name: "config", MountPath: configPath, SubPath: "config", ReadOnly: true}}
	}
	if d.secret {
		pod.Spec.Volumes[0].VolumeSource = corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: d.source()}}
	}
	if d.inject {
		pod.Labels["hotreload/enable"] = "true"
	}
	replicas := max(d.replicas, 1)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: d.name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": d.name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: pod.Labels, Annotations: d.annotations},
				Spec:       pod.Spec,
			},
		},
	}
}

// edit sets the config's content and returns when the API server took it.
func (d demo) edit(ctx context.Context, t testing.TB, cs kubernetes.Interface, content string) time.Time {
	t.Helper()
	require.NoError(t, d.patch(ctx, cs, content))
	return time.Now()
}

// patch sets the config's content.
func (d demo) patch(ctx context.Context, cs kubernetes.Interface, content string) error {
	if d.secret {
		patch, _ := json.Marshal(map[string]any{"data": map[string][]byte{"config": []byte(content)}})
		_, err := cs.CoreV1().Secrets(d.ns).Patch(ctx, d.source(), types.MergePatchType, patch, metav1.PatchOptions{})
		return err
	}
	patch, _ := json.Marshal(map[string]any{"data": map[string]string{"config": content}})
	_, err := cs.CoreV1().ConfigMaps(d.ns).Patch(ctx, d.source(), types.MergePatchType, patch, metav1.PatchOptions{})
	return err
}

// statuses returns each pod's /status.
func statuses(ctx context.Context, t testing.TB, pods map[string]string) map[string]demoStatus {
	t.Helper()
	out := map[string]demoStatus{}
	for name, ip := range pods {
		out[name] = getStatus(ctx, t, ip)
	}
	return out
}

// serves reports whether the pod at ip answers content. Errors count as no.
func serves(ctx context.Context, ip, content string) bool {
	body, err := tryGet(ctx, "http://"+ip+":8080/")
	return err == nil && body == content
}

// waitServing waits until every pod serves content and returns how long after
// since each one took. It fails naming the pods that do not within timeout.
func waitServing(ctx context.Context, t testing.TB, pods map[string]string, content string, since time.Time, timeout time.Duration) map[string]time.Duration {
	t.Helper()
	wants := map[string]serving{}
	for name, ip := range pods {
		wants[name] = serving{ip: ip, content: content, since: since}
	}
	return waitServingEach(ctx, t, wants, timeout)
}

// serving is what a pod should serve, and since when.
type serving struct {
	ip, content string
	since       time.Time
}

// waitServingEach polls every pod at once, each every 20 ms, until it serves
// its content, and returns how long after its since each one took. It fails
// naming the pods that do not within timeout of their since.
func waitServingEach(ctx context.Context, t testing.TB, wants map[string]serving, timeout time.Duration) map[string]time.Duration {
	t.Helper()
	type result struct {
		pod  string
		took time.Duration
		ok   bool
	}
	results := make(chan result, len(wants))
	for name, w := range wants {
		go func() {
			for {
				if serves(ctx, w.ip, w.content) {
					results <- result{name, time.Since(w.since), true}
					return
				}
				if time.Since(w.since) > timeout || ctx.Err() != nil {
					results <- result{pod: name}
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	took := map[string]time.Duration{}
	var late []string
	for range wants {
		r := <-results
		if !r.ok {
			late = append(late, r.pod)
			continue
		}
		took[r.pod] = r.took
	}
	if len(late) > 0 {
		sort.Strings(late)
		t.Fatalf("pods %s do not serve the new config %v after the edit\n%s", strings.Join(late, ", "), timeout, explainPods(t, late))
	}
	return took
}

// requireSameProcesses checks that each pod runs the app process it ran before,
// which loaded its config more often, and that the Deployment's pods are the
// same ones with no container restarted.
func requireSameProcesses(ctx context.Context, t testing.TB, cs kubernetes.Interface, d demo, pods map[string]string, before map[string]demoStatus) map[string]demoStatus {
	t.Helper()
	after := requireSamePIDs(ctx, t, cs, d, pods, before)
	for name := range pods {
		require.Greater(t, after[name].Loads, before[name].Loads, "pod %s: the app did not load the config again", name)
	}
	return after
}

// requireSamePIDs requires that every pod's app is the process it was, that
// no container restarted and that no pod of the Deployment was replaced: what
// changed, changed in place. It returns the pods' statuses now.
func requireSamePIDs(ctx context.Context, t testing.TB, cs kubernetes.Interface, d demo, pods map[string]string, before map[string]demoStatus) map[string]demoStatus {
	t.Helper()
	after := statuses(ctx, t, pods)
	for name := range pods {
		require.Equal(t, before[name].PID, after[name].PID, "pod %s: the app's process changed", name)
		require.Equal(t, before[name].Started, after[name].Started, "pod %s: the app restarted", name)
	}
	list, err := cs.CoreV1().Pods(d.ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + d.name})
	require.NoError(t, err)
	var names []string
	for _, p := range list.Items {
		names = append(names, p.Name)
		for _, c := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
			require.Zero(t, c.RestartCount, "pod %s container %s restarted", p.Name, c.Name)
		}
	}
	require.ElementsMatch(t, keys(pods), names, "the Deployment's pods were replaced")
	return after
}

// reloadsBy is how often each cause reloaded the app, in every pod, between
// two statuses: SIGHUP, POST /reload and --watch.
func reloadsBy(before, after map[string]demoStatus) map[string][3]int {
	out := map[string][3]int{}
	for name, a := range after {
		b := before[name]
		out[name] = [3]int{a.Sighups - b.Sighups, a.Posts - b.Posts, a.Watched - b.Watched}
	}
	return out
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// each returns m's keys with the same value v.
func each[V any](m map[string]string, v V) map[string]V {
	out := map[string]V{}
	for k := range m {
		out[k] = v
	}
	return out
}

func logTook(t testing.TB, took map[string]time.Duration) {
	t.Helper()
	for _, name := range keys(took) {
		t.Logf("pod %s serves the new config %v after the edit", name, took[name].Round(10*time.Millisecond))
	}
}

// uniqueConfig is a config no earlier edit had.
func uniqueConfig(label string) string {
	return fmt.Sprintf("%s %d\n", label, time.Now().UnixNano())
}

// explainPods says, for a failure message, what hotreload knows of each
// named pod (explainPod).
func explainPods(t testing.TB, names []string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs := clusterClient(t)
	var b strings.Builder
	for _, name := range names {
		list, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
		if err != nil || len(list.Items) == 0 {
			fmt.Fprintf(&b, "pod %s: not found (%v)\n", name, err)
			continue
		}
		explainPod(ctx, cs, &b, &list.Items[0])
	}
	return b.String()
}

// explainPod writes what hotreload knows of pod p: its hotreload/ labels and
// annotations, its Ready condition, its containers' restarts and the last
// lines of its reloader's log.
func explainPod(ctx context.Context, cs kubernetes.Interface, b *strings.Builder, p *corev1.Pod) {
	fmt.Fprintf(b, "pod %s/%s:\n", p.Namespace, p.Name)
	for _, m := range []map[string]string{p.Labels, p.Annotations} {
		keys := make([]string, 0, len(m))
		for k := range m {
			if strings.HasPrefix(k, annotations.Prefix) && k != annotations.ReloaderCredential {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(b, "  %s=%s\n", k, m[k])
		}
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			fmt.Fprintf(b, "  Ready=%s since %s\n", c.Status, c.LastTransitionTime.UTC().Format(time.RFC3339))
		}
	}
	for _, c := range p.Status.ContainerStatuses {
		if last := c.LastTerminationState.Terminated; last != nil {
			fmt.Fprintf(b, "  container %s: %d restarts, last exit %d at %s\n", c.Name, c.RestartCount, last.ExitCode, last.FinishedAt.UTC().Format(time.RFC3339))
		}
	}
	logs, err := cs.CoreV1().Pods(p.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{Container: contract.ReloaderName, TailLines: ptr[int64](25)}).DoRaw(ctx)
	fmt.Fprintf(b, "  reloader log (%v):\n%s\n", err, logs)
}
