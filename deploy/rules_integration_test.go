//go:build integration

package deploy_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hotreload/hotreload/internal/access"
	"github.com/hotreload/hotreload/internal/testenv"
)

// rules lists what `kubectl auth can-i --list -n namespace` shows for a token, one
// "verbs groups resources names" line per rule, sorted.
func rules(t *testing.T, env *testenv.Env, tok, namespace string) []string {
	t.Helper()
	_, cs := as(t, env, tok)
	r, err := cs.AuthorizationV1().SelfSubjectRulesReviews().Create(ctxFor(t), &authorizationv1.SelfSubjectRulesReview{
		Spec: authorizationv1.SelfSubjectRulesReviewSpec{Namespace: namespace},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	require.False(t, r.Status.Incomplete, r.Status.EvaluationError)
	var out []string
	for _, rr := range r.Status.ResourceRules {
		out = append(out, fmt.Sprintf("%s %s %s %s", strings.Join(rr.Verbs, ","), strings.Join(rr.APIGroups, ","),
			strings.Join(rr.Resources, ","), strings.Join(rr.ResourceNames, ",")))
	}
	for _, nr := range r.Status.NonResourceRules {
		out = append(out, fmt.Sprintf("%s %s", strings.Join(nr.Verbs, ","), strings.Join(nr.NonResourceURLs, ",")))
	}
	slices.Sort(out)
	return out
}

// What every authenticated user may do (the API server's default bindings of
// system:basic-user, system:discovery, system:public-info-viewer and the
// ClusterTrustBundle reader).
var everyone = []string{
	"get,list,watch certificates.k8s.io clustertrustbundles ",
	"create authentication.k8s.io selfsubjectreviews ",
	"create authorization.k8s.io selfsubjectaccessreviews,selfsubjectrulesreviews ",
	"get /.well-known/openid-configuration,/.well-known/openid-configuration/,/openid/v1/jwks,/openid/v1/jwks/",
	"get /api,/api/*,/apis,/apis/*,/healthz,/livez,/openapi,/openapi/*,/readyz,/version,/version/",
	"get /healthz,/livez,/readyz,/version,/version/",
}

func with(extra ...string) []string {
	out := append(slices.Clone(everyone), extra...)
	slices.Sort(out)
	return out
}

// Each identity has exactly the rights documented in deploy/base and
// docs/design/2026-11-24-reloader-identity.md.
func TestIntegrationRightsMatchTheDocumentedOnes(t *testing.T) {
	env := testenv.Get(t)
	w := newWorld(t, env)
	webhook := token(t, env, "hotreload-system", "hotreload-webhook", nil)
	reloader := token(t, env, w.ns, access.ReloaderName, nil)

	webhookClusterWide := []string{
		"get,list,watch,patch  pods ",
		"get,list,watch  configmaps ",
		"create,update,delete  configmaps ",
		"get,list,watch,create,patch,delete hotreload.dev configreleases ",
		"update hotreload.dev configreleases/status ",
		"list,watch apps replicasets ",
		"create ,events.k8s.io events ",
		"get,list,watch  namespaces ",
		"create  serviceaccounts ",
		"get,delete,patch  serviceaccounts hotreload-reloader",
		"create  serviceaccounts/token hotreload-reloader",
		"create authentication.k8s.io tokenreviews ",
		"create authorization.k8s.io subjectaccessreviews ",
		"get admissionregistration.k8s.io validatingadmissionpolicies,validatingadmissionpolicybindings hotreload-reloader",
		"create rbac.authorization.k8s.io rolebindings ",
		"get,delete,patch rbac.authorization.k8s.io rolebindings hotreload-reloader,hotreload-controller",
		"bind rbac.authorization.k8s.io clusterroles hotreload-reloader,hotreload-controller-namespace",
	}
	t.Run("the webhook in an enabled namespace also reads its Secrets and keeps copies of them, evicts pods and reads their workloads' update strategies", func(t *testing.T) {
		require.Equal(t, with(append(webhookClusterWide, "get,list,watch,create,update,delete  secrets ", "create  pods/eviction ",
			"get apps deployments,statefulsets,daemonsets ")...), rules(t, env, webhook, w.ns))
	})
	t.Run("the webhook in a namespace not enabled reads no Secret", func(t *testing.T) {
		require.Equal(t, with(webhookClusterWide...), rules(t, env, webhook, env.Namespace(t, nil)))
	})
	t.Run("the webhook in its own namespace also holds its leader election lease, and reads only the notifications Secret", func(t *testing.T) {
		require.Equal(t, with(append(webhookClusterWide, "get,create,update coordination.k8s.io leases ", "get  secrets hotreload-notifications")...), rules(t, env, webhook, "hotreload-system"))
	})
	t.Run("the reloader in its namespace", func(t *testing.T) {
		require.Equal(t, with(
			"get,list,watch,patch  pods ",
			"create ,events.k8s.io events ",
		), rules(t, env, reloader, w.ns))
	})
	t.Run("the reloader of one namespace in another", func(t *testing.T) {
		other := env.Namespace(t, map[string]string{"hotreload/injection": "enabled"})
		require.Equal(t, with(), rules(t, env, reloader, other))
	})
}
