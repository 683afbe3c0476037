package plugin

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/revision"
)

func TestRenderHistory(t *testing.T) {
	rel := newRelease(appConfig, v1alpha1.ConfigReleaseStatus{
		Phase: v1alpha1.PhaseHalted, Stable: stableRev, Candidate: candidateRev,
		History: []v1alpha1.RevisionRecord{
			{Revision: candidateRev, Outcome: v1alpha1.OutcomeHalted, Seen: before(10 * time.Minute), Ended: beforePtr(4 * time.Minute),
				Cause: "pod web-7d9f8c6b5-b2: reload failed", Reached: []string{"Deployment/web 2 of 3", "StatefulSet/db 1 of 2"}, Size: 1300},
			{Revision: "aaaaaaaaaaaa", Outcome: v1alpha1.OutcomeSuperseded, Seen: before(30 * time.Minute), Ended: beforePtr(10 * time.Minute),
				Reached: []string{"Deployment/web 1 of 3"}, Size: 1290},
			{Revision: stableRev, Outcome: v1alpha1.OutcomeCompleted, Seen: before(50 * time.Hour), Ended: beforePtr(49 * time.Hour),
				Reached: []string{"Deployment/web 3 of 3"}, Size: 1250},
			{Revision: "bbbbbbbbbbbb", Outcome: v1alpha1.OutcomeCompleted, Seen: before(10 * 24 * time.Hour), Ended: beforePtr(10 * 24 * time.Hour),
				Size: 300 * 1024},
			{Revision: stableRev, Outcome: v1alpha1.OutcomeStable, Seen: before(20 * 24 * time.Hour), Ended: beforePtr(20 * 24 * time.Hour)},
		},
	})
	kept := map[string]bool{candidateRev: true, stableRev: true, "aaaaaaaaaaaa": true}

	golden(t, "history", render(func(w *strings.Builder) { renderHistory(w, rel, kept, now) }))
	golden(t, "history_kept_unknown", render(func(w *strings.Builder) { renderHistory(w, rel, nil, now) }))
}

func TestRenderDiffOfAConfigMap(t *testing.T) {
	old := content{
		Data: map[string]string{
			"nginx.conf":  "worker_processes 2;\nevents {}\nhttp {\n  server {\n    listen 8080;\n    root /srv;\n    gzip on;\n  }\n}\n",
			"legacy.conf": "include old.d/*;\n",
			"motd":        "hello",
			"same.conf":   "unchanged\n",
		},
		Binary: map[string][]byte{"logo.png": {0x89, 'P', 'N', 'G'}},
	}
	cand := content{
		Data: map[string]string{
			"nginx.conf": "worker_processes 4;\nevents {}\nhttp {\n  server {\n    listen 8080;\n    root /srv;\n    gzip off;\n  }\n}\n",
			"extra.conf": "client_max_body_size 8m;\n",
			"motd":       "hello\n",
			"same.conf":  "unchanged\n",
		},
		Binary: map[string][]byte{"logo.png": {0x89, 'P', 'N', 'G', 0}},
	}
	got := render(func(w *strings.Builder) {
		renderDiff(w, appConfig, revisionSide{Rev: stableRev, Role: "stable", Content: old}, revisionSide{Rev: candidateRev, Role: "candidate", Content: cand}, false)
	})
	golden(t, "diff_configmap", got)
}

