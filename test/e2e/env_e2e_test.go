//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/revision"
)

// paletteRevision is the revision of the palette ConfigMap holding COLOR.
func paletteRevision(color string) string {
	return revision.Files(revision.ConfigMapKeys(&corev1.ConfigMap{Data: map[string]string{"COLOR": color}})).Revision()
}

// envServed returns what each pod's app read from its environment at start.
func envServed(ctx context.Context, pods map[string]string) map[string]string {
	out := map[string]string{}
	for name, ip := range pods {
		body, err := tryGet(ctx, "http://"+ip+":8080/env")
		if err != nil {
			body = "error: " + err.Error()
		}
		out[name] = body
	}
	return out
}

// colors is the /env answer of a pod that read color through valueFrom and
// envFrom (with its prefix).
func colors(color string) string { return fmt.Sprintf("COLOR=%s\nP_COLOR=%s\n", color, color) }

// waitEnv waits until the Deployment has n Ready pods, each serving want
// from its env, and returns them.
func waitEnv(ctx context.Context, t testing.TB, cs kubernetes.Interface, ns, app string, n int, want string, timeout time.Duration) map[string]string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		pods := readyPods(ctx, t, cs, ns, "app="+app)
		served := envServed(ctx, pods)
		if len(pods) == n && maps.Equal(served, each(pods, want)) {
			return pods
		}
		if time.Now().After(deadline) {
			t.Fatalf("not %d pods serving %q from their env after %v: %v\nEvents: %v\n%s", n, want, timeout, served, allEvents(ctx, cs, ns), explainNamespace(cs, ns))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// readyPods returns the Ready pods (not deleted) of the selector, by name, with their IPs.
func readyPods(ctx context.Context, t testing.TB, cs kubernetes.Interface, ns, selector string) map[string]string {
	t.Helper()
	list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	require.NoError(t, err)
	return readyOf(list)
}

// readyOf returns the Ready pods (not deleted) of list, by name, with their IPs.
func readyOf(list *corev1.PodList) map[string]string {
	out := map[string]string{}
	for _, p := range list.Items {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue && p.DeletionTimestamp == nil {
				out[p.Name] = p.Status.PodIP
			}
		}
	}
	return out
}

// watchAvailability samples the Deployment's Ready pods until stop is
// called, and returns the fewest it saw and the env values it saw served.
func watchAvailability(ctx context.Context, t testing.TB, cs kubernetes.Interface, ns, app string) (stop func() (fewest int, served []string)) {
	ctx, cancel := context.WithCancel(ctx)
	var (
		mu     sync.Mutex
		fewest = 1 << 30
		seen   = map[string]bool{}
		done   = make(chan struct{})
	)
	go func() {
		defer close(done)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + app})
			if err == nil {
				ready := readyOf(list)
				served := envServed(ctx, ready)
				mu.Lock()
				fewest = min(fewest, len(ready))
				for _, v := range served {
					if !strings.HasPrefix(v, "error:") {
						seen[v] = true
					}
				}
				mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return func() (int, []string) {
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		return fewest, slices.Sorted(maps.Keys(seen))
	}
}

