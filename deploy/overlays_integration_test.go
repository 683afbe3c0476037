//go:build integration

package deploy_test

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hotreload/hotreload/internal/testenv"
	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/contract"
)

// certManagerCRDs are the CRDs the default overlay needs, vendored from the
// cert-manager module at v1.21.2 (deploy/crds of
// github.com/cert-manager/cert-manager@v1.21.2).
const certManagerCRDs = "testdata/cert-manager-v1.21.2"

// The objects of deploy/base, as `kind namespace/name`.
var baseObjects = []string{
	"ClusterRole /hotreload-controller-namespace",
	"ClusterRole /hotreload-metrics-reader",
	"ClusterRole /hotreload-release-operator",
	"ClusterRole /hotreload-release-viewer",
	"ClusterRole /hotreload-reloader",
	"ClusterRole /hotreload-webhook",
	"ClusterRoleBinding /hotreload-webhook",
	"CustomResourceDefinition /configreleases.hotreload.dev",
	"Deployment hotreload-system/hotreload-webhook",
	"MutatingWebhookConfiguration /hotreload",
	"Namespace /hotreload-system",
	"NetworkPolicy hotreload-system/hotreload-webhook",
	"PodDisruptionBudget hotreload-system/hotreload-webhook",
	"Role hotreload-system/hotreload-leader-election",
	"Role hotreload-system/hotreload-notifications",
	"RoleBinding hotreload-system/hotreload-leader-election",
	"RoleBinding hotreload-system/hotreload-notifications",
	"Service hotreload-system/hotreload-webhook",
	"ServiceAccount hotreload-system/hotreload-webhook",
	"ValidatingAdmissionPolicy /hotreload-controller",
	"ValidatingAdmissionPolicy /hotreload-controller-access",
	"ValidatingAdmissionPolicy /hotreload-controller-pods",
	"ValidatingAdmissionPolicy /hotreload-kept-copies",
	"ValidatingAdmissionPolicy /hotreload-release-commands",
	"ValidatingAdmissionPolicy /hotreload-reloader",
	"ValidatingAdmissionPolicy /hotreload-reloader-account",
	"ValidatingAdmissionPolicyBinding /hotreload-controller",
	"ValidatingAdmissionPolicyBinding /hotreload-controller-access",
	"ValidatingAdmissionPolicyBinding /hotreload-controller-pods",
	"ValidatingAdmissionPolicyBinding /hotreload-kept-copies",
	"ValidatingAdmissionPolicyBinding /hotreload-release-commands",
	"ValidatingAdmissionPolicyBinding /hotreload-reloader",
	"ValidatingAdmissionPolicyBinding /hotreload-reloader-account",
}

func mwc(t *testing.T, env *testenv.Env) *admissionregistrationv1.MutatingWebhookConfiguration {
	t.Helper()
	m := &admissionregistrationv1.MutatingWebhookConfiguration{}
	require.NoError(t, env.Client.Get(ctxFor(t), client.ObjectKey{Name: "hotreload"}, m))
	return m
}

