//go:build integration

package rollout

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/testr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/internal/testenv"
	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/contract"
	"github.com/hotreload/hotreload/pkg/revision"
)

func TestMain(m *testing.M) {
	if ns := os.Getenv(controllerProcessEnv); ns != "" {
		os.Exit(runControllerProcess(ns))
	}
	testenv.Main(m, testenv.WithCRDs(filepath.Join("..", "..", "deploy", "base", "crd")))
}

// testScheme knows the built-in kinds and the ConfigRelease API.
var testScheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := v1alpha1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}()

// wait is how long any expected outcome may take; the tests never assert on
// timing.
const wait = time.Minute

// controllerRun is one running controller, with its own manager and metrics.
type controllerRun struct {
	registry *prometheus.Registry
	// requests counts the controller's API requests.
	requests *requestCounts
	stop     func()
}

// startController runs the rollout controller under leader election in ns,
// until stop or the end of the test, with its options as with sets them.
func startController(t testing.TB, env *testenv.Env, ns string, with ...func(*Options)) *controllerRun {
	t.Helper()
	logger := logr.Discard()
	if tt, ok := t.(*testing.T); ok {
		logger = testr.NewWithOptions(tt, testr.Options{Verbosity: 0})
	}
	requests := newRequestCounts()
	cfg := rest.CopyConfig(env.Config)
	cfg.Wrap(requests.wrap)
	mgr, err := manager.New(cfg, manager.Options{
		Scheme:                        testScheme,
		Logger:                        logger,
		Metrics:                       metricsserver.Options{BindAddress: "0"},
		LeaderElection:                true,
		LeaderElectionID:              "hotreload-controller",
		LeaderElectionNamespace:       ns,
		LeaderElectionReleaseOnCancel: true,
		// Tests run several managers in one process.
		Controller: config.Controller{SkipNameValidation: ptrTo(true)},
	})
	require.NoError(t, err)
	reg := prometheus.NewRegistry()
	opts := Options{Registry: reg, QPS: benchQPS(t)}
	for _, f := range with {
		f(&opts)
	}
	require.NoError(t, Setup(mgr, opts))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	var once sync.Once
	run := &controllerRun{registry: reg, requests: requests, stop: func() {
		once.Do(func() {
			cancel()
			require.NoError(t, <-done)
		})
	}}
	t.Cleanup(run.stop)
	return run
}

// benchQPS is the controller client's QPS (and burst) the benchmarks run
// with: $HOTRELOAD_BENCH_QPS, else 0, the default.
func benchQPS(t testing.TB) float32 {
	v := os.Getenv("HOTRELOAD_BENCH_QPS")
	if v == "" {
		return 0
	}
	q, err := strconv.ParseFloat(v, 32)
	require.NoError(t, err, "HOTRELOAD_BENCH_QPS")
	return float32(q)
}

// cluster creates the objects of one test in its namespace.
type cluster struct {
	t   testing.TB
	env *testenv.Env
	ns  string
	ctx context.Context
	// api reads the ConfigRelease API too.
	api client.Client
	// startOn, when set, gives the revision a new pod starts on (its
	// stable mounts), instead of the sources as they are.
	startOn func(*corev1.Pod) string
	// commands counts the commands given, for their IDs.
	commands int
	// patience, when set, is how long waitReleaseOf waits instead of wait:
	// a benchmark's thousands of pods take longer.
	patience time.Duration
}

func newCluster(t testing.TB, nsAnnotations map[string]string) *cluster {
	env := testenv.Get(t)
	ns := env.Namespace(t, map[string]string{annotations.InjectionLabel: annotations.InjectionEnabled})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	api, err := client.New(env.Config, client.Options{Scheme: testScheme})
	require.NoError(t, err)
	c := &cluster{t: t, env: env, ns: ns, ctx: ctx, api: api}
	if nsAnnotations != nil {
		c.patch(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, map[string]any{"metadata": map[string]any{"annotations": nsAnnotations}})
	}
	return c
}