// An env change reaches every pod in the release's steps, each pod replaced
// through the Eviction API (a PodDisruptionBudget of maxUnavailable 1 holds
// all along); a refused one halts at the first replaced pod, which comes
// back on stable; a scale-up during the halt starts on stable; the fix
// completes. What each pod serves is what it read from its env.
func TestEnvChangesReachEveryPodInSteps(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cs := clusterClient(t)
	installHotreload(ctx, t, cs)
	d := demo{name: "env", replicas: 3, inject: true, args: []string{"--env=COLOR,P_COLOR", "--fail-on=refused"},
		annotations: map[string]string{"hotreload/rollout": "1,50%,100%", "hotreload/rollout-interval": "3s"}}
	d.ns = enabledNamespace(ctx, t, cs, "hotreload-env-")
	_, err := cs.CoreV1().ConfigMaps(d.ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "palette"},
		Data: map[string]string{"COLOR": "blue"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = cs.PolicyV1().PodDisruptionBudgets(d.ns).Create(ctx, &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "env"},
		Spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: ptr(intstr.FromInt32(1)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "env"}}}}, metav1.CreateOptions{})
	require.NoError(t, err)
	d.createConfig(ctx, t, cs, "file-1")
	_, err = cs.AppsV1().Deployments(d.ns).Create(ctx, envDeployment(d), metav1.CreateOptions{})
	require.NoError(t, err)
	first := waitEnv(ctx, t, cs, d.ns, "env", 3, colors("blue"), 2*time.Minute)
	waitRelease(ctx, t, cs, d.ns, "palette", "first seen", time.Minute, func(rel *v1alpha1.ConfigRelease) bool {
		return isPhase(v1alpha1.PhaseComplete, paletteRevision("blue"))(rel) && len(rel.Status.Workloads) == 1 && rel.Status.Workloads[0].Pods == 3
	})

	// A good change: every pod replaced, in steps, never more than one unavailable.
	stop := watchAvailability(ctx, t, cs, d.ns, "env")
	start := time.Now()
	patchConfigMap(ctx, t, cs, d.ns, "palette", map[string]string{"COLOR": "green"})
	waitRelease(ctx, t, cs, d.ns, "palette", "green complete", 5*time.Minute, isPhase(v1alpha1.PhaseComplete, paletteRevision("green")))
	green := waitEnv(ctx, t, cs, d.ns, "env", 3, colors("green"), time.Minute)
	t.Logf("env change on 3 pods in steps 1,50%%,100%% (3 s each): complete after %v", time.Since(start).Round(100*time.Millisecond))
	fewest, served := stop()
	assert.GreaterOrEqual(t, fewest, 2, "the PodDisruptionBudget's maxUnavailable 1 held")
	assert.Equal(t, []string{colors("blue"), colors("green")}, served, "nothing but blue, then green, was served")
	for name := range green {
		assert.NotContains(t, first, name, "pod %s is a new pod", name)
	}
	steps := eventReasons(ctx, t, cs, d.ns, "Deployment", "env", "StepReleased")
	assert.Len(t, steps, 3, "three steps: %v", steps)

	// A refused change halts at the first replaced pod, which comes back on stable.
	patchConfigMap(ctx, t, cs, d.ns, "palette", map[string]string{"COLOR": "refused-red"})
	rel := waitRelease(ctx, t, cs, d.ns, "palette", "halted and rolled back", 3*time.Minute, rolledBack(paletteRevision("refused-red")))
	require.NotNil(t, rel.Status.Halt)
	assert.Contains(t, rel.Status.Halt.Cause, "restarted")
	afterHalt := waitEnv(ctx, t, cs, d.ns, "env", 3, colors("green"), 2*time.Minute)
	assert.Empty(t, rel.Status.Admit, "no owner is admitted on a halted candidate")

	// A scale-up during the halt starts on stable.
	patchDeployment(ctx, t, cs, d.ns, "env", `{"spec":{"replicas":5}}`)
	scaled := waitEnv(ctx, t, cs, d.ns, "env", 5, colors("green"), 2*time.Minute)
	for name := range afterHalt {
		assert.Contains(t, scaled, name, "the halt's pods stay")
	}

	// The fix completes on every pod.
	patchConfigMap(ctx, t, cs, d.ns, "palette", map[string]string{"COLOR": "yellow"})
	waitRelease(ctx, t, cs, d.ns, "palette", "yellow complete", 6*time.Minute, isPhase(v1alpha1.PhaseComplete, paletteRevision("yellow")))
	waitEnv(ctx, t, cs, d.ns, "env", 5, colors("yellow"), time.Minute)
}

// envDeployment is d's Deployment whose app also reads ConfigMap palette's
// COLOR through valueFrom and every key through envFrom, prefixed P_ (its
// /env answer is colors).
func envDeployment(d demo) *appsv1.Deployment {
	dep := d.deployment()
	app := &dep.Spec.Template.Spec.Containers[0]
	ref := corev1.LocalObjectReference{Name: "palette"}
	app.Env = []corev1.EnvVar{{Name: "COLOR", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: ref, Key: "COLOR"}}}}
	app.EnvFrom = []corev1.EnvFromSource{{Prefix: "P_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: ref}}}
	return dep
}

// patchConfigMap sets a ConfigMap's data.
func patchConfigMap(ctx context.Context, t testing.TB, cs kubernetes.Interface, ns, name string, data map[string]string) {
	t.Helper()
	cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	require.NoError(t, err)
	cm.Data = data
	_, err = cs.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{})
	require.NoError(t, err)
}

// eventReasons returns the messages of the Events of reason on an object.
func eventReasons(ctx context.Context, t testing.TB, cs kubernetes.Interface, ns, kind, name, reason string) []string {
	t.Helper()
	list, err := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.kind=" + kind + ",involvedObject.name=" + name + ",reason=" + reason})
	require.NoError(t, err)
	var out []string
	for _, e := range list.Items {
		out = append(out, e.Message)
	}
	return out
}