func TestIntegrationEveryOverlayAppliesToAFreshAPIServer(t *testing.T) {
	env := testenv.Get(t)
	tree := copyTree(t, ".")

	t.Run("base", func(t *testing.T) {
		objs := env.Kustomize(t, filepath.Join(tree, "base"))
		require.Equal(t, baseObjects, env.Apply(t, objs))
		require.Equal(t, webhookNetworkPolicy(), networkPolicyOf(t, objs))
		w := mwc(t, env).Webhooks
		require.Len(t, w, 1)
		require.Equal(t, "/mutate-pods", *w[0].ClientConfig.Service.Path, "a service path starts with a slash")
		assertExchangeReachesOnlyEnabledNamespaces(t, env)
	})

	t.Run("selfsigned, with the files of certs/", func(t *testing.T) {
		out := filepath.Join(tree, "selfsigned", "certs")
		cmd := exec.Command("go", "run", "../certs", "--out", out)
		cmd.Stderr = os.Stderr
		require.NoError(t, cmd.Run())
		objs := env.Kustomize(t, filepath.Join(tree, "selfsigned"))
		require.Equal(t, sorted(append([]string{"Secret hotreload-system/hotreload-webhook-tls"}, baseObjects...)), env.Apply(t, objs))
		require.Equal(t, webhookNetworkPolicy(), networkPolicyOf(t, objs))

		ca, err := os.ReadFile(filepath.Join(out, "ca.crt"))
		require.NoError(t, err)
		require.Equal(t, ca, mwc(t, env).Webhooks[0].ClientConfig.CABundle, "the CA bundle is the generated CA")
		s := &corev1.Secret{}
		require.NoError(t, env.Client.Get(ctxFor(t), client.ObjectKey{Namespace: "hotreload-system", Name: "hotreload-webhook-tls"}, s))
		require.Equal(t, corev1.SecretTypeTLS, s.Type)
		for _, f := range []string{"tls.crt", "tls.key", "ca.crt"} {
			want, err := os.ReadFile(filepath.Join(out, f))
			require.NoError(t, err)
			require.Equal(t, string(want), string(s.Data[f]), f)
		}
	})

	t.Run("default, after cert-manager's CRDs", func(t *testing.T) {
		var crds []*unstructured.Unstructured
		for _, f := range []string{"cert-manager.io_certificates.yaml", "cert-manager.io_issuers.yaml"} {
			data, err := os.ReadFile(filepath.Join(certManagerCRDs, f))
			require.NoError(t, err)
			crds = append(crds, testenv.Decode(t, data)...)
		}
		require.Equal(t, []string{
			"CustomResourceDefinition /certificates.cert-manager.io",
			"CustomResourceDefinition /issuers.cert-manager.io",
		}, env.Apply(t, crds))

		objs := env.Kustomize(t, filepath.Join(tree, "default"))
		require.Equal(t, sorted(append([]string{
			"Certificate hotreload-system/hotreload-ca",
			"Certificate hotreload-system/hotreload-webhook",
			"Issuer hotreload-system/hotreload-ca",
			"Issuer hotreload-system/hotreload-selfsigned",
		}, baseObjects...)), env.Apply(t, objs))
		require.Equal(t, webhookNetworkPolicy(), networkPolicyOf(t, objs))
		require.Equal(t, "hotreload-system/hotreload-webhook", mwc(t, env).Annotations["cert-manager.io/inject-ca-from"])

		cert := &unstructured.Unstructured{}
		cert.SetAPIVersion("cert-manager.io/v1")
		cert.SetKind("Certificate")
		require.NoError(t, env.Client.Get(ctxFor(t), client.ObjectKey{Namespace: "hotreload-system", Name: "hotreload-webhook"}, cert))
		names, _, _ := unstructured.NestedStringSlice(cert.Object, "spec", "dnsNames")
		require.Equal(t, []string{"hotreload-webhook.hotreload-system.svc", "hotreload-webhook.hotreload-system.svc.cluster.local"}, names)
	})
}

// The shipped webhook configuration sends opted-in pods of enabled namespaces to a
// Service that does not answer here: with failurePolicy Ignore they are created
// all the same; the same configuration with Fail shows the pod did reach it.
func TestIntegrationPodsAreCreatedWhileTheWebhookIsDown(t *testing.T) {
	env := testenv.Get(t)
	installBase(t, env)
	ctx := ctxFor(t)
	ns := env.Namespace(t, map[string]string{"hotreload/injection": "enabled"})
	optedIn := map[string]string{"hotreload/enable": "true"}

	shipped := mwc(t, env)
	require.Equal(t, admissionregistrationv1.Ignore, *shipped.Webhooks[0].FailurePolicy)
	pod := newPod("web", "", optedIn, nil)
	pod.Namespace = ns
	require.NoError(t, env.Client.Create(ctx, pod), "created despite the webhook being down")
	require.Equal(t, "web", pod.Name)

	strict := shipped.DeepCopy()
	strict.ObjectMeta = metav1.ObjectMeta{Name: "hotreload-strict"}
	fail := admissionregistrationv1.Fail
	strict.Webhooks[0].FailurePolicy = &fail
	require.NoError(t, env.Client.Create(ctx, strict))
	t.Cleanup(func() { _ = env.Client.Delete(ctx, strict) })
	var err error
	require.Eventually(t, func() bool {
		p := newPod("", "", optedIn, nil)
		p.GenerateName, p.Namespace = "probe-", ns
		err = env.Client.Create(ctx, p, client.DryRunAll)
		return err != nil
	}, 30*time.Second, 200*time.Millisecond, "with failurePolicy Fail the same pod is refused: it does reach the webhook")
	require.Contains(t, err.Error(), `failed calling webhook "pods.hotreload.dev"`)

	other := env.Namespace(t, nil)
	p := newPod("web", "", optedIn, nil)
	p.Namespace = other
	require.NoError(t, env.Client.Create(ctx, p, client.DryRunAll), "a namespace that is not enabled never reaches the webhook")
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	slices.Sort(out)
	return out
}

