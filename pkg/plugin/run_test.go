package plugin

import (
	"bytes"
	"context"
	"errors"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/internal/version"
	"github.com/hotreload/hotreload/pkg/contract"
	"github.com/hotreload/hotreload/pkg/revision"
)

// runApp runs the plugin with a connection made by connect, and returns its
// exit code, stdout and stderr.
func runApp(t *testing.T, connect func(*genericclioptions.ConfigFlags) (*session, error), args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	a := &app{IOStreams: genericiooptions.IOStreams{In: strings.NewReader(""), Out: &stdout, ErrOut: &stderr}, connect: connect, now: func() time.Time { return now }}
	code := a.run(context.Background(), args)
	return code, stdout.String(), stderr.String()
}

// offline is a connection a test does not expect the plugin to make.
func offline(t *testing.T) func(*genericclioptions.ConfigFlags) (*session, error) {
	return func(*genericclioptions.ConfigFlags) (*session, error) {
		t.Error("the plugin connected for a command line it should have refused")
		return nil, errors.New("offline")
	}
}

// cluster is a connection to a fake API holding objs, in namespace shop.
// Only the plugin's reads are tested this way; its writes go to a real API
// server in the integration tests.
func cluster(t *testing.T, objs ...client.Object) func(*genericclioptions.ConfigFlags) (*session, error) {
	s := runtime.NewScheme()
	require.NoError(t, clientgoscheme.AddToScheme(s))
	require.NoError(t, v1alpha1.AddToScheme(s))
	c := fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).WithStatusSubresource(&v1alpha1.ConfigRelease{}).Build()
	return func(k *genericclioptions.ConfigFlags) (*session, error) {
		ns := "shop"
		if *k.Namespace != "" {
			ns = *k.Namespace
		}
		return &session{client: c, namespace: ns, whoAmI: func(context.Context) (string, error) {
			t.Error("the plugin asked who the user is for a command it should have refused")
			return "", errors.New("offline")
		}}, nil
	}
}

func TestRunRefusesABadCommandLine(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"prints the help on stderr and fails without a command", nil, 2, "", "Usage:\n  kubectl hotreload COMMAND [SOURCE] [flags]\n"},
		{"prints the help on stderr and fails with only connection flags", []string{"-n", "shop"}, 2, "", "Usage:\n  kubectl hotreload COMMAND [SOURCE] [flags]\n"},
		{"rejects an unknown command in one line", []string{"rollback", "cm/app"}, 2, "", "error: unknown command \"rollback\": run 'kubectl hotreload --help' for the commands\n"},
		{"suggests the command a typo meant", []string{"stauts", "cm/app"}, 2, "", "error: unknown command \"stauts\" (did you mean status?): run 'kubectl hotreload --help' for the commands\n"},
		{"rejects a SOURCE that is not a ConfigMap or Secret", []string{"promote", "pod/web-1"}, 2, "",
			"error: \"pod/web-1\" is not a source: name it configmap/NAME (or cm/NAME) or secret/NAME\n"},
		{"rejects a SOURCE without a name", []string{"history", "configmap/"}, 2, "", "is not a source"},
		{"rejects a status target that is neither", []string{"status", "job/x/y"}, 2, "", "is neither a source (configmap/NAME, secret/NAME) nor a workload"},
		{"rejects a command without its SOURCE", []string{"abort"}, 2, "", "error: abort takes one SOURCE (configmap/NAME or secret/NAME), not 0 arguments\n"},
		{"rejects an unknown flag", []string{"pause", "cm/app", "--full"}, 2, "", "error: unknown flag: --full (see 'kubectl hotreload pause --help')\n"},
		{"rejects a connection flag it does not take", []string{"status", "--cache-dir", "/tmp"}, 2, "", "error: unknown flag: --cache-dir (see 'kubectl hotreload status --help')\n"},
		{"rejects a flag's bad value", []string{"promote", "cm/app", "--wait", "soon"}, 2, "",
			"error: invalid argument \"soon\" for \"--wait\" flag: time: invalid duration \"soon\" (see 'kubectl hotreload promote --help')\n"},
		{"rejects a flag without its value", []string{"status", "-n"}, 2, "", "error: flag needs an argument: 'n' in -n (see 'kubectl hotreload status --help')\n"},
		{"rejects arguments a command does not take", []string{"options", "all"}, 2, "", "error: unknown command \"all\" for \"kubectl hotreload options\" (see 'kubectl hotreload options --help')\n"},
		{"rejects an output format it does not print", []string{"status", "-o", "wide"}, 2, "", "error: -o wide: print json or yaml\n"},
		{"rejects -A with a SOURCE", []string{"status", "-A", "cm/app"}, 2, "", "-A lists the releases of every namespace"},
		{"rejects -w with -o", []string{"status", "cm/app", "-w", "-o", "json"}, 2, "", "-w redraws the status; it does not take -o"},
		{"rejects a negative wait", []string{"promote", "cm/app", "--wait=-1s"}, 2, "", "--wait -1s: give a duration of 0 or more"},
		{"rejects a negative wait for undo", []string{"undo", "cm/app", "--yes", "--wait=-1s"}, 2, "", "error: --wait -1s: give a duration of 0 or more\n"},
		{"asks for --yes when it cannot ask to confirm", []string{"undo", "secret/tls"}, 2, "", "error: undo writes into secret/tls: confirm with --yes\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runApp(t, offline(t), tt.args...)
			assert.Equal(t, tt.code, code)
			assert.Contains(t, stdout, tt.stdout)
			assert.Contains(t, stderr, tt.stderr)
			if tt.code == 2 {
				assert.Empty(t, stdout)
			}
			if tt.code == 2 && strings.HasPrefix(tt.stderr, "error: ") {
				assert.Equal(t, tt.stderr, stderr, "a usage error is one line, printed once")
			}
		})
	}
}

func TestRunPrintsTheHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		code, stdout, stderr := runApp(t, offline(t), args...)
		assert.Equal(t, 0, code)
		assert.Empty(t, stderr)
		golden(t, "help_root", stdout)
	}
	// without a command, the same help is a usage error
	code, stdout, stderr := runApp(t, offline(t))
	assert.Equal(t, 2, code)
	assert.Empty(t, stdout)
	golden(t, "help_root", stderr)

	var a app
	for _, c := range a.rootCommand().Commands() {
		t.Run(c.Name(), func(t *testing.T) {
			code, stdout, stderr := runApp(t, offline(t), c.Name(), "--help")
			assert.Equal(t, 0, code)
			assert.Empty(t, stderr)
			assert.Contains(t, stdout, "\nUsage:\n  kubectl hotreload "+c.Use+"\n", stdout)
			assert.Contains(t, stdout, "\nConnection flags (-n, --context, --kubeconfig, ...): kubectl hotreload options\n")
		})
	}
	_, stdout, _ = runApp(t, offline(t), "status", "--help")
	golden(t, "help_status", stdout)
	_, stdout, _ = runApp(t, offline(t), "promote", "-h")
	golden(t, "help_promote", stdout)
	_, stdout, _ = runApp(t, offline(t), "help", "promote")
	golden(t, "help_promote", stdout)
}

func TestRunOptionsListsTheConnectionFlags(t *testing.T) {
	code, stdout, _ := runApp(t, offline(t), "options")
	assert.Equal(t, 0, code)
	for _, f := range []string{"--kubeconfig", "-n, --namespace", "--context", "--cluster", "--user", "--server", "--token"} {
		assert.Contains(t, stdout, f)
	}
}

func TestRunVersionPrintsTheReleaseAndPlatformWithoutConnecting(t *testing.T) {
	defer func(v string) { version.Version = v }(version.Version)
	version.Version = "v0.3.0"
	code, stdout, stderr := runApp(t, offline(t), "version")
	assert.Equal(t, 0, code)
	assert.Empty(t, stderr)
	assert.Equal(t, "kubectl-hotreload v0.3.0 "+goruntime.GOOS+"/"+goruntime.GOARCH+"\n", stdout)
}

func TestRunSaysWhenASourceHasNoRelease(t *testing.T) {
	for _, args := range [][]string{{"status", "configmap/x"}, {"promote", "cm/x"}, {"history", "configmap/x"}, {"diff", "configmap/x"}} {
		t.Run(args[0], func(t *testing.T) {
			code, stdout, stderr := runApp(t, cluster(t), append(args, "-n", "y")...)
			assert.Equal(t, 1, code)
			assert.Empty(t, stdout)
			assert.Equal(t, "error: no release for configmap/x in namespace y: no injected pod reloads it yet (is the pod labelled hotreload/enable=true in a namespace labelled hotreload/injection=enabled?)\n", stderr)
		})
	}
}

