//go:build integration

package deploy_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/internal/testenv"
	"github.com/hotreload/hotreload/internal/webhook"
	"github.com/hotreload/hotreload/pkg/release"
)

// The webhook reads hotreload/ignore of the Secrets and ConfigMaps a pod
// mounts with its own rights and no more
// (docs/design/2026-12-07-ignore-and-on-halt.md): a Secret's in an enabled
// namespace, where the controller's binding lets it get Secrets; none in a
// namespace not enabled, which it says in a warning, taking the Secret as not
// ignored; a ConfigMap's anywhere.
func TestIntegrationTheWebhookReadsTheAnnotationsOfSecretsOfEnabledNamespacesOnly(t *testing.T) {
	env := testenv.Get(t)
	w := newWorld(t, env)
	plain := env.Namespace(t, nil)
	ctx := ctxFor(t)
	ignored := map[string]string{"hotreload/ignore": "true", "other.example.com/note": "kept out"}
	for _, ns := range []string{w.ns, plain} {
		meta := metav1.ObjectMeta{Name: "tls", Namespace: ns, Annotations: ignored}
		require.NoError(t, env.Client.Create(ctx, &corev1.Secret{ObjectMeta: meta, Data: map[string][]byte{"tls.key": []byte("secret")}}))
		meta.Name = "flags"
		require.NoError(t, env.Client.Create(ctx, &corev1.ConfigMap{ObjectMeta: meta}))
	}
	asWebhook, _ := as(t, env, token(t, env, "hotreload-system", "hotreload-webhook", nil))
	tls, flags := release.Source{Kind: v1alpha1.SourceSecret, Name: "tls"}, release.Source{Kind: v1alpha1.SourceConfigMap, Name: "flags"}
	absent := release.Source{Kind: v1alpha1.SourceSecret, Name: "not-yet"}
	want := map[string]string{"hotreload/ignore": "true"}

	got, warnings := webhook.NewSourceReader(asWebhook).Annotations(ctx, w.ns, []release.Source{tls, flags, absent})
	assert.Equal(t, map[release.Source]map[string]string{tls: want, flags: want, absent: {}}, got, "an enabled namespace")
	assert.Empty(t, warnings)

	got, warnings = webhook.NewSourceReader(asWebhook).Annotations(ctx, plain, []release.Source{tls, flags})
	assert.Equal(t, map[release.Source]map[string]string{flags: want}, got, "a namespace not enabled")
	assert.Equal(t, []string{fmt.Sprintf(`hotreload: could not read Secret "tls" for its hotreload/ignore annotation `+
		`(secrets "tls" is forbidden: User "system:serviceaccount:hotreload-system:hotreload-webhook" cannot get resource "secrets" in API group "" in the namespace %q); `+
		`taking it as not ignored`, plain)}, warnings)
}