func (c *cluster) patch(obj interface {
	GetName() string
}, patch map[string]any) {
	c.t.Helper()
	body, err := json.Marshal(patch)
	require.NoError(c.t, err)
	switch obj.(type) {
	case *corev1.Namespace:
		_, err = c.env.Clientset.CoreV1().Namespaces().Patch(c.ctx, obj.GetName(), types.MergePatchType, body, metav1.PatchOptions{})
	case *corev1.Pod:
		_, err = c.env.Clientset.CoreV1().Pods(c.ns).Patch(c.ctx, obj.GetName(), types.MergePatchType, body, metav1.PatchOptions{})
	default:
		err = fmt.Errorf("cannot patch %T", obj)
	}
	require.NoError(c.t, err)
}

// configMap creates or updates a ConfigMap.
func (c *cluster) configMap(name string, data map[string]string) *corev1.ConfigMap {
	c.t.Helper()
	cms := c.env.Clientset.CoreV1().ConfigMaps(c.ns)
	cm, err := cms.Get(c.ctx, name, metav1.GetOptions{})
	if err != nil {
		cm, err = cms.Create(c.ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: data}, metav1.CreateOptions{})
		require.NoError(c.t, err)
		return cm
	}
	cm.Data = data
	cm, err = cms.Update(c.ctx, cm, metav1.UpdateOptions{})
	require.NoError(c.t, err)
	return cm
}

// replicaSet creates a ReplicaSet (no controller runs: it only owns pods) and
// n injected pods it controls, running the revision of their config, Ready.
// Each pod mounts volume "config" from the ConfigMap, with the given items.
func (c *cluster) replicaSet(name string, n int, podAnnotations map[string]string, cm string, items ...string) []*corev1.Pod {
	c.t.Helper()
	rs := c.owner(name)
	pods := make([]*corev1.Pod, n)
	for i := range pods {
		pods[i] = c.addPod(fmt.Sprintf("%s-%d", name, i), rs, podAnnotations, cm, items...)
	}
	return pods
}

// owner creates a ReplicaSet to own pods; no controller runs to make any.
func (c *cluster) owner(name string) *appsv1.ReplicaSet {
	c.t.Helper()
	labels := map[string]string{"app": name, annotations.EnableLabel: annotations.EnableValue}
	rs, err := c.env.Clientset.AppsV1().ReplicaSets(c.ns).Create(c.ctx, &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.ReplicaSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app"}}}},
		},
	}, metav1.CreateOptions{})
	require.NoError(c.t, err)
	return rs
}

// addPod creates an injected pod controlled by rs, running the revision of
// its config as the ConfigMap holds it now (as its reloader reports at
// start-up), Ready.
func (c *cluster) addPod(name string, rs *appsv1.ReplicaSet, podAnnotations map[string]string, cm string, items ...string) *corev1.Pod {
	c.t.Helper()
	var kp []corev1.KeyToPath
	for _, it := range items {
		kp = append(kp, corev1.KeyToPath{Key: it, Path: it})
	}
	return c.addPodWith(name, rs, podAnnotations, corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: cm}, Items: kp}})
}

// addPodWith creates an injected pod controlled by rs whose volume "config"
// is src, running the revision of its config, Ready.
func (c *cluster) addPodWith(name string, rs *appsv1.ReplicaSet, podAnnotations map[string]string, src corev1.VolumeSource) *corev1.Pod {
	c.t.Helper()
	run := contract.Run{Version: contract.Version, Sources: contract.Sources{Volumes: []string{"config"}}, WaitRelease: true}
	return c.addPodArgs(name, rs, podAnnotations, src, run.Args())
}

