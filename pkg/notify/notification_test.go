package notify

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var at = time.Date(2026, 12, 7, 21, 0, 0, 0, time.UTC)

func TestWhatIsSent(t *testing.T) {
	cm := Source{Kind: "ConfigMap", Name: "app"}
	secret := Source{Kind: "Secret", Name: "tls"}
	base := func(k Kind, src Source) Notification {
		return Notification{Kind: k, Time: at, Namespace: "shop", Source: src, Release: "configmap-app",
			Candidate: "0123456789ab", Stable: "ba9876543210"}
	}
	halt := func(src Source) Notification {
		n := base(Halted, src)
		n.Pod, n.Workload, n.Cause = "web-1", "Deployment/web", `nginx -t: unknown directive "s3cr3t"`
		return n
	}
	command := func(src Source) Notification {
		n := base(Command, src)
		n.Command = &CommandInfo{Action: "abort", By: "alice", Reason: "bad cert", Done: true,
			Result: "aborted: every pod goes back to stable revision ba9876543210"}
		return n
	}
	completed := func(src Source) Notification {
		n := base(Completed, src)
		n.Workloads = 2
		return n
	}
	with := func(n Notification, f func(*Notification)) Notification { f(&n); return n }

	cases := []struct {
		name string
		in   Notification
		want Notification
	}{
		{"a ConfigMap's halt names its revisions and the pod's words",
			halt(cm), with(halt(cm), func(n *Notification) {
				n.Message = `the release of revision 0123456789ab halted at pod web-1 of Deployment/web: nginx -t: unknown directive "s3cr3t"; every pod goes back to stable revision ba9876543210`
			})},
		{"a Secret's halt has neither revisions nor the pod's words, and says where to read them",
			halt(secret), with(halt(secret), func(n *Notification) {
				n.Candidate, n.Stable, n.Cause = "", "", ""
				n.Message = "the release of the candidate halted at pod web-1 of Deployment/web: the cause is in the pod's Events; every pod goes back to the stable revision"
			})},
		{"a rollback says which revision runs again",
			base(RolledBack, cm), with(base(RolledBack, cm), func(n *Notification) {
				n.Message = "every pod that can go back runs stable revision ba9876543210 again, instead of revision 0123456789ab"
			})},
		{"a completion says how many workloads run it",
			completed(cm), with(completed(cm), func(n *Notification) {
				n.Message = "Revision 0123456789ab runs on every pod of 2 workloads; it is the stable revision"
			})},
		{"a Secret's completion names no revision",
			completed(secret), with(completed(secret), func(n *Notification) {
				n.Candidate, n.Stable = "", ""
				n.Message = "The candidate runs on every pod of 2 workloads; it is the stable revision"
			})},
		{"a source edited back to stable completes its candidate",
			with(base(Completed, cm), func(n *Notification) { n.Candidate, n.StableAgain = n.Stable, true }),
			with(base(Completed, cm), func(n *Notification) {
				n.Candidate, n.StableAgain = n.Stable, true
				n.Message = "the source holds stable revision ba9876543210 again: every pod goes back to it"
			})},
		{"a command says who, why and what it did",
			command(cm), with(command(cm), func(n *Notification) {
				n.Message = `abort by alice ("bad cert"): aborted: every pod goes back to stable revision ba9876543210`
			})},
		{"a Secret's command withholds the revisions in its result",
			command(secret), with(command(secret), func(n *Notification) {
				n.Candidate, n.Stable = "", ""
				n.Command = &CommandInfo{Action: "abort", By: "alice", Reason: "bad cert", Done: true,
					Result: "aborted: every pod goes back to stable revision (withheld)"}
				n.Message = `abort by alice ("bad cert"): aborted: every pod goes back to stable revision (withheld)`
			})},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, withMessage(Withheld(c.in)))
		})
	}
}

func TestWithheldLeavesTheCallersCommandAlone(t *testing.T) {
	in := Notification{Kind: Command, Source: Source{Kind: "Secret", Name: "tls"},
		Command: &CommandInfo{Result: "revision 0123456789ab starts again from step 1"}}
	Withheld(in)
	assert.Equal(t, "revision 0123456789ab starts again from step 1", in.Command.Result)
}

