//go:build integration

package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hotreload/hotreload/internal/identity"
	"github.com/hotreload/hotreload/internal/webhook"
	"github.com/hotreload/hotreload/pkg/mutate"
)

// The junk of BenchmarkIntegrationAdmissionUnderJunk comes from 127.0.0.2 (an
// address of its own, as another pod's would be) while the real traffic runs.
const (
	exchangePods   = 30 // sidecars exchanging fresh pod tokens...
	exchangeRate   = 3  // ...this many a second in all
	junkSourceAddr = "127.0.0.2"
)

// BenchmarkIntegrationAdmissionUnderJunk runs the admission load of
// BenchmarkIntegrationAdmissionLoad and real sidecars' token exchanges while
// junk is sent at both ports, from another process: garbage JSON, 7 MiB
// bodies, slow-loris connections and junk bearer tokens. It reports the real
// traffic's latencies and failures, and what the junk got.
// Run it once: go test -tags integration -run '^$' -bench AdmissionUnderJunk -benchtime 1x ./internal/webhook/
func BenchmarkIntegrationAdmissionUnderJunk(b *testing.B) {
	exchangePort := freePort(b)
	rig := newLoadRig(b, webhook.ServerOptions{ExchangePort: exchangePort})
	ctx := context.Background()
	env := rig.env
	env.Apply(b, env.Kustomize(b, "../../deploy/base")) // the reloader policy, without which no token is issued
	require.NoError(b, env.Client.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: rig.ns}}))
	require.Eventually(b, func() bool {
		return env.Client.Get(ctx, client.ObjectKey{Namespace: rig.ns, Name: "hotreload-reloader"}, &corev1.ServiceAccount{}) == nil
	}, 30*time.Second, 50*time.Millisecond, "the controller gives the namespace the reloader's account")
	pods := make([]*corev1.Pod, exchangePods)
	for i := range pods {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("sidecar-%d", i), Namespace: rig.ns, Labels: map[string]string{"hotreload/enable": "true"}},
			Spec: corev1.PodSpec{ServiceAccountName: "app", Containers: []corev1.Container{{Name: "app", Image: "app:1",
				VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: "/etc/app"}}}},
				Volumes: []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{
					ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "app"}}}}}},
		}
		p, _, err := mutate.Mutate(p, rig.o.Mutate)
		require.NoError(b, err)
		require.NoError(b, env.Client.Create(ctx, p))
		pods[i] = p
	}
	exchangeURL := fmt.Sprintf("https://127.0.0.1:%d%s", exchangePort, identity.Path)
	var next atomic.Int64
	var lastErr atomic.Value
	exchange := func() (d time.Duration, err error) {
		defer func() {
			if err != nil {
				lastErr.Store(err.Error())
			}
		}()
		p := pods[int(next.Add(1))%len(pods)]
		tr, err := env.Clientset.CoreV1().ServiceAccounts(rig.ns).CreateToken(ctx, "app", &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
			Audiences:      []string{identity.Audience},
			BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: p.Name, UID: p.UID},
		}}, metav1.CreateOptions{})
		if err != nil {
			return 0, err
		}
		start := time.Now()
		code, body, err := post(rig.client, exchangeURL, "Bearer "+tr.Status.Token, nil)
		if err != nil {
			return 0, err
		}
		var st authenticationv1.TokenRequestStatus
		if code != http.StatusOK || json.Unmarshal(body, &st) != nil || st.Token == "" {
			return 0, fmt.Errorf("exchange: %d %s", code, body)
		}
		return time.Since(start), nil
	}

	kinds := []string{"garbage-json", "7MiB-body", "junk-token", "slow-loris"}
	if v := os.Getenv("HOTRELOAD_JUNK"); v != "" {
		kinds = strings.Split(v, ",")
	}
	for b.Loop() {
		junk := startSender(b, senderSpec{Junk: kinds, SourceAddr: junkSourceAddr, AdmitURL: rig.url, ExchangeURL: exchangeURL,
			CA: rig.ca, Duration: loadDuration})
		admissions := rig.startAdmissions(b)
		var exLat []time.Duration
		var exFailures int
		var exElapsed time.Duration
		exLat, exFailures, exElapsed = openLoop(exchangeRate, loadDuration, exchange)
		real := admissions()
		reportLatencies(b, "", real.Latencies, real.Failures, real.Elapsed, "reviews/s")
		if exFailures > 0 {
			b.Logf("%d exchanges failed, the last: %v", exFailures, lastErr.Load())
		}
		reportLatencies(b, "exchange-", exLat, exFailures, exElapsed, "exchanges/s")
		for k, n := range junk().Answers {
			b.ReportMetric(float64(n), "junk-"+k)
		}
	}
}
