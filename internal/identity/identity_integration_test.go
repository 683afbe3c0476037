//go:build integration

package identity_test

import (
	"context"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/transport"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/hotreload/hotreload/internal/access"
	"github.com/hotreload/hotreload/internal/identity"
	"github.com/hotreload/hotreload/internal/reloadertoken"
	"github.com/hotreload/hotreload/internal/testenv"
	"github.com/hotreload/hotreload/pkg/contract"
	"github.com/hotreload/hotreload/pkg/mutate"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func applyBase(t *testing.T, env *testenv.Env) {
	t.Helper()
	env.Apply(t, env.Kustomize(t, "../../deploy/base"))
}

func mint(t *testing.T, env *testenv.Env, ns, sa string, pod *corev1.Pod, aud ...string) string {
	t.Helper()
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{Audiences: aud}}
	if pod != nil {
		req.Spec.BoundObjectRef = &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID}
	}
	tr, err := env.Clientset.CoreV1().ServiceAccounts(ns).CreateToken(context.Background(), sa, req, metav1.CreateOptions{})
	require.NoError(t, err)
	return tr.Status.Token
}

func configFor(env *testenv.Env, tok string) *rest.Config {
	cfg := rest.AnonymousClientConfig(env.Config)
	cfg.BearerToken = tok
	return cfg
}

// testImage is the reloader image the tests' pods are injected with.
const testImage = "hotreload/reloader:test"

// pod creates a pod of ServiceAccount app reading ConfigMap app, as the
// webhook admits it when injected, else as it is; change, when not nil,
// alters it before it is created.
func pod(t *testing.T, env *testenv.Env, ns, name string, injected bool, change ...func(*corev1.Pod)) *corev1.Pod {
	t.Helper()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"hotreload/enable": "true"}},
		Spec: corev1.PodSpec{ServiceAccountName: "app", Containers: []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10",
			VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: "/etc/app"}}}},
			Volumes: []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{
				ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "app"}}}}}},
	}
	if injected {
		var err error
		p, _, err = mutate.Mutate(p, mutate.Options{ReloaderImage: testImage, Version: "v1"})
		require.NoError(t, err)
	}
	for _, f := range change {
		f(p)
	}
	require.NoError(t, env.Client.Create(context.Background(), p))
	return p
}

