//go:build integration

package webhook_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/go-logr/logr/testr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/hotreload/hotreload/internal/access"
	"github.com/hotreload/hotreload/internal/testenv"
	"github.com/hotreload/hotreload/internal/webhook"
	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/mutate"
)

// leaderOptions are the options of a replica that campaigns for the
// controller's lease in namespace ns.
func leaderOptions(t *testing.T, wh testenv.Webhook, ns string) webhook.ServerOptions {
	return webhook.ServerOptions{
		Host: wh.Host, Port: wh.Port, ExchangePort: freePort(t), CertDir: wh.CertDir,
		MetricsAddr: "0", HealthAddr: "0", Registry: prometheus.NewRegistry(),
		LeaderElection: true, LeaderElectionNamespace: ns,
		NativeSidecar: webhook.NativeSidecarAuto,
		Mutate:        mutate.Options{ReloaderImage: "ghcr.io/hotreload/reloader:v1.0.0", Version: "v1.0.0"},
	}
}

// startReplica runs webhook serve's manager with o until cancel; done
// receives what its Start returns.
func startReplica(t *testing.T, env *testenv.Env, o webhook.ServerOptions) (cancel func(), done <-chan error) {
	t.Helper()
	return startReplicaLogging(t, env, o, testr.New(t))
}

// startReplicaLogging is startReplica with log as the replica's log.
func startReplicaLogging(t *testing.T, env *testenv.Env, o webhook.ServerOptions, log logr.Logger) (cancel func(), done <-chan error) {
	t.Helper()
	mgr, err := webhook.NewManager(env.Config, o, log)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan error, 1)
	go func() { ch <- mgr.Start(ctx) }()
	return cancel, ch
}

