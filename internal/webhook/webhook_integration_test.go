//go:build integration

package webhook_test

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/testr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/internal/testenv"
	"github.com/hotreload/hotreload/internal/webhook"
	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/contract"
	"github.com/hotreload/hotreload/pkg/mutate"
	"github.com/hotreload/hotreload/pkg/mutate/mutatetest"
)

func TestMain(m *testing.M) {
	if spec := os.Getenv(senderEnv); spec != "" {
		os.Exit(runSender(spec)) // a benchmark's load, in a process of its own
	}
	testenv.Main(m, testenv.WithCRDs(filepath.Join("..", "..", "deploy", "base", "crd")))
}

// Every golden pod of pkg/mutate, created through the real API server in an
// enabled namespace, is stored as the golden file says (after the API server's
// defaults), the client receives the same warnings, and the API server accepts
// every mutated pod.
func TestIntegrationWebhookStoresGoldenPods(t *testing.T) {
	env := testenv.Get(t)
	inputs, err := mutatetest.Inputs()
	require.NoError(t, err)

	// The server's options are per process: run one server per set of them.
	groups := map[string][]string{}
	for _, in := range inputs {
		c := readCase(t, in)
		key := serverKey(c)
		groups[key] = append(groups[key], in)
	}
	require.Len(t, groups, 3, "the golden cases use three server configurations")

	for key, files := range groups {
		t.Run(key, func(t *testing.T) {
			opts := serverOptions(readCase(t, files[0]))
			cache := startServer(t, env, opts)
			warnings := &warningRecorder{}
			cs := clientsetWithWarnings(t, env.Config, warnings)
			plainNS := env.Namespace(t, nil)

			for _, in := range files {
				name := strings.TrimSuffix(filepath.Base(in), ".yaml")
				t.Run(name, func(t *testing.T) {
					c := readCase(t, in)
					want := readResult(t, mutatetest.GoldenPath(in))
					ns := enabledNamespace(t, env, cache, c.Options.NamespaceAnnotations)
					ctx := context.Background()
					createSources(t, env, ns, c.Options)

					pod := c.Pod.DeepCopy()
					pod.Namespace = "" // the request's namespace is the one that counts
					warnings.reset()
					got, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
					require.NoError(t, err, "the API server accepts the mutated pod")
					wantWarnings := nilIfEmpty(want.Warnings)
					if !annotations.Enabled(c.Pod.Labels) {
						wantWarnings = nil // the objectSelector keeps the webhook from being called
					}
					assert.Equal(t, wantWarnings, nilIfEmpty(warnings.take()), "warnings the client received")

					// The golden pod, defaulted by the same API server where no webhook acts.
					expected := want.Pod.DeepCopy()
					expected.Namespace = ""
					expected, err = env.Clientset.CoreV1().Pods(plainNS).Create(ctx, expected, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
					require.NoError(t, err)
					assert.Equal(t, expected.Spec, got.Spec)
					assert.Equal(t, expected.Labels, got.Labels)
					assert.Equal(t, expected.Annotations, got.Annotations)
				})
			}
		})
	}
}

// A dry-run create is mutated like any other and stores nothing; a pod in a
// namespace without the label, or without the pod label, is left alone.
func TestIntegrationWebhookDryRunAndSelectors(t *testing.T) {
	env := testenv.Get(t)
	cache := startServer(t, env, serverOptions(mutatetest.Case{}))
	ctx := context.Background()
	c := readCase(t, filepath.Join(mutatetest.Dir(), "nginx-subpath-link.yaml"))
	want := readResult(t, filepath.Join(mutatetest.Dir(), "nginx-subpath-link.golden.yaml"))

	enabled := enabledNamespace(t, env, cache, nil)
	pod := c.Pod.DeepCopy()
	pod.Namespace = ""
	got, err := env.Clientset.CoreV1().Pods(enabled).Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	require.NoError(t, err)
	assert.Equal(t, want.Pod.Annotations, got.Annotations, "the dry-run pod is mutated")
	assert.Len(t, got.Spec.InitContainers, len(want.Pod.Spec.InitContainers))
	_, err = env.Clientset.CoreV1().Pods(enabled).Get(ctx, pod.Name, metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "a dry run stores nothing: %v", err)

	plain := env.Namespace(t, nil)
	got, err = env.Clientset.CoreV1().Pods(plain).Create(ctx, pod.DeepCopy(), metav1.CreateOptions{})
	require.NoError(t, err)
	assert.NotContains(t, got.Annotations, annotations.Injected, "no webhook in a namespace without the label")

	optedOut := pod.DeepCopy()
	delete(optedOut.Labels, annotations.EnableLabel)
	got, err = env.Clientset.CoreV1().Pods(enabled).Create(ctx, optedOut, metav1.CreateOptions{})
	require.NoError(t, err)
	assert.NotContains(t, got.Annotations, annotations.Injected, "no webhook for a pod without the label")
}

// The MutatingWebhookConfiguration of DESIGN.md, pointed at the test's server.
func webhookConfiguration() *admissionregistrationv1.MutatingWebhookConfiguration {
	return &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "hotreload"},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name:                    "pods.hotreload.dev",
			AdmissionReviewVersions: []string{"v1"},
			ClientConfig: admissionregistrationv1.WebhookClientConfig{
				Service: &admissionregistrationv1.ServiceReference{
					Namespace: "hotreload-system", Name: "hotreload-webhook",
					// envtest joins host and path itself.
					Path: ptr.To(strings.TrimPrefix(webhook.Path, "/")),
				},
			},
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
				Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}},
			}},
			ObjectSelector: &metav1.LabelSelector{MatchLabels: map[string]string{annotations.EnableLabel: annotations.EnableValue}},
			NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{annotations.InjectionLabel: annotations.InjectionEnabled},
				MatchExpressions: []metav1.LabelSelectorRequirement{{
					Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpNotIn,
					Values: []string{"kube-system", "hotreload-system"},
				}},
			},
			SideEffects:        ptr.To(admissionregistrationv1.SideEffectClassNone),
			TimeoutSeconds:     ptr.To[int32](5),
			ReinvocationPolicy: ptr.To(admissionregistrationv1.IfNeededReinvocationPolicy),
			FailurePolicy:      ptr.To(admissionregistrationv1.Ignore),
		}},
	}
}