// The sidecar trades its pod's hotreload-audience token, over HTTPS, for a
// reloader token that works on its own pod; the exchange runs with the webhook's
// own RBAC and refuses every other caller.
func TestIntegrationExchangeIssuesATokenPinnedToTheCallersPod(t *testing.T) {
	env := testenv.Get(t)
	applyBase(t, env)
	ctx := context.Background()

	enabled := env.Namespace(t, map[string]string{"hotreload/injection": "enabled"})
	disabled := env.Namespace(t, nil)
	for _, ns := range []string{enabled, disabled} {
		require.NoError(t, env.Client.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns}}))
	}
	require.NoError(t, env.Client.Create(ctx, access.ServiceAccount(enabled)))
	require.NoError(t, env.Client.Create(ctx, access.RoleBinding(enabled)))
	a := pod(t, env, enabled, "a", true)
	plain := pod(t, env, enabled, "plain", false)
	elsewhere := pod(t, env, disabled, "a", true)
	// Pods that say they were injected, and are not as hotreload injects them.
	forged := pod(t, env, enabled, "forged", false, func(p *corev1.Pod) { p.Annotations = map[string]string{"hotreload/injected": "v1"} })
	// (A pod running as hotreload-reloader is refused by the admission policy
	// hotreload-reloader-account before it exists: deploy/.)
	sharing := pod(t, env, enabled, "sharing", true, func(p *corev1.Pod) {
		p.Spec.Containers[0].VolumeMounts = append(p.Spec.Containers[0].VolumeMounts, corev1.VolumeMount{Name: contract.TokenVolume, MountPath: "/stolen"})
	})
	otherImage := pod(t, env, enabled, "other-image", true, func(p *corev1.Pod) { contract.ReloaderContainer(p).Image = "evil/reloader:test" })

	webhookCfg := configFor(env, mint(t, env, "hotreload-system", "hotreload-webhook", nil))
	cs, err := kubernetes.NewForConfig(webhookCfg)
	require.NoError(t, err)
	c, err := client.New(webhookCfg, client.Options{Scheme: scheme.Scheme})
	require.NoError(t, err)
	srv := httptest.NewTLSServer(&identity.Exchanger{Kube: cs, Pods: c, Reader: c, TTL: 10 * time.Minute, ReloaderImage: testImage})
	t.Cleanup(srv.Close)

	source := func(t *testing.T, podToken string) transport.ResettableTokenSource {
		f := filepath.Join(t.TempDir(), "token")
		require.NoError(t, os.WriteFile(f, []byte(podToken), 0o600))
		return reloadertoken.Source(&reloadertoken.Exchange{URL: srv.URL + identity.Path, Client: srv.Client(), PodTokenFile: f})
	}

	t.Run("an injected pod gets a token that patches its own hotreload keys", func(t *testing.T) {
		ts := source(t, mint(t, env, enabled, "app", a, identity.Audience))
		tok, err := ts.Token()
		require.NoError(t, err)
		id, err := identity.CredentialID(tok.AccessToken)
		require.NoError(t, err)
		got := podNow(t, env, a)
		want := maps.Clone(a.Annotations) // as the webhook made it: injected, and its warnings
		want[identity.CredentialAnnotation] = id
		require.Equal(t, want, got.Annotations)

		again, err := ts.Token()
		require.NoError(t, err)
		require.Equal(t, tok.AccessToken, again.AccessToken, "the token is cached until it is due")

		reloader, err := client.New(reloadertoken.Config(env.Config, ts), client.Options{Scheme: scheme.Scheme})
		require.NoError(t, err)
		patch := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"hotreload/applied":"0123456789ab"}}}`))
		require.Eventually(t, func() bool {
			// Wait, with dry runs, until the API server enforces the policy.
			return apierrors.IsForbidden(reloader.Patch(ctx, plain.DeepCopy(), patch, client.DryRunAll))
		}, 30*time.Second, 200*time.Millisecond, "the admission policy takes effect")
		require.NoError(t, reloader.Patch(ctx, a.DeepCopy(), patch))
		got = podNow(t, env, a)
		require.Equal(t, map[string]string{"hotreload/enable": "true", "hotreload/applied": "0123456789ab"}, got.Labels)

		err = reloader.Patch(ctx, plain.DeepCopy(), patch)
		require.EqualError(t, err, `pods "plain" is forbidden: ValidatingAdmissionPolicy 'hotreload-reloader' with binding 'hotreload-reloader' denied request: hotreload-reloader may patch only the pod its token was issued for`)
	})

	for _, tc := range []struct {
		name, token, want string
	}{
		{"a token for the API server is refused", mint(t, env, enabled, "app", a),
			"401 Unauthorized: the token is not a valid token with audience hotreload"},
		{"a token not bound to a pod is refused", mint(t, env, enabled, "app", nil, identity.Audience),
			"403 Forbidden: the token is not bound to a pod"},
		{"a pod that was not injected is refused", mint(t, env, enabled, "app", plain, identity.Audience),
			"403 Forbidden: pod " + enabled + "/plain was not injected by hotreload"},
		{"a pod of a namespace that is not enabled is refused", mint(t, env, disabled, "app", elsewhere, identity.Audience),
			"403 Forbidden: namespace " + disabled + " is not enabled for hotreload (no ServiceAccount hotreload-reloader)"},
		{"a pod that only says it was injected is refused", mint(t, env, enabled, "app", forged, identity.Audience),
			"403 Forbidden: pod " + enabled + "/forged is not as hotreload injects it: it has no hotreload-reloader container"},
		{"a pod whose app mounts the sidecar's token is refused", mint(t, env, enabled, "app", sharing, identity.Audience),
			"403 Forbidden: pod " + enabled + "/sharing is not as hotreload injects it: container app mounts the hotreload token of volume hotreload-token"},
		{"a pod whose reloader runs another image is refused", mint(t, env, enabled, "app", otherImage, identity.Audience),
			"403 Forbidden: pod " + enabled + `/other-image is not as hotreload injects it: container hotreload-reloader runs image "evil/reloader:test", not one of hotreload/reloader`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := source(t, tc.token).Token()
			require.Nil(t, tok)
			require.EqualError(t, err, "exchanging the pod token at "+srv.URL+identity.Path+": "+tc.want)
		})
	}
}

// What a caller makes the exchange spend is bounded: a pod token presented
// again gets the same reloader token at no cost to the API server (unless
// the caller says "Cache-Control: no-cache"); a pod
// gets PodBurst fresh tokens, then 429; a caller gets CallerBurst reviews,
// then 429, whatever it sends.
func TestIntegrationExchangeLimitsWhatACallerCosts(t *testing.T) {
	env, ns, a, cs, c := enabledWithPod(t)
	srv := httptest.NewTLSServer(&identity.Exchanger{Kube: cs, Pods: c, Reader: c, TTL: 10 * time.Minute,
		Limits: identity.Limits{CallerEvery: time.Hour, CallerBurst: 3, PodEvery: time.Hour, PodBurst: 2}})
	t.Cleanup(srv.Close)
	exchange := func(podToken string) (int, string) { return post(t, srv, podToken) }
	credentials := func() string { return podNow(t, env, a).Annotations[identity.CredentialAnnotation] }

	first := mint(t, env, ns, "app", a, identity.Audience)
	code, body := exchange(first)
	require.Equal(t, http.StatusOK, code, body)
	pinned := credentials()
	again, againBody := exchange(first)
	assert.Equal(t, []any{http.StatusOK, body}, []any{again, againBody}, "the same pod token gets the same reloader token")
	assert.Equal(t, pinned, credentials(), "and no new one was issued")

	fresh, freshBody := post(t, srv, first, "no-cache")
	require.Equal(t, http.StatusOK, fresh, freshBody)
	assert.NotEqual(t, body, freshBody, "a caller whose token was refused asks past the cache, and gets a new one")
	assert.NotEqual(t, pinned, credentials())
	code, body = exchange(mint(t, env, ns, "app", a, identity.Audience))
	assert.Equal(t, []any{http.StatusTooManyRequests, "too many token exchanges for pod " + ns + "/a; try again later"}, []any{code, body},
		"that exchange counted for the pod")
	code, body = exchange("junk")
	assert.Equal(t, []any{http.StatusTooManyRequests, "too many token exchanges from 127.0.0.1; try again later"}, []any{code, body})
	code, _ = exchange(first)
	assert.Equal(t, http.StatusOK, code, "a token seen before still costs nothing")
}

// A bearer token larger than MaxTokenSize is refused before any TokenReview:
// no service account token is that large, and the API server would parse
// whatever it is sent. One of exactly MaxTokenSize is reviewed.
func TestIntegrationTheExchangeRefusesAnOversizedTokenUnreviewed(t *testing.T) {
	env, _, _, _, c := enabledWithPod(t)
	var reviews testenv.TokenReviews
	cs, err := kubernetes.NewForConfig(reviews.Wrap(configFor(env, mint(t, env, "hotreload-system", "hotreload-webhook", nil))))
	require.NoError(t, err)
	srv := httptest.NewTLSServer(&identity.Exchanger{Kube: cs, Pods: c, Reader: c, ReloaderImage: testImage})
	t.Cleanup(srv.Close)
	type answer struct {
		Code         int
		Body         string
		ReviewsSoFar int
	}
	exchange := func(size int) answer {
		code, body := post(t, srv, strings.Repeat("x", size))
		return answer{code, body, reviews.Count()}
	}
	assert.Equal(t, []answer{
		{http.StatusUnauthorized, "the token is not a valid token with audience hotreload", 1},
		{http.StatusRequestHeaderFieldsTooLarge, "the bearer token is larger than 8 KiB, as no service account token is: refused without review", 1},
	}, []answer{exchange(identity.MaxTokenSize), exchange(identity.MaxTokenSize + 1)})
}

// A sidecar whose reloader token the API server refuses gets a new one at
// its next request, although its pod token is the one the exchange has seen:
// the account the token belonged to was replaced, and handing the refused
// token back would leave the sidecar unable to report until its pod token
// rotates.
func TestIntegrationASidecarWhoseTokenWasRefusedGetsANewOne(t *testing.T) {
	env, ns, a, cs, c := enabledWithPod(t)
	ctx := context.Background()
	srv := httptest.NewTLSServer(&identity.Exchanger{Kube: cs, Pods: c, Reader: c, TTL: 10 * time.Minute, ReloaderImage: testImage})
	t.Cleanup(srv.Close)
	f := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(f, []byte(mint(t, env, ns, "app", a, identity.Audience)), 0o600))
	ts := reloadertoken.Source(&reloadertoken.Exchange{URL: srv.URL + identity.Path, Client: srv.Client(), PodTokenFile: f})
	reloader, err := client.New(reloadertoken.Config(env.Config, ts), client.Options{Scheme: scheme.Scheme})
	require.NoError(t, err)
	report := func(rev string) error {
		return reloader.Patch(ctx, a.DeepCopy(), client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"hotreload/applied":"`+rev+`"}}}`)))
	}
	credentials := func() []string {
		return strings.Split(podNow(t, env, a).Annotations[identity.CredentialAnnotation], ",")
	}

	require.NoError(t, report("0123456789ab"))
	first := credentials()
	require.Len(t, first, 1)

	require.NoError(t, env.Client.Delete(ctx, access.ServiceAccount(ns)))
	require.NoError(t, env.Client.Create(ctx, access.ServiceAccount(ns)))
	// The API server keeps a token it authenticated for a few seconds.
	require.Eventually(t, func() bool { return apierrors.IsUnauthorized(report("0123456789ab")) },
		30*time.Second, 200*time.Millisecond, "the old account's token is refused")

	require.NoError(t, report("ba9876543210"), "the next report trades the pod token again, for a token of the new account")
	now := credentials()
	assert.Equal(t, []string{now[0], first[0]}, now, "a new credential, pinned first")
	assert.NotEqual(t, first[0], now[0])
	assert.Equal(t, "ba9876543210", podNow(t, env, a).Labels["hotreload/applied"])
}