func TestRenderDiffOfASecretShowsNoValueNorItsDigest(t *testing.T) {
	values := map[string][]string{
		"tls.key":  {"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n", "-----BEGIN PRIVATE KEY-----\nMIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgw\n-----END PRIVATE KEY-----\n"},
		"password": {"correct-horse-battery-staple", ""},
		"token":    {"", "ghp_s3cr3tT0k3nV4lu3"},
		"same":     {"unchanged-secret-value", "unchanged-secret-value"},
	}
	old, cand := content{Binary: map[string][]byte{}}, content{Binary: map[string][]byte{}}
	for k, v := range values {
		if v[0] != "" {
			old.Binary[k] = []byte(v[0])
		}
		if v[1] != "" {
			cand.Binary[k] = []byte(v[1])
		}
	}
	tls := source{Kind: v1alpha1.SourceSecret, Name: "tls"}
	for _, colour := range []bool{false, true} {
		got := render(func(w *strings.Builder) {
			renderDiff(w, tls, revisionSide{Rev: stableRev, Role: "stable", Content: old}, revisionSide{Rev: candidateRev, Role: "candidate", Content: cand}, colour)
		})
		if !colour {
			golden(t, "diff_secret", got)
		}
		for _, pair := range values {
			for _, v := range pair {
				if v == "" {
					continue
				}
				sum := sha256.Sum256([]byte(v))
				for _, leak := range []string{v, hex.EncodeToString(sum[:]), revision.DigestOf([]byte(v)).Short(),
					base64.StdEncoding.EncodeToString([]byte(v))} {
					assert.NotContains(t, got, leak, "a Secret's value or its digest in the diff")
				}
				for _, line := range strings.Split(v, "\n") {
					if len(line) > 8 {
						assert.NotContains(t, got, line, "a line of a Secret's value in the diff")
					}
				}
			}
		}
	}
}

func TestDiffSides(t *testing.T) {
	inFlight := v1alpha1.ConfigReleaseStatus{Stable: stableRev, Candidate: candidateRev}
	complete := v1alpha1.ConfigReleaseStatus{Stable: stableRev, Candidate: stableRev}
	tests := []struct {
		name               string
		st                 v1alpha1.ConfigReleaseStatus
		rev, against       string
		wantOld, wantNew   string
		wantMessageContain string
	}{
		{name: "compares stable with the candidate", st: inFlight, wantOld: stableRev, wantNew: candidateRev},
		{name: "compares a revision with the candidate", st: inFlight, rev: olderRev, wantOld: olderRev, wantNew: candidateRev},
		{name: "compares a revision with another", st: inFlight, rev: olderRev, against: stableRev, wantOld: olderRev, wantNew: stableRev},
		{name: "compares an older revision with stable when there is no candidate", st: complete, rev: olderRev, wantOld: olderRev, wantNew: stableRev},
		{name: "says there is no candidate", st: complete, wantMessageContain: "no candidate: stable revision " + stableRev + " is the source's content"},
		{name: "says both sides are the same", st: inFlight, rev: candidateRev, wantMessageContain: "no difference"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, n, msg := diffSides(tt.st, tt.rev, tt.against)
			assert.Equal(t, tt.wantOld, o)
			assert.Equal(t, tt.wantNew, n)
			if tt.wantMessageContain == "" {
				assert.Empty(t, msg)
			} else {
				assert.Contains(t, msg, tt.wantMessageContain)
			}
		})
	}
}