func TestRunRefusesACommandTheReleaseDoesNotAllow(t *testing.T) {
	rel := newRelease(appConfig, v1alpha1.ConfigReleaseStatus{Phase: v1alpha1.PhaseComplete, Stable: stableRev, Candidate: stableRev})
	code, _, stderr := runApp(t, cluster(t, rel), "retry", "configmap/app-config")
	assert.Equal(t, 1, code)
	assert.Equal(t, "error: Retry of configmap/app-config does not apply: the release is Complete, not Halted (kubectl hotreload status configmap/app-config -n shop)\n", stderr)
}

func TestRunStatusOfAWorkloadShowsEveryReleaseItConsumes(t *testing.T) {
	app := newRelease(appConfig, v1alpha1.ConfigReleaseStatus{Phase: v1alpha1.PhaseComplete, Stable: stableRev, Candidate: stableRev,
		Workloads: []v1alpha1.WorkloadStatus{{Kind: "Deployment", Name: "web", Step: 1, Steps: 1, Pods: 1, Released: 1, Applied: 1, Ready: 1, Complete: true}}})
	tls := newRelease(source{Kind: v1alpha1.SourceSecret, Name: "tls"}, v1alpha1.ConfigReleaseStatus{Phase: v1alpha1.PhaseProgressing, Stable: olderRev, Candidate: candidateRev,
		Workloads: []v1alpha1.WorkloadStatus{{Kind: "Deployment", Name: "web", Step: 0, Steps: 2, Pods: 1}}})
	other := newRelease(source{Kind: v1alpha1.SourceConfigMap, Name: "other"}, v1alpha1.ConfigReleaseStatus{Phase: v1alpha1.PhaseComplete,
		Workloads: []v1alpha1.WorkloadStatus{{Kind: "Deployment", Name: "api"}}})
	pod := newPod("web-7d9f8c6b5-a1").of("ReplicaSet", "web-7d9f8c6b5").runs("r").
		alsoMounting("tls", corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "tls"}}).build()
	rs := &appsv1.ReplicaSet{ObjectMeta: replicaSet("web-7d9f8c6b5", "web").ObjectMeta}

	code, stdout, stderr := runApp(t, cluster(t, app, tls, other, &pod, rs), "status", "deployment/web")
	require.Equal(t, 0, code, stderr)
	golden(t, "status_workload", stdout)

	code, _, stderr = runApp(t, cluster(t, app), "status", "statefulset/db")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "error: no release lists StatefulSet/db in namespace shop")
}

func TestRunHistoryReadsWhichRevisionsAreKept(t *testing.T) {
	rel := newRelease(appConfig, v1alpha1.ConfigReleaseStatus{Phase: v1alpha1.PhaseComplete, Stable: stableRev, Candidate: stableRev,
		History: []v1alpha1.RevisionRecord{
			{Revision: stableRev, Outcome: v1alpha1.OutcomeCompleted, Seen: before(time.Hour), Size: 2048},
			{Revision: olderRev, Outcome: v1alpha1.OutcomeStable, Seen: before(2 * time.Hour), Size: 1024},
		}})
	kept := keptConfigMap(stableRev, map[string]string{"a": "1"})
	// an object of the right name that hotreload did not make is not a kept revision
	impostor := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: contract.RevisionName("app-config", olderRev), Namespace: "shop"}}

	code, stdout, stderr := runApp(t, cluster(t, rel, kept, impostor), "history", "cm/app-config")
	require.Equal(t, 0, code, stderr)
	golden(t, "history_run", stdout)
}

func TestRunDiffReadsTheKeptRevisions(t *testing.T) {
	info, debug := map[string]string{"app.yaml": "level: info\nport: 80\n"}, map[string]string{"app.yaml": "level: debug\nport: 80\n"}
	stable, cand := dataRevision(info), dataRevision(debug)
	rel := newRelease(appConfig, v1alpha1.ConfigReleaseStatus{Phase: v1alpha1.PhaseProgressing, Stable: stable, Candidate: cand})
	objs := []client.Object{rel, keptConfigMap(stable, info), keptConfigMap(cand, debug)}

	code, stdout, stderr := runApp(t, cluster(t, objs...), "diff", "configmap/app-config")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "configmap/app-config: revision "+stable+" (stable) → "+cand+" (candidate)\n\nchanged key app.yaml:\n"+
		"--- a/app.yaml@"+stable+"\n+++ b/app.yaml@"+cand+"\n@@ -1,2 +1,2 @@\n-level: info\n+level: debug\n port: 80\n", stdout)

	code, _, stderr = runApp(t, cluster(t, objs...), "diff", "configmap/app-config", "--revision", olderRev)
	assert.Equal(t, 1, code)
	assert.Equal(t, "error: revision c4ca4238a0b9 of configmap/app-config is not kept (hotreload keeps the last 5 revisions, and none over 256 KiB but stable and candidate); see kubectl hotreload history configmap/app-config\n", stderr)

	// A kept object whose content is not its revision's (someone changed
	// it, labels and all) is not shown.
	forged := keptConfigMap(cand, map[string]string{"app.yaml": "level: forged\n"})
	code, stdout, stderr = runApp(t, cluster(t, rel, keptConfigMap(stable, info), forged), "diff", "configmap/app-config")
	assert.Equal(t, 1, code)
	assert.Empty(t, stdout)
	assert.Equal(t, "error: ConfigMap shop/"+forged.Name+" does not hold revision "+cand+" (it was changed outside hotreload): it is not used; hotreload's controller restores it from verified content\n", stderr)
}