// addPodArgs is addPodWith with the reloader's arguments given.
func (c *cluster) addPodArgs(name string, rs *appsv1.ReplicaSet, podAnnotations map[string]string, src corev1.VolumeSource, args []string) *corev1.Pod {
	c.t.Helper()
	podAnnotations = clone(podAnnotations)
	if podAnnotations == nil {
		podAnnotations = map[string]string{}
	}
	podAnnotations[annotations.Injected] = "test" // as the webhook stamps it
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Labels: clone(rs.Spec.Template.Labels), Annotations: podAnnotations,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID,
				Controller: ptrTo(true), BlockOwnerDeletion: ptrTo(true)}},
		},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: contract.ReloaderName, Image: "reloader", RestartPolicy: ptrTo(corev1.ContainerRestartPolicyAlways),
				Args: args}},
			Containers: []corev1.Container{{Name: "app", Image: "app"}},
			Volumes:    []corev1.Volume{{Name: "config", VolumeSource: src}},
		},
	}
	pod, err := c.env.Clientset.CoreV1().Pods(c.ns).Create(c.ctx, pod, metav1.CreateOptions{})
	require.NoError(c.t, err)
	applied := "000000000000"
	if _, ok := ReloadedVolumes(pod); ok {
		applied = c.desired(pod)
		if c.startOn != nil {
			applied = c.startOn(pod)
		}
	}
	c.patch(pod, map[string]any{"metadata": map[string]any{
		"labels":      map[string]string{annotations.Applied: applied},
		"annotations": map[string]string{annotations.AppliedAt: time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)},
	}})
	c.setStatus(pod.Name, true, time.Now().Add(-time.Hour), time.Time{})
	return pod
}

// setStatus plays the kubelet: the pod's Ready condition since a time, and
// its app container's last termination (a restart) when restarted is set.
func (c *cluster) setStatus(name string, ready bool, since, restarted time.Time) {
	c.t.Helper()
	require.NoError(c.t, c.status(name, ready, since, restarted))
}

func (c *cluster) status(name string, ready bool, since, restarted time.Time) error {
	pods := c.env.Clientset.CoreV1().Pods(c.ns)
	pod, err := pods.Get(c.ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	pod.Status.Phase = corev1.PodRunning
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: status, LastTransitionTime: metav1.NewTime(since)}}
	st := corev1.ContainerStatus{Name: "app", Ready: ready, Image: "app", ImageID: "app",
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(since)}}}
	if !restarted.IsZero() {
		st.RestartCount = 1
		st.LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1,
			StartedAt: metav1.NewTime(restarted.Add(-time.Second)), FinishedAt: metav1.NewTime(restarted)}}
	}
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{st}
	_, err = pods.UpdateStatus(c.ctx, pod, metav1.UpdateOptions{})
	return err
}

// at computes the revision of the pod's volumes over sources holding data
// (by "ConfigMap/name" or "Secret/name"); every other source as it is.
func (c *cluster) at(pod *corev1.Pod, data map[string]map[string]string) string {
	c.t.Helper()
	vols, ok := ReloadedVolumes(pod)
	require.True(c.t, ok)
	rev, err := revision.ForPod(pod, vols, func(kind revision.Kind, name string) (revision.Keys, bool) {
		if d, ok := data[string(kind)+"/"+name]; ok {
			if kind == revision.KindSecret {
				b := map[string][]byte{}
				for k, v := range d {
					b[k] = []byte(v)
				}
				return revision.KeysOf(b), true
			}
			return revision.ConfigMapKeys(&corev1.ConfigMap{Data: d}), true
		}
		return c.keys(kind, name)
	})
	require.NoError(c.t, err)
	return rev
}

// sourceRev is the revision of a whole ConfigMap holding data, as its release names it.
func sourceRev(data map[string]string) string {
	return sourceRevision(revision.ConfigMapKeys(&corev1.ConfigMap{Data: data}))
}

