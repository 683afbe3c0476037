//go:build e2e

package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
)

// TestARotatedSecretReachesEveryPodAfterARetry: a Secret annotated
// hotreload/on-halt: retry, as a certificate that cert-manager or
// external-secrets rotates. Its canary fails on the rotation for a reason
// outside the config (the demo app's fault, which its restart clears), and
// the release halts and rolls back. Once the fault is gone, the controller
// retries the candidate from step 1 after its first backoff (1 minute) with
// no one's command, and the rotated Secret reaches every pod.
func TestARotatedSecretReachesEveryPodAfterARetry(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	cs := clusterClient(t)
	installHotreload(ctx, t, cs)
	d := demo{
		name: "rotated", replicas: 3, secret: true, subPath: true, inject: true,
		annotations: map[string]string{"hotreload/rollout": "1,100%", "hotreload/rollout-interval": "2s"},
	}
	first := uniqueConfig("-----BEGIN CERTIFICATE----- serial=1")
	pods := d.start(ctx, t, cs, first)
	_, err := cs.CoreV1().Secrets(d.ns).Patch(ctx, d.source(), types.MergePatchType,
		[]byte(`{"metadata":{"annotations":{"hotreload/on-halt":"retry"}}}`), metav1.PatchOptions{})
	require.NoError(t, err)

	fault(ctx, t, pods, http.MethodPut)
	rotated := uniqueConfig("-----BEGIN CERTIFICATE----- serial=2")
	d.edit(ctx, t, cs, rotated)
	rel := waitReleaseNamed(ctx, t, cs, d.ns, d.release(), "halted at the canary, a retry scheduled", 2*time.Minute, func(rel *v1alpha1.ConfigRelease) bool {
		return rolledBack(d.revision(rotated))(rel) && rel.Status.Halt.NextRetry != nil
	})
	halted := rel.Status.Halt.Time.Time
	t.Logf("halted at %s (%s); retry at %s", rel.Status.Halt.Pod, rel.Status.Halt.Cause, rel.Status.Halt.NextRetry.Format(time.RFC3339))
	require.Equal(t, time.Minute, rel.Status.Halt.NextRetry.Sub(halted), "the first retry waits a minute")
	waitServing(ctx, t, pods, first, time.Now(), time.Minute) // the canary, restarted on stable
	requireServing(ctx, t, pods, first, "no pod serves the rotation while it is halted")
	fault(ctx, t, pods, http.MethodDelete) // the fault outside the config is mended

	// No command: the retry releases it from step 1, to every pod.
	waitServing(ctx, t, pods, rotated, halted, 3*time.Minute)
	rel = waitReleaseNamed(ctx, t, cs, d.ns, d.release(), "complete after the retry", time.Minute, isPhase(v1alpha1.PhaseComplete, d.revision(rotated)))
	require.Equal(t, int32(1), rel.Status.Retries)
	retried := waitEvent(ctx, t, cs, d.ns, d.name, "RolloutRetried", time.Minute)
	require.True(t, strings.Contains(retried, "from step 1"), "the retry's Event: %s", retried)
	t.Logf("%s; every pod serves the rotation %v after the halt", retried, time.Since(halted).Round(time.Second))
}