func TestBodies(t *testing.T) {
	n := withMessage(Notification{Kind: RolledBack, Time: at, Cluster: "prod <eu>", Namespace: "shop",
		Source: Source{Kind: "ConfigMap", Name: "app"}, Release: "configmap-app", Candidate: "0123456789ab", Stable: "ba9876543210"})

	slack, err := slackBody(n)
	require.NoError(t, err)
	assert.JSONEq(t, `{"text":":leftwards_arrow_with_hook: hotreload prod &lt;eu&gt;: ConfigMap shop/app — RolledBack: every pod that can go back runs stable revision ba9876543210 again, instead of revision 0123456789ab"}`, string(slack))

	hook, err := webhookBody(n)
	require.NoError(t, err)
	assert.JSONEq(t, `{"kind":"RolledBack","time":"2026-12-07T21:00:00Z","cluster":"prod <eu>","namespace":"shop",
		"source":{"kind":"ConfigMap","name":"app"},"release":"configmap-app","candidate":"0123456789ab","stable":"ba9876543210",
		"message":"every pod that can go back runs stable revision ba9876543210 again, instead of revision 0123456789ab"}`, string(hook))
}

func TestParseConfig(t *testing.T) {
	const slackURL = "https://hooks.example.com/services/T000/B000/s3cr3tt0k3n"
	cases := []struct {
		name    string
		data    map[string]string
		want    Config // Client aside
		wantErr string
	}{
		{name: "both sinks, every kind",
			data: map[string]string{KeyWebhookURL: " http://receiver.example:8080/hook\n", KeyWebhookAuthorization: "Bearer abc", KeySlackURL: slackURL, KeyCluster: "prod"},
			want: Config{Endpoints: map[Sink]Endpoint{Webhook: {URL: "http://receiver.example:8080/hook", Authorization: "Bearer abc"}, Slack: {URL: slackURL}}, Cluster: "prod"}},
		{name: "some kinds",
			data: map[string]string{KeySlackURL: slackURL, KeyEvents: "Halted, Command,"},
			want: Config{Endpoints: map[Sink]Endpoint{Slack: {URL: slackURL}}, Kinds: []Kind{Halted, Command}}},
		{name: "an unknown kind", data: map[string]string{KeySlackURL: slackURL, KeyEvents: "Halted,Started"},
			wantErr: `key events: "Started" is not one of [Halted RolledBack Completed Command]`},
		{name: "nothing to send to", data: map[string]string{KeyCluster: "prod"},
			wantErr: "neither webhook-url nor slack-url is set: nothing to send to"},
		{name: "a URL of another scheme, not quoted", data: map[string]string{KeySlackURL: "ftp://hooks.example.com/s3cr3tt0k3n"},
			wantErr: "key slack-url: want an http:// or https:// URL"},
		{name: "a URL that does not parse, not quoted", data: map[string]string{KeyWebhookURL: "http://[s3cr3tt0k3n"},
			wantErr: "key webhook-url: not a URL"},
		{name: "a relative URL", data: map[string]string{KeyWebhookURL: "/hook"},
			wantErr: "key webhook-url: want an http:// or https:// URL"},
		{name: "a CA that is no certificate", data: map[string]string{KeyWebhookURL: "https://r.example", KeyCA: "junk"},
			wantErr: "key ca.crt: no PEM certificate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := map[string][]byte{}
			for k, v := range c.data {
				data[k] = []byte(v)
			}
			got, err := ParseConfig(data)
			if c.wantErr != "" {
				require.EqualError(t, err, c.wantErr)
				assert.NotContains(t, err.Error(), "s3cr3tt0k3n")
				return
			}
			require.NoError(t, err)
			require.NotNil(t, got.Client)
			got.Client = nil
			assert.Equal(t, c.want, got)
		})
	}
}

func TestRetryWaits(t *testing.T) {
	r := Retry{First: time.Second, Cap: time.Minute, Attempts: 8}
	var got []time.Duration
	for i := 1; i < r.Attempts; i++ {
		got = append(got, r.wait(i, 0))
	}
	assert.Equal(t, []time.Duration{1 * time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, time.Minute}, got)
	assert.Equal(t, 5*time.Second, r.wait(1, 5*time.Second), "a Retry-After longer than the backoff")
	assert.Equal(t, time.Minute, r.wait(1, time.Hour), "a Retry-After beyond the cap")
}
