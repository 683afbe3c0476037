//go:build e2e

package e2e

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// warnings collects the warnings the API server returns, which carry the
// webhook's admission warnings.
type warnings struct {
	mu   sync.Mutex
	list []string
}

func (w *warnings) HandleWarningHeaderWithContext(_ context.Context, _ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.list
	w.list = nil
	return out
}

// hotreloadWarnings keeps the warnings about hotreload's annotations.
func hotreloadWarnings(ws []string) []string {
	var out []string
	for _, w := range ws {
		if strings.HasPrefix(w, "hotreload/") {
			out = append(out, w)
		}
	}
	return out
}

// TestOddAnnotationValuesStillStartThePod: whatever a user writes in
// hotreload's annotations, the pod the webhook admits starts and serves, the
// sidecar included. A value hotreload cannot use is replaced by its default
// with an admission warning naming it. Values that name a working delivery in
// an unusual spelling (sighup, LOCALHOST) deliver an edit.
func TestOddAnnotationValuesStillStartThePod(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cs := clusterClient(t)
	installHotreload(ctx, t, cs)
	ns := enabledNamespace(ctx, t, cs, "hotreload-odd-")

	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfigPath())
	require.NoError(t, err)
	var got warnings
	cfg.WarningHandlerWithContext = &got
	warned, err := kubernetes.NewForConfig(rest.CopyConfig(cfg))
	require.NoError(t, err)

	cases := []struct {
		name        string
		annotations map[string]string
		warnings    []string
		edit        [3]int // reloads by cause after an edit (SIGHUP, POST, watched); zero: no edit
	}{
		{name: "tstp", annotations: map[string]string{"hotreload/signal": "SIGTSTP"}},
		{name: "alias", annotations: map[string]string{"hotreload/signal": "IOT"}},
		{name: "lower", annotations: map[string]string{"hotreload/signal": "sighup"}, edit: [3]int{1, 0, 0}},
		{name: "localhost", annotations: map[string]string{"hotreload/url": "http://LOCALHOST:8080/reload"}, edit: [3]int{0, 1, 0}},
		{name: "regexp", annotations: map[string]string{"hotreload/process": "[[["}, edit: [3]int{1, 0, 0},
			warnings: []string{`hotreload/process: invalid regexp "[[[": missing closing ]; using the container's main process`}},
		{name: "kill", annotations: map[string]string{"hotreload/signal": "SIGKILL"},
			warnings: []string{`hotreload/signal: unsupported signal "SIGKILL": it stops the process instead of reloading it; using SIGHUP`}},
		{name: "port", annotations: map[string]string{"hotreload/url": "http://127.0.0.1:99999/reload"},
			warnings: []string{`hotreload/url: invalid reload URL "http://127.0.0.1:99999/reload": port 99999 is not from 1 to 65535; using the signal instead`}},
		{name: "mode", annotations: map[string]string{"hotreload/subpath": "COPY", "hotreload/container": "app,nope"},
			warnings: []string{
				`hotreload/container: unknown containers in "app,nope": "nope"; using app`,
				`hotreload/subpath: unknown mode "COPY": want link, dir or keep; using link`,
			}},
	}
	ips := map[string]string{}
	for _, tc := range cases {
		d := demo{ns: ns, name: tc.name}
		d.createConfig(ctx, t, cs, uniqueConfig(tc.name))
		pod := demoPod(tc.name, tc.name)
		pod.Labels["hotreload/enable"] = "true"
		pod.Annotations = tc.annotations
		pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "config", MountPath: configPath, SubPath: "config", ReadOnly: true}}
		_, err := warned.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
		require.NoError(t, err)
		ws := hotreloadWarnings(got.take())
		slices.Sort(ws)
		require.Equal(t, tc.warnings, ws, "pod %s: admission warnings", tc.name)
	}
	for _, tc := range cases {
		ips[tc.name] = waitPodReady(ctx, t, cs, ns, tc.name)
		p, err := cs.CoreV1().Pods(ns).Get(ctx, tc.name, metav1.GetOptions{})
		require.NoError(t, err)
		require.NotEmpty(t, p.Annotations["hotreload/injected"], "pod %s was injected", tc.name)
		require.Equal(t, uniqueConfigOf(t, ctx, cs, ns, tc.name), httpGet(ctx, t, "http://"+ips[tc.name]+":8080/"), "pod %s serves its config", tc.name)
	}
	for _, tc := range cases {
		if tc.edit == ([3]int{}) {
			continue
		}
		d := demo{ns: ns, name: tc.name}
		pods := map[string]string{tc.name: ips[tc.name]}
		before := statuses(ctx, t, pods)
		v2 := uniqueConfig(tc.name + " edited")
		waitServing(ctx, t, pods, v2, d.edit(ctx, t, cs, v2), 30*time.Second)
		after := statuses(ctx, t, pods)
		require.Equal(t, before[tc.name].PID, after[tc.name].PID, "pod %s: same process", tc.name)
		require.Equal(t, each(pods, tc.edit), reloadsBy(before, after), "pod %s: reloads by cause", tc.name)
	}
}

// uniqueConfigOf returns the content of the demo config named name.
func uniqueConfigOf(t testing.TB, ctx context.Context, cs kubernetes.Interface, ns, name string) string {
	t.Helper()
	cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	require.NoError(t, err)
	return cm.Data["config"]
}