// startServer runs `webhook serve`'s manager for the test and registers it
// with the API server.
func startServer(t *testing.T, env *testenv.Env, o webhook.ServerOptions) client.Reader {
	t.Helper()
	wh := env.InstallWebhooks(t, webhookConfiguration())
	o.Host, o.Port, o.CertDir = wh.Host, wh.Port, wh.CertDir
	return runManager(t, env, o, testr.New(t)).GetCache()
}

// runManager starts `webhook serve`'s manager, serving where o says (the
// exchange on a free port unless o says), until the test ends, and waits
// until it serves admission with a synced cache.
func runManager(t testing.TB, env *testenv.Env, o webhook.ServerOptions, log logr.Logger) manager.Manager {
	t.Helper()
	return runManagerWith(t, env.Config, o, log)
}

// runManagerWith is runManager with the client configuration cfg.
func runManagerWith(t testing.TB, cfg *rest.Config, o webhook.ServerOptions, log logr.Logger) manager.Manager {
	t.Helper()
	if o.MetricsAddr == "" {
		o.MetricsAddr = "0"
	}
	if o.ExchangePort == 0 {
		o.ExchangePort = freePort(t)
	}
	o.HealthAddr = "0"
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	mgr, err := webhook.NewManager(cfg, o, log)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	require.Eventually(t, func() bool { return mgr.GetWebhookServer().StartedChecker()(nil) == nil }, 30*time.Second, 50*time.Millisecond)
	require.True(t, mgr.GetCache().WaitForCacheSync(ctx))
	return mgr
}

func serverOptions(c mutatetest.Case) webhook.ServerOptions {
	o := webhook.ServerOptions{
		NativeSidecar: webhook.NativeSidecarAuto,
		Mutate: mutate.Options{
			ReloaderImage: "ghcr.io/hotreload/reloader:v1.0.0", Version: "v1.0.0",
			HealthPort: c.Options.HealthPort, ExchangeCA: []byte(c.Options.ExchangeCA),
		},
	}
	if c.Options.PlainSidecar {
		o.NativeSidecar = webhook.NativeSidecarFalse
	}
	if c.Options.LiveSizeLimit != "" {
		q := resource.MustParse(c.Options.LiveSizeLimit)
		o.Mutate.LiveSizeLimit = &q
	}
	return o
}