func TestUndoTarget(t *testing.T) {
	rec := func(rev string, o v1alpha1.Outcome) v1alpha1.RevisionRecord {
		return v1alpha1.RevisionRecord{Revision: rev, Outcome: o}
	}
	tests := []struct {
		name    string
		st      v1alpha1.ConfigReleaseStatus
		to      string
		want    string
		wantErr string
	}{
		{name: "takes the revision asked for", to: olderRev, want: olderRev,
			st: v1alpha1.ConfigReleaseStatus{Stable: stableRev, Candidate: candidateRev}},
		{name: "takes stable while a candidate is in flight",
			st:   v1alpha1.ConfigReleaseStatus{Stable: stableRev, Candidate: candidateRev, History: []v1alpha1.RevisionRecord{rec(candidateRev, v1alpha1.OutcomeProgressing), rec(stableRev, v1alpha1.OutcomeCompleted)}},
			want: stableRev},
		{name: "takes stable when the candidate halted",
			st:   v1alpha1.ConfigReleaseStatus{Stable: stableRev, Candidate: candidateRev, History: []v1alpha1.RevisionRecord{rec(candidateRev, v1alpha1.OutcomeHalted), rec(stableRev, v1alpha1.OutcomeStable)}},
			want: stableRev},
		{name: "takes the newest revision before stable that completed",
			st: v1alpha1.ConfigReleaseStatus{Stable: stableRev, Candidate: stableRev, History: []v1alpha1.RevisionRecord{
				rec(stableRev, v1alpha1.OutcomeCompleted), rec("aaaaaaaaaaaa", v1alpha1.OutcomeHalted), rec("bbbbbbbbbbbb", v1alpha1.OutcomeAborted),
				rec("cccccccccccc", v1alpha1.OutcomeSuperseded), rec(olderRev, v1alpha1.OutcomeCompleted), rec("dddddddddddd", v1alpha1.OutcomeCompleted)}},
			want: olderRev},
		{name: "takes the first revision, stable without a release",
			st: v1alpha1.ConfigReleaseStatus{Stable: stableRev, Candidate: stableRev, History: []v1alpha1.RevisionRecord{
				rec(stableRev, v1alpha1.OutcomeCompleted), rec(olderRev, v1alpha1.OutcomeStable)}},
			want: olderRev},
		{name: "skips earlier records of the stable revision itself (a revert)",
			st: v1alpha1.ConfigReleaseStatus{Stable: stableRev, Candidate: stableRev, History: []v1alpha1.RevisionRecord{
				rec(stableRev, v1alpha1.OutcomeCompleted), rec(olderRev, v1alpha1.OutcomeCompleted), rec(stableRev, v1alpha1.OutcomeStable)}},
			want: olderRev},
		{name: "fails when nothing before stable completed",
			st: v1alpha1.ConfigReleaseStatus{Stable: stableRev, Candidate: stableRev, History: []v1alpha1.RevisionRecord{
				rec(stableRev, v1alpha1.OutcomeCompleted), rec(olderRev, v1alpha1.OutcomeHalted)}},
			wantErr: "no revision before stable revision " + stableRev + " completed; name one with --to-revision"},
		{name: "fails for a source seen once",
			st:      v1alpha1.ConfigReleaseStatus{Stable: stableRev, Candidate: stableRev, History: []v1alpha1.RevisionRecord{rec(stableRev, v1alpha1.OutcomeStable)}},
			wantErr: "no revision before stable revision"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := undoTarget(tt.st, tt.to)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestManagedBy(t *testing.T) {
	tests := []struct {
		name string
		meta metav1.ObjectMeta
		want string
	}{
		{"finds Argo CD's field manager", metav1.ObjectMeta{ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl-edit"}, {Manager: "argocd-application-controller"}}}, "argocd"},
		{"finds Flux's kustomize-controller", metav1.ObjectMeta{ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kustomize-controller"}}}, "flux"},
		{"finds a manager named flux-something", metav1.ObjectMeta{ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "flux-client-side-apply"}}}, "flux"},
		{"finds Argo CD's instance label", metav1.ObjectMeta{Labels: map[string]string{"argocd.argoproj.io/instance": "shop"}}, "argocd"},
		{"finds Helm's chart label", metav1.ObjectMeta{Labels: map[string]string{"helm.sh/chart": "shop-1.2.0"}}, "helm"},
		{"names the managed-by label's manager", metav1.ObjectMeta{Labels: map[string]string{"app.kubernetes.io/managed-by": "Helm"}}, "Helm"},
		{"finds Flux's annotation", metav1.ObjectMeta{Annotations: map[string]string{"kustomize.toolkit.fluxcd.io/name": "apps"}}, "flux"},
		{"leaves a source edited with kubectl alone", metav1.ObjectMeta{ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl-client-side-apply"}, {Manager: "kubectl-edit"}}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, managedBy(&tt.meta))
		})
	}
}