// assertExchangeReachesOnlyEnabledNamespaces checks that the sidecars' default
// exchange URL is the Service's exchange port, and that port leads to the
// container's --exchange-port, the one webhookNetworkPolicy opens to enabled
// namespaces only.
func assertExchangeReachesOnlyEnabledNamespaces(t *testing.T, env *testenv.Env) {
	t.Helper()
	ctx := ctxFor(t)
	u, err := url.Parse(contract.DefaultExchangeURL)
	require.NoError(t, err)
	svc := &corev1.Service{}
	require.NoError(t, env.Client.Get(ctx, client.ObjectKey{Namespace: "hotreload-system", Name: "hotreload-webhook"}, svc))
	var target string
	for _, p := range svc.Spec.Ports {
		if strconv.Itoa(int(p.Port)) == u.Port() {
			target = p.TargetPort.StrVal
		}
	}
	require.Equal(t, "exchange", target, "the default exchange URL %s names the Service's exchange port", u)
	d := &appsv1.Deployment{}
	require.NoError(t, env.Client.Get(ctx, client.ObjectKey{Namespace: "hotreload-system", Name: "hotreload-webhook"}, d))
	c := d.Spec.Template.Spec.Containers[0]
	var port int32
	for _, p := range c.Ports {
		if p.Name == target {
			port = p.ContainerPort
		}
	}
	require.Equal(t, int32(exchangePort), port)
	require.Contains(t, c.Args, fmt.Sprintf("--exchange-port=%d", port))
}

// exchangePort is the container port of the token exchange.
const exchangePort = 9444

// webhookNetworkPolicy is the NetworkPolicy every overlay renders: the
// admission port open to any address (the API server's, which no selector can
// name), the token exchange's port to pods of enabled namespaces only, the
// metrics port (authenticated by the API server) to any; nothing else.
func webhookNetworkPolicy() *networkingv1.NetworkPolicy {
	tcp := corev1.ProtocolTCP
	at := func(p int) []networkingv1.NetworkPolicyPort {
		return []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: ptr.To(intstr.FromInt(p))}}
	}
	return &networkingv1.NetworkPolicy{
		TypeMeta: metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: "hotreload-webhook", Namespace: "hotreload-system",
			Labels: map[string]string{"app.kubernetes.io/part-of": "hotreload"}},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": "hotreload-webhook"}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{
				{Ports: at(9443)},
				{Ports: at(exchangePort), From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{
					MatchLabels: map[string]string{annotations.InjectionLabel: annotations.InjectionEnabled}}}}},
				{Ports: at(8443)},
			},
		},
	}
}

// networkPolicyOf returns the one NetworkPolicy of objs.
func networkPolicyOf(t *testing.T, objs []*unstructured.Unstructured) *networkingv1.NetworkPolicy {
	t.Helper()
	var found []*networkingv1.NetworkPolicy
	for _, o := range objs {
		if o.GetKind() == "NetworkPolicy" {
			np := &networkingv1.NetworkPolicy{}
			require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, np))
			found = append(found, np)
		}
	}
	require.Len(t, found, 1)
	return found[0]
}