// holder is who holds the controller's lease in ns, "" when nobody does.
func holder(t *testing.T, env *testenv.Env, ns string) string {
	t.Helper()
	l, err := env.Clientset.CoordinationV1().Leases(ns).Get(context.Background(), "hotreload-controller", metav1.GetOptions{})
	if err != nil || l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

// A leader that is stopped, as in a rollout or an upgrade, releases its lease
// as it goes, so that another replica takes the controller over at once
// rather than after the lease's term.
func TestIntegrationAStoppedLeaderReleasesItsLease(t *testing.T) {
	env := testenv.Get(t)
	wh := env.InstallWebhooks(t)
	ns := env.Namespace(t, nil)
	cancel, done := startReplica(t, env, leaderOptions(t, wh, ns))
	defer cancel()
	require.Eventually(t, func() bool { return holder(t, env, ns) != "" }, time.Minute, 50*time.Millisecond, "the leader holds the lease")
	cancel()
	require.NoError(t, <-done)
	require.Empty(t, holder(t, env, ns), "the stopped leader released the lease")
}

// A replica whose lease is taken from it (the API server away past the
// renewal deadline, a paused process) stops its controllers only: it goes
// on admitting pods throughout, does not exit, campaigns again, and once it
// holds the lease again its controllers run.
func TestIntegrationLosingTheLeaseStopsTheControllersOnly(t *testing.T) {
	env := testenv.Get(t)
	wh := env.InstallWebhooks(t, webhookConfiguration())
	ns := env.Namespace(t, nil)
	ctx := context.Background()
	cancel, done := startReplica(t, env, leaderOptions(t, wh, ns))
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	require.Eventually(t, func() bool { return holder(t, env, ns) != "" }, time.Minute, 50*time.Millisecond, "elected")
	first := holder(t, env, ns)

	// Pods are admitted, injected, all along.
	enabled := env.Namespace(t, map[string]string{annotations.InjectionLabel: annotations.InjectionEnabled})
	admitted := func() bool {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "web-", Labels: map[string]string{annotations.EnableLabel: annotations.EnableValue}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app",
				VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: "/etc/app"}}}},
				Volumes: []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
					LocalObjectReference: corev1.LocalObjectReference{Name: "app"}}}}}}}
		got, err := env.Clientset.CoreV1().Pods(enabled).Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		_, injected := annotations.InjectedOf(got.GetAnnotations())
		return err == nil && injected
	}
	require.Eventually(t, admitted, 30*time.Second, 50*time.Millisecond, "the webhook injects")

	// Someone else takes the lease, as a replica would after this one
	// missed its renewals.
	leases := env.Clientset.CoordinationV1().Leases(ns)
	l, err := leases.Get(ctx, "hotreload-controller", metav1.GetOptions{})
	require.NoError(t, err)
	l.Spec.HolderIdentity = ptr.To("another-replica")
	l.Spec.RenewTime = &metav1.MicroTime{Time: time.Now()}
	l.Spec.LeaseTransitions = ptr.To(*l.Spec.LeaseTransitions + 1)
	_, err = leases.Update(ctx, l, metav1.UpdateOptions{})
	require.NoError(t, err)

	// Until it holds the lease again, every pod is admitted and injected,
	// and the process goes on.
	var refused int
	for holder(t, env, ns) == "another-replica" {
		if !admitted() {
			refused++
		}
		select {
		case err := <-done:
			t.Fatalf("webhook serve ended with its lease: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	assert.Zero(t, refused, "pods admitted without injection while the lease was elsewhere")
	require.Equal(t, first, holder(t, env, ns), "a new campaign of the same process, under its identity")

	// Its controllers run again: the access reconciler serves a namespace
	// enabled now.
	later := env.Namespace(t, map[string]string{annotations.InjectionLabel: annotations.InjectionEnabled})
	require.Eventually(t, func() bool {
		_, err := env.Clientset.CoreV1().ServiceAccounts(later).Get(ctx, access.ReloaderName, metav1.GetOptions{})
		return err == nil
	}, time.Minute, 100*time.Millisecond, "the controllers run again")
}

// A replica whose controllers stopped while the lease still names it (the
// API server away past the renewal deadline, then back) renews the lease as
// soon as it campaigns again, instead of waiting out the lease's 15 s term
// as a stranger to it would: the release it was running goes on within
// seconds of the API server's return.
func TestIntegrationAReplicaTakesBackTheLeaseThatNamesIt(t *testing.T) {
	env := testenv.Get(t)
	wh := env.InstallWebhooks(t)
	ns := env.Namespace(t, nil)
	ctx := context.Background()
	stopped := make(chan struct{}, 8)
	log := funcr.New(func(prefix, args string) {
		t.Log(prefix, args)
		if strings.Contains(args, "the controllers stopped; campaigning for the lease again") {
			stopped <- struct{}{}
		}
	}, funcr.Options{})
	cancel, done := startReplicaLogging(t, env, leaderOptions(t, wh, ns), log)
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	require.Eventually(t, func() bool { return holder(t, env, ns) != "" }, time.Minute, 50*time.Millisecond, "elected")
	self := holder(t, env, ns)

	// Its controllers stop: the lease is someone else's for a moment.
	leases := env.Clientset.CoordinationV1().Leases(ns)
	write := func(who string) time.Time {
		t.Helper()
		l, err := leases.Get(ctx, "hotreload-controller", metav1.GetOptions{})
		require.NoError(t, err)
		now := time.Now()
		l.Spec.HolderIdentity, l.Spec.RenewTime = ptr.To(who), &metav1.MicroTime{Time: now}
		_, err = leases.Update(ctx, l, metav1.UpdateOptions{})
		require.NoError(t, err)
		return now
	}
	write("another-replica")
	select { // past its renewal deadline (10 s)
	case <-stopped:
	case <-time.After(30 * time.Second):
		t.Fatal("the controllers did not stop with the lease elsewhere")
	}

	// The lease names it again, fresh, as when the API server comes back
	// before another replica took it over.
	named := write(self)
	require.Eventually(t, func() bool {
		l, err := leases.Get(ctx, "hotreload-controller", metav1.GetOptions{})
		return err == nil && *l.Spec.HolderIdentity == self && l.Spec.RenewTime.After(named)
	}, 5*time.Second, 50*time.Millisecond, "renewed within its retry period, not after the lease's 15 s term")
}