// desired computes the revision of the pod's volumes over its sources as
// they are, from the API objects.
func (c *cluster) desired(pod *corev1.Pod) string {
	c.t.Helper()
	vols, ok := ReloadedVolumes(pod)
	require.True(c.t, ok)
	rev, err := revision.ForPod(pod, vols, c.keys)
	require.NoError(c.t, err)
	return rev
}

// keys reads the key digests of a source from the API server.
func (c *cluster) keys(kind revision.Kind, name string) (revision.Keys, bool) {
	{
		if kind == revision.KindSecret {
			s, err := c.env.Clientset.CoreV1().Secrets(c.ns).Get(c.ctx, name, metav1.GetOptions{})
			if err != nil {
				return nil, false
			}
			return revision.SecretKeys(s), true
		}
		cm, err := c.env.Clientset.CoreV1().ConfigMaps(c.ns).Get(c.ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, false
		}
		return revision.ConfigMapKeys(cm), true
	}
}

// secret creates or updates a Secret.
func (c *cluster) secret(name string, data map[string]string) {
	c.t.Helper()
	b := map[string][]byte{}
	for k, v := range data {
		b[k] = []byte(v)
	}
	secrets := c.env.Clientset.CoreV1().Secrets(c.ns)
	s, err := secrets.Get(c.ctx, name, metav1.GetOptions{})
	if err != nil {
		_, err = secrets.Create(c.ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: b}, metav1.CreateOptions{})
		require.NoError(c.t, err)
		return
	}
	s.Data = b
	_, err = secrets.Update(c.ctx, s, metav1.UpdateOptions{})
	require.NoError(c.t, err)
}

// configMapUID returns the UID of a ConfigMap.
func (c *cluster) configMapUID(name string) types.UID {
	c.t.Helper()
	cm, err := c.env.Clientset.CoreV1().ConfigMaps(c.ns).Get(c.ctx, name, metav1.GetOptions{})
	require.NoError(c.t, err)
	return cm.UID
}

// kept reads a ConfigMap hotreload keeps.
func (c *cluster) kept(name string) *corev1.ConfigMap {
	c.t.Helper()
	cm, err := c.env.Clientset.CoreV1().ConfigMaps(c.ns).Get(c.ctx, name, metav1.GetOptions{})
	require.NoError(c.t, err)
	return cm
}

// replicaSetObject reads a ReplicaSet.
func (c *cluster) replicaSetObject(name string) *appsv1.ReplicaSet {
	c.t.Helper()
	rs, err := c.env.Clientset.AppsV1().ReplicaSets(c.ns).Get(c.ctx, name, metav1.GetOptions{})
	require.NoError(c.t, err)
	return rs
}

// waitRelease waits until the release of a ConfigMap satisfies ok and returns it.
func (c *cluster) waitRelease(name, what string, ok func(*v1alpha1.ConfigRelease) bool) *v1alpha1.ConfigRelease {
	c.t.Helper()
	return c.waitReleaseOf("configmap-"+name, what, ok)
}