// TestRunUndoWritesNothingFromAForgedRevision: undo to a revision whose
// kept object holds something else writes nothing into the source.
func TestRunUndoWritesNothingFromAForgedRevision(t *testing.T) {
	good, bad := map[string]string{"app.yaml": "v: 1\n"}, map[string]string{"app.yaml": "v: 2\n"}
	stable, cand := dataRevision(good), dataRevision(bad)
	rel := newRelease(appConfig, v1alpha1.ConfigReleaseStatus{Phase: v1alpha1.PhaseHalted, Stable: stable, Candidate: cand})
	src := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "app-config", Namespace: "shop"}, Data: bad}
	forged := keptConfigMap(stable, map[string]string{"app.yaml": "v: forged\n"})
	connect := cluster(t, rel, src, forged)

	code, stdout, stderr := runApp(t, connect, "undo", "cm/app-config", "--yes")
	assert.Equal(t, 1, code)
	assert.Empty(t, stdout)
	assert.Equal(t, "error: ConfigMap shop/"+forged.Name+" does not hold revision "+stable+" (it was changed outside hotreload): it is not used; hotreload's controller restores it from verified content\n", stderr)
	sess, err := connect(genericclioptions.NewConfigFlags(false))
	require.NoError(t, err)
	var after corev1.ConfigMap
	require.NoError(t, sess.client.Get(context.Background(), client.ObjectKey{Namespace: "shop", Name: "app-config"}, &after))
	assert.Equal(t, bad, after.Data, "the source is untouched")
}

// dataRevision is the revision of a ConfigMap holding data.
func dataRevision(data map[string]string) string {
	return revision.Files(revision.ConfigMapKeys(&corev1.ConfigMap{Data: data})).Revision()
}

// keptConfigMap is the object that keeps revision rev of configmap/app-config.
func keptConfigMap(rev string, data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: contract.RevisionName("app-config", rev), Namespace: "shop", Labels: map[string]string{
		contract.ManagedByLabel: contract.ManagedBy, contract.SourceLabel: contract.SourceDigest("ConfigMap", "app-config"),
		contract.RoleLabel: contract.RoleRevision, contract.RevisionLabel: rev,
	}}, Data: data}
}

// Any kind that owns pods is a workload status takes, written as kubectl
// writes kinds (singular or plural, any case): an Argo Rollout, a Kruise
// CloneSet, an operator's object.
func TestRunStatusTakesAnyWorkloadKind(t *testing.T) {
	app := newRelease(appConfig, v1alpha1.ConfigReleaseStatus{Phase: v1alpha1.PhaseComplete, Stable: stableRev, Candidate: stableRev,
		Workloads: []v1alpha1.WorkloadStatus{{Kind: "Rollout", Name: "web", Step: 1, Steps: 1, Pods: 1, Released: 1, Applied: 1, Ready: 1, Complete: true}}})
	pod := newPod("web-abc12").of("Rollout", "web").runs("r").build()
	for _, arg := range []string{"rollout/web", "Rollout/web", "rollouts/web"} {
		t.Run(arg, func(t *testing.T) {
			code, stdout, stderr := runApp(t, cluster(t, app, &pod), "status", arg)
			require.Equal(t, 0, code, stderr)
			assert.Contains(t, stdout, "Rollout/web")
			assert.Contains(t, stdout, "web-abc12")
		})
	}
	code, _, stderr := runApp(t, cluster(t, app), "status", "clonesets/web")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "error: no release lists clonesets/web in namespace shop")
	code, _, stderr = runApp(t, cluster(t, app), "status", "roll-out/web")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, `"roll-out/web" is neither a source`)
}
