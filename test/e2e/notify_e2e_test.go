//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
)

// bridgeIP is the local cluster's bridge address on this machine
// (hack/cluster/lib.sh): pods reach the host there.
const bridgeIP = "10.89.0.1"

// notified is a receiver the test serves on the node for the webhook's pods:
// it keeps each request's path, Authorization and body.
type notified struct {
	mu   sync.Mutex
	got  []notice
	addr string
}

type notice struct {
	path, auth, body string
}

func serveNotifications(t *testing.T) *notified {
	t.Helper()
	l, err := net.Listen("tcp", bridgeIP+":0")
	require.NoError(t, err)
	n := &notified{addr: l.Addr().String()}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		n.mu.Lock()
		n.got = append(n.got, notice{path: r.URL.Path, auth: r.Header.Get("Authorization"), body: string(body)})
		n.mu.Unlock()
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return n
}

// kinds returns the kinds of what path received, in order, and the
// requests.
func (n *notified) kinds(path string) ([]string, []notice) {
	n.mu.Lock()
	defer n.mu.Unlock()
	var kinds []string
	var all []notice
	for _, x := range n.got {
		if x.path != path {
			continue
		}
		var body struct {
			Kind string `json:"kind"`
			Text string `json:"text"`
		}
		_ = json.Unmarshal([]byte(x.body), &body)
		k := body.Kind
		if path == "/slack" {
			k = slackKind(body.Text)
		}
		kinds, all = append(kinds, k), append(all, x)
	}
	return kinds, all
}

// slackKind is the kind a Slack text names ("… — Halted: …").
func slackKind(text string) string {
	_, rest, _ := strings.Cut(text, " — ")
	k, _, _ := strings.Cut(rest, ":")
	return k
}

// waitKinds waits until path received want, in that order.
func (n *notified) waitKinds(t *testing.T, path string, want []string, timeout time.Duration) []notice {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got, all := n.kinds(path)
		if len(got) >= len(want) {
			require.Equal(t, want, got, "what %s received", path)
			return all
		}
		require.True(t, time.Now().Before(deadline), "%s received %v after %v, want %v", path, got, timeout, want)
		time.Sleep(200 * time.Millisecond)
	}
}

// TestReleaseOutcomesAreNotified: the webhook's pods, configured by the
// hotreload-notifications Secret, send a Secret's release outcomes to a
// generic JSON receiver and a Slack-compatible one served on the node: a halt
// and its rollback, an operator's retry with its reason (and the halt and
// rollback it leads to), the fix completing. No notification holds the
// Secret's bytes or a revision of it.
func TestReleaseOutcomesAreNotified(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	cs := clusterClient(t)
	installHotreload(ctx, t, cs)
	rx := serveNotifications(t)
	secrets := cs.CoreV1().Secrets("hotreload-system")
	_ = secrets.Delete(ctx, "hotreload-notifications", metav1.DeleteOptions{})
	_, err := secrets.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "hotreload-notifications"}, StringData: map[string]string{
		"webhook-url": "http://" + rx.addr + "/hook", "webhook-authorization": "Bearer e2e-token",
		"slack-url": "http://" + rx.addr + "/slack", "cluster": "local",
	}}, metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = secrets.Delete(context.Background(), "hotreload-notifications", metav1.DeleteOptions{})
	})

	d := demo{
		name: "notified", replicas: 2, secret: true, subPath: true, inject: true,
		annotations: map[string]string{"hotreload/rollout": "1,100%", "hotreload/rollout-interval": "2s"},
		args:        []string{"--fail-on=broken"},
	}
	good := uniqueConfig("color=green")
	pods := d.start(ctx, t, cs, good)

	bad := uniqueConfig("color=red broken s3cr3t-value")
	d.edit(ctx, t, cs, bad)
	waitReleaseNamed(ctx, t, cs, d.ns, d.release(), "halted and rolled back", 2*time.Minute, rolledBack(d.revision(bad)))
	rx.waitKinds(t, "/hook", []string{"Halted", "RolledBack"}, time.Minute)

	plugin(ctx, t, "retry", "secret/"+d.name, "-n", d.ns, "--reason=try once more")
	rx.waitKinds(t, "/hook", []string{"Halted", "RolledBack", "Command", "Halted", "RolledBack"}, 2*time.Minute)

	fixed := uniqueConfig("color=yellow")
	edited := d.edit(ctx, t, cs, fixed)
	waitServing(ctx, t, pods, fixed, edited, 2*time.Minute)
	waitReleaseNamed(ctx, t, cs, d.ns, d.release(), "the fix completes", time.Minute, isPhase(v1alpha1.PhaseComplete, d.revision(fixed)))
	want := []string{"Halted", "RolledBack", "Command", "Halted", "RolledBack", "Completed"}
	hook := rx.waitKinds(t, "/hook", want, time.Minute)
	slack := rx.waitKinds(t, "/slack", want, time.Minute)

	var retry struct {
		Namespace string `json:"namespace"`
		Source    struct{ Kind, Name string }
		Command   struct {
			Action, By, Reason string
			Done               bool
		}
	}
	require.NoError(t, json.Unmarshal([]byte(hook[2].body), &retry))
	require.Equal(t, d.ns, retry.Namespace)
	require.Equal(t, "Secret", retry.Source.Kind)
	require.Equal(t, "Retry", retry.Command.Action)
	require.Equal(t, "try once more", retry.Command.Reason)
	require.True(t, retry.Command.Done)
	require.NotEmpty(t, retry.Command.By)
	for _, x := range append(hook, slack...) {
		t.Logf("%s: %s", x.path, x.body)
		for _, secret := range []string{"s3cr3t-value", "color=", d.revision(bad), d.revision(good), d.revision(fixed)} {
			require.NotContains(t, x.body, secret, "a notification of a Secret's release")
		}
		if x.path == "/hook" {
			require.Equal(t, "Bearer e2e-token", x.auth)
		}
	}
}