// The exchange reads and patches pods straight from the API server: it runs
// on every replica, and through the manager's cache each would keep every
// pod of the cluster. An Exchanger of a manager whose cache never started
// (a cached read would wait for it) exchanges at once.
func TestIntegrationTheExchangeReadsNoPodThroughACache(t *testing.T) {
	env, ns, a, _, _ := enabledWithPod(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	mgr, err := manager.New(configFor(env, mint(t, env, "hotreload-system", "hotreload-webhook", nil)),
		manager.Options{Scheme: scheme.Scheme, Metrics: metricsserver.Options{BindAddress: "0"}})
	require.NoError(t, err)
	x, err := identity.New(mgr, identity.Options{ReloaderImage: testImage})
	require.NoError(t, err)
	st, err := x.Exchange(ctx, mint(t, env, ns, "app", a, identity.Audience))
	require.NoError(t, err)
	id, err := identity.CredentialID(st.Token)
	require.NoError(t, err)
	assert.Equal(t, id, podNow(t, env, a).Annotations[identity.CredentialAnnotation])
}

// The exchange issues no token while the policy that confines reloader tokens
// to their pods is not in force: its binding missing, or not denying.
func TestIntegrationNoTokenWhileTheReloaderPolicyIsNotInForce(t *testing.T) {
	env, ns, a, cs, c := enabledWithPod(t)
	ctx := context.Background()
	clock := time.Now()
	srv := httptest.NewTLSServer(&identity.Exchanger{Kube: cs, Pods: c, Reader: c, TTL: 10 * time.Minute, ReloaderImage: testImage,
		Now: func() time.Time { clock = clock.Add(time.Minute); return clock }}) // every look is a new one
	t.Cleanup(srv.Close)
	exchange := func() (int, string) { return post(t, srv, mint(t, env, ns, "app", a, identity.Audience)) }
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{}
	require.NoError(t, env.Client.Get(ctx, client.ObjectKey{Name: identity.ReloaderPolicy}, binding))
	original := binding.DeepCopy()
	t.Cleanup(func() {
		_ = env.Client.Delete(ctx, &admissionregistrationv1.ValidatingAdmissionPolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: identity.ReloaderPolicy}})
		restored := original.DeepCopy()
		restored.ResourceVersion, restored.UID = "", ""
		_ = env.Client.Create(ctx, restored)
	})
	const refused = "the admission policy hotreload-reloader is not in force: no reloader token is issued"

	code, body := exchange()
	require.Equal(t, http.StatusOK, code, body)

	binding.Spec.ValidationActions = []admissionregistrationv1.ValidationAction{admissionregistrationv1.Warn}
	require.NoError(t, env.Client.Update(ctx, binding))
	code, body = exchange()
	assert.Equal(t, []any{http.StatusServiceUnavailable, refused}, []any{code, body}, "a binding that only warns")

	require.NoError(t, env.Client.Delete(ctx, binding))
	code, body = exchange()
	assert.Equal(t, []any{http.StatusServiceUnavailable, refused}, []any{code, body}, "no binding")

	restored := original.DeepCopy()
	restored.ResourceVersion, restored.UID = "", ""
	require.NoError(t, env.Client.Create(ctx, restored))
	code, body = exchange()
	assert.Equal(t, http.StatusOK, code, body)
}

