package plugin

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
)

// TestRunCompletes: what `kubectl hotreload ... <TAB>` offers, as cobra's
// __complete prints it (kubectl_complete-hotreload runs it for kubectl):
// one completion a line, then the directive.
func TestRunCompletes(t *testing.T) {
	appRel := newRelease(appConfig, v1alpha1.ConfigReleaseStatus{Phase: v1alpha1.PhaseProgressing, Stable: stableRev, Candidate: candidateRev,
		Workloads: []v1alpha1.WorkloadStatus{{Kind: "Deployment", Name: "web"}, {Kind: "Pod"}},
		History: []v1alpha1.RevisionRecord{
			{Revision: candidateRev, Outcome: v1alpha1.OutcomeProgressing, Seen: before(time.Minute)},
			{Revision: stableRev, Outcome: v1alpha1.OutcomeStable, Seen: before(time.Hour)},
			{Revision: olderRev, Outcome: v1alpha1.OutcomeHalted, Seen: before(2 * time.Hour)},
		}})
	tls := newRelease(source{Kind: v1alpha1.SourceSecret, Name: "tls"}, v1alpha1.ConfigReleaseStatus{Phase: v1alpha1.PhaseComplete,
		Workloads: []v1alpha1.WorkloadStatus{{Kind: "Deployment", Name: "web"}, {Kind: "StatefulSet", Name: "db"}}})
	elsewhere := newRelease(source{Kind: v1alpha1.SourceConfigMap, Name: "proxy"}, v1alpha1.ConfigReleaseStatus{})
	elsewhere.Namespace = "edge"
	hostile := newRelease(source{Kind: v1alpha1.SourceConfigMap, Name: "x\x1b[2J"}, v1alpha1.ConfigReleaseStatus{})
	hostile.Name = "configmap-hostile"
	namespaces := []*corev1.Namespace{{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, {ObjectMeta: metav1.ObjectMeta{Name: "edge"}}}
	connect := cluster(t, appRel, tls, elsewhere, hostile, namespaces[0], namespaces[1])
	kubeconfig := writeKubeconfig(t, twoContexts)

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"a SOURCE: the sources of the namespace's releases", []string{"promote", ""}, "configmap/app-config\nsecret/tls\n:4\n"},
		{"a SOURCE that is begun", []string{"undo", "sec"}, "secret/tls\n:4\n"},
		{"a SOURCE of the namespace of -n", []string{"-n", "edge", "pause", ""}, "configmap/proxy\n:4\n"},
		{"nothing after the SOURCE", []string{"abort", "cm/app-config", ""}, ":4\n"},
		{"status: the sources and the workloads they list", []string{"status", ""}, "configmap/app-config\ndeployment/web\nsecret/tls\nstatefulset/db\n:4\n"},
		{"status: what is not given yet", []string{"status", "secret/tls", "deployment/web", ""}, "configmap/app-config\nstatefulset/db\n:4\n"},
		{"a revision of the SOURCE, newest first", []string{"diff", "cm/app-config", "--revision", ""},
			candidateRev + "\tcandidate\n" + stableRev + "\tstable\n" + olderRev + "\tHalted\n:36\n"},
		{"a revision that is begun", []string{"undo", "configmap/app-config", "--to-revision", "c4"}, olderRev + "\tHalted\n:36\n"},
		{"no revision without a SOURCE", []string{"diff", "--against", ""}, ":4\n"},
		{"no revision of a source without a release", []string{"diff", "cm/gone", "--against", ""}, ":4\n"},
		{"an output format", []string{"history", "cm/app-config", "-o", ""}, "json\nyaml\n:4\n"},
		{"a namespace", []string{"status", "-n", ""}, "edge\nshop\n:4\n"},
		{"a context of the kubeconfig", []string{"status", "--kubeconfig", kubeconfig, "--context", ""}, "dev\nprod\n:4\n"},
		{"a user of the kubeconfig", []string{"--kubeconfig", kubeconfig, "--user", "p"}, "prod-admin\n:4\n"},
		{"a command", []string{"re"}, "resume\tlet a paused release go on\nretry\trelease a halted candidate again from step 1\n:4\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runApp(t, connect, append([]string{"__complete"}, tt.args...)...)
			require.Equal(t, 0, code, stderr)
			assert.Equal(t, tt.want, stdout)
		})
	}

	t.Run("nothing when it cannot connect", func(t *testing.T) {
		code, stdout, stderr := runApp(t, offlineQuietly, "__complete", "promote", "")
		assert.Equal(t, 0, code)
		assert.Equal(t, ":4\n", stdout)
		assert.Equal(t, "Completion ended with directive: ShellCompDirectiveNoFileComp\n", stderr)
	})
}

func TestRunCompletionPrintsAShellScript(t *testing.T) {
	for shell, first := range map[string]string{
		"bash":       "# bash completion V2 for kubectl-hotreload ",
		"zsh":        "#compdef kubectl-hotreload\n",
		"fish":       "# fish completion for kubectl-hotreload ",
		"powershell": "# powershell completion for kubectl-hotreload ",
	} {
		t.Run(shell, func(t *testing.T) {
			code, stdout, stderr := runApp(t, offline(t), "completion", shell)
			require.Equal(t, 0, code, stderr)
			assert.Empty(t, stderr)
			assert.True(t, strings.HasPrefix(stdout, first), "starts with %q", first)
			assert.True(t, strings.Contains(stdout, " __complete "), "asks the plugin's __complete")
		})
	}
	_, stdout, _ := runApp(t, offline(t), "completion", "bash")
	assert.True(t, strings.Contains(stdout, "\n    complete -o default -F __start_kubectl-hotreload kubectl-hotreload\n"), "completes kubectl-hotreload")
}

// offlineQuietly is a connection that fails, as one to an unreachable
// cluster does.
func offlineQuietly(*genericclioptions.ConfigFlags) (*session, error) {
	return nil, errors.New("offline")
}