// waitReleaseOf waits until the named release satisfies ok and returns it.
// On timeout it fails with the release's last status.
func (c *cluster) waitReleaseOf(name, what string, ok func(*v1alpha1.ConfigRelease) bool) *v1alpha1.ConfigRelease {
	c.t.Helper()
	patience := wait
	if c.patience != 0 {
		patience = c.patience
	}
	deadline := time.Now().Add(patience)
	var last *v1alpha1.ConfigRelease
	for {
		rel := &v1alpha1.ConfigRelease{}
		if err := c.api.Get(c.ctx, client.ObjectKey{Namespace: c.ns, Name: name}, rel); err == nil {
			last = rel
			if ok(rel) {
				return rel
			}
		}
		if time.Now().After(deadline) {
			status, _ := json.MarshalIndent(last, "", "  ")
			c.t.Fatalf("release %s: %s: not after %s; last seen:\n%s\npods: %v", name, what, patience, status, podRevisions(c.pods("")))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// phase is a condition of waitRelease.
func phase(p v1alpha1.Phase, candidate string) func(*v1alpha1.ConfigRelease) bool {
	return func(rel *v1alpha1.ConfigRelease) bool {
		return rel.Status.Phase == p && rel.Status.Candidate == candidate
	}
}

func (c *cluster) pods(prefix string) []corev1.Pod {
	c.t.Helper()
	list, err := c.env.Clientset.CoreV1().Pods(c.ns).List(c.ctx, metav1.ListOptions{})
	require.NoError(c.t, err)
	var out []corev1.Pod
	for _, p := range list.Items {
		if prefix == "" || strings.HasPrefix(p.Name, prefix+"-") {
			out = append(out, p)
		}
	}
	return out
}

// events returns "Reason: note" of the Events regarding the named object, in
// the order they were created.
func (c *cluster) events(kind, name string) []string {
	c.t.Helper()
	list, err := c.env.Clientset.EventsV1().Events(c.ns).List(c.ctx, metav1.ListOptions{})
	require.NoError(c.t, err)
	items := list.Items
	sort.SliceStable(items, func(i, j int) bool { return items[i].EventTime.Before(&items[j].EventTime) })
	var out []string
	for _, e := range items {
		if e.Regarding.Kind == kind && e.Regarding.Name == name && e.ReportingController == Name {
			out = append(out, e.Reason+": "+e.Note)
		}
	}
	return out
}

// waitEvents waits until the object's Events end with the reason given.
func (c *cluster) waitEvents(kind, name, lastReason string) []string {
	c.t.Helper()
	var got []string
	require.Eventually(c.t, func() bool {
		got = c.events(kind, name)
		return len(got) > 0 && strings.HasPrefix(got[len(got)-1], lastReason+":")
	}, wait, 50*time.Millisecond, "events of %s %s end with %s", kind, name, lastReason)
	return got
}

// order returns the names of pods in rollout order for rev.
func order(pods []*corev1.Pod, rev string) []string {
	states := make([]Pod, len(pods))
	for i, p := range pods {
		states[i] = Pod{Name: p.Name, UID: p.UID}
	}
	var out []string
	for _, p := range Order(states, rev) {
		out = append(out, p.Name)
	}
	return out
}

func sorted(names []string) string {
	names = slices.Clone(names)
	slices.Sort(names)
	return strings.Join(names, ", ")
}

func clone(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// podRevisions returns, by pod name, "released applied".
func podRevisions(pods []corev1.Pod) map[string]string {
	out := map[string]string{}
	for _, p := range pods {
		out[p.Name] = p.Annotations[annotations.Released] + " " + p.Labels[annotations.Applied]
	}
	return out
}

// all maps every pod's name to v.
func all(pods []corev1.Pod, v string) map[string]string {
	out := map[string]string{}
	for _, p := range pods {
		out[p.Name] = v
	}
	return out
}

// waitPods waits until the pods named prefix-* are as want says
// (podRevisions), and returns them.
func (c *cluster) waitPods(prefix string, want func([]corev1.Pod) map[string]string) []corev1.Pod {
	c.t.Helper()
	var got []corev1.Pod
	require.Eventually(c.t, func() bool {
		got = c.pods(prefix)
		return len(got) > 0 && assertEqual(want(got), podRevisions(got))
	}, wait, 50*time.Millisecond, "pods %s: want %v", prefix, func() any { return podRevisions(got) }())
	return got
}

func assertEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// metricValues returns the rollout counters that counted and the number of
// durations observed, as "name{namespace}" (a watched namespace's counters
// start at 0: those still at 0 are left out).
func metricValues(t testing.TB, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName() + "{" + m.GetLabel()[0].GetValue() + "}"
			switch {
			case m.GetCounter() != nil && m.GetCounter().GetValue() != 0:
				out[key] = m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				out[key+" count"] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}