// enabledWithPod applies deploy/base and makes an enabled namespace with the
// reloader's objects, an app account and an injected pod a of it; it returns
// them with clients acting as the webhook's own ServiceAccount.
func enabledWithPod(t *testing.T) (*testenv.Env, string, *corev1.Pod, kubernetes.Interface, client.Client) {
	t.Helper()
	env := testenv.Get(t)
	applyBase(t, env)
	ctx := context.Background()
	ns := env.Namespace(t, map[string]string{"hotreload/injection": "enabled"})
	require.NoError(t, env.Client.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns}}))
	require.NoError(t, env.Client.Create(ctx, access.ServiceAccount(ns)))
	require.NoError(t, env.Client.Create(ctx, access.RoleBinding(ns)))
	a := pod(t, env, ns, "a", true)
	webhookCfg := configFor(env, mint(t, env, "hotreload-system", "hotreload-webhook", nil))
	cs, err := kubernetes.NewForConfig(webhookCfg)
	require.NoError(t, err)
	c, err := client.New(webhookCfg, client.Options{Scheme: scheme.Scheme})
	require.NoError(t, err)
	return env, ns, a, cs, c
}

// podNow reads pod p as the API server has it now.
func podNow(t *testing.T, env *testenv.Env, p *corev1.Pod) *corev1.Pod {
	t.Helper()
	got := &corev1.Pod{}
	require.NoError(t, env.Client.Get(context.Background(), client.ObjectKeyFromObject(p), got))
	return got
}

// post sends podToken to the exchange srv, with the Cache-Control header
// cacheControl when given, and returns its status and answer.
func post(t *testing.T, srv *httptest.Server, podToken string, cacheControl ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+identity.Path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+podToken)
	for _, v := range cacheControl {
		req.Header.Add("Cache-Control", v)
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, strings.TrimSpace(string(b))
}