func serverKey(c mutatetest.Case) string {
	switch {
	case c.Options.PlainSidecar:
		return "plain-sidecar"
	case c.Options.HealthPort != 0 || c.Options.LiveSizeLimit != "" || c.Options.ExchangeCA != "":
		return "port-" + string(rune('0'+c.Options.HealthPort%10)) + "-limit-" + c.Options.LiveSizeLimit
	}
	return "defaults"
}

// enabledNamespace creates a namespace labelled for injection, with the given
// annotations, and waits until the server's cache has it.
func enabledNamespace(t testing.TB, env *testenv.Env, cache client.Reader, ann map[string]string) string {
	t.Helper()
	name := env.Namespace(t, map[string]string{annotations.InjectionLabel: annotations.InjectionEnabled})
	if len(ann) > 0 {
		ns, err := env.Clientset.CoreV1().Namespaces().Get(context.Background(), name, metav1.GetOptions{})
		require.NoError(t, err)
		ns.Annotations = ann
		_, err = env.Clientset.CoreV1().Namespaces().Update(context.Background(), ns, metav1.UpdateOptions{})
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool {
		var ns corev1.Namespace
		return cache.Get(context.Background(), client.ObjectKey{Name: name}, &ns) == nil && maps.Equal(ns.Annotations, ann)
	}, 30*time.Second, 20*time.Millisecond, "the webhook's cache sees namespace %s", name)
	return name
}

// createSources creates, in namespace ns, the ConfigMaps and Secrets of a
// case's settings, empty, with their annotations, and the releases of its
// settings, with their statuses, for the webhook to read.
func createSources(t testing.TB, env *testenv.Env, ns string, s mutatetest.Settings) {
	t.Helper()
	sources, err := s.Sources()
	require.NoError(t, err)
	ctx := context.Background()
	for src, ann := range sources {
		meta := metav1.ObjectMeta{Name: src.Name, Annotations: ann}
		if src.Kind == v1alpha1.SourceSecret {
			_, err = env.Clientset.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: meta}, metav1.CreateOptions{})
		} else {
			_, err = env.Clientset.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: meta}, metav1.CreateOptions{})
		}
		require.NoError(t, err)
	}
	releases, err := s.ReleaseStatuses()
	require.NoError(t, err)
	scheme := runtime.NewScheme()
	require.NoError(t, v1alpha1.AddToScheme(scheme))
	c, err := client.New(env.Config, client.Options{Scheme: scheme})
	require.NoError(t, err)
	for src, st := range releases {
		rel := &v1alpha1.ConfigRelease{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: contract.ReleaseName(string(src.Kind), src.Name)},
			Spec: v1alpha1.ConfigReleaseSpec{Source: v1alpha1.Source{Kind: src.Kind, Name: src.Name}}}
		require.NoError(t, c.Create(ctx, rel))
		// The controller marks the release of a source that does not exist
		// (and keeps what the case sets).
		require.NoError(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
			if err := c.Get(ctx, client.ObjectKeyFromObject(rel), rel); err != nil {
				return err
			}
			gone := rel.Status.SourceGoneSince
			rel.Status = st
			rel.Status.SourceGoneSince = gone
			return c.Status().Update(ctx, rel)
		}))
	}
}

func readCase(t testing.TB, path string) mutatetest.Case {
	t.Helper()
	c, err := mutatetest.ReadCase(path)
	require.NoError(t, err)
	return c
}

func readResult(t testing.TB, path string) mutatetest.Result {
	t.Helper()
	r, err := mutatetest.ReadResult(path)
	require.NoError(t, err)
	return r
}

// warningRecorder collects the admission warnings the API server returns.
type warningRecorder struct {
	mu   sync.Mutex
	seen []string
}

func (w *warningRecorder) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seen = append(w.seen, text)
}

func (w *warningRecorder) reset() { w.mu.Lock(); w.seen = nil; w.mu.Unlock() }

func (w *warningRecorder) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.seen
}

func clientsetWithWarnings(t *testing.T, cfg *rest.Config, w rest.WarningHandler) kubernetes.Interface {
	t.Helper()
	c := rest.CopyConfig(cfg)
	c.WarningHandler = w
	cs, err := kubernetes.NewForConfig(c)
	require.NoError(t, err)
	return cs
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}
