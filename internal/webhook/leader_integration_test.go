//go:build integration

package webhook_test

import (
	"context"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hotreload/hotreload/internal/testenv"
	"github.com/hotreload/hotreload/internal/webhook"
	"github.com/hotreload/hotreload/pkg/mutate"
)

// A leader that is stopped, as in a rollout or an upgrade, releases its lease
// as it goes, so that another replica takes the controller over at once
// rather than after the lease's term.
func TestIntegrationAStoppedLeaderReleasesItsLease(t *testing.T) {
	env := testenv.Get(t)
	wh := env.InstallWebhooks(t)
	ns := env.Namespace(t, nil)
	mgr, err := webhook.NewManager(env.Config, webhook.ServerOptions{
		Host: wh.Host, Port: wh.Port, ExchangePort: freePort(t), CertDir: wh.CertDir,
		MetricsAddr: "0", HealthAddr: "0", Registry: prometheus.NewRegistry(), SkipControllerNameValidation: true,
		LeaderElection: true, LeaderElectionNamespace: ns,
		NativeSidecar: webhook.NativeSidecarAuto,
		Mutate:        mutate.Options{ReloaderImage: "ghcr.io/hotreload/reloader:v1.0.0", Version: "v1.0.0"},
	}, testr.New(t))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	defer cancel()
	select {
	case <-mgr.Elected():
	case <-time.After(time.Minute):
		t.Fatal("not elected after 1m")
	}
	holder := func() string {
		l, err := env.Clientset.CoordinationV1().Leases(ns).Get(context.Background(), "hotreload-controller", metav1.GetOptions{})
		require.NoError(t, err)
		return holderOf(l)
	}
	require.NotEmpty(t, holder(), "the leader holds the lease")
	cancel()
	require.NoError(t, <-done)
	require.Empty(t, holder(), "the stopped leader released the lease")
}

// holderOf is who holds l, "" when nobody does.
func holderOf(l *coordinationv1.Lease) string {
	if l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}
