package contract

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/hotreload/hotreload/pkg/annotations"
)

func fullRun() Run {
	return Run{
		Version:     Version,
		Sources:     Sources{SrcDir: SrcDir, StableDir: StableDir, LiveDir: LiveDir, Volumes: []string{"config", "tls"}},
		Containers:  []string{"app", "exporter"},
		Delivery:    Delivery{Signal: "SIGUSR1", Process: "nginx: master"},
		WaitRelease: true,
		HealthAddr:  ":9441",
		ExchangeURL: DefaultExchangeURL,
		Timing:      DefaultTiming,
	}
}

func TestRunArgsParseBackToTheSameValue(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Run)
	}{
		{"a signal, a process and a release gate", func(*Run) {}},
		{"a URL instead of a signal", func(r *Run) { r.Delivery = Delivery{URL: "http://LOCALHOST:9090/-/reload"} }},
		{"no delivery", func(r *Run) { r.Delivery = Delivery{Signal: annotations.SignalNone} }},
		{"volumes of several parts", func(r *Run) {
			r.Parts = map[string][]PartKind{"config": {PartConfig, PartDownward, PartConfig}}
		}},
		{"timings other than the defaults", func(r *Run) {
			r.Timing = Timing{VerifyTimeout: time.Second, Resync: 2 * time.Second, Grace: 50 * time.Millisecond, Retries: 7, ConfirmTimeout: 3 * time.Second}
		}},
		{"workers confirm a signal", func(r *Run) { r.Delivery.Confirm = annotations.Confirmation{Mode: annotations.ConfirmWorkers} }},
		{"a metric, with spaces, confirms a URL", func(r *Run) {
			r.Delivery = Delivery{URL: "http://127.0.0.1:9090/-/reload", Confirm: annotations.Confirmation{
				Mode: annotations.ConfirmMetric, URL: "http://127.0.0.1:9090/metrics", Metric: "prometheus_config_last_reload_successful", Value: "1"}}
		}},
		{"validators", func(r *Run) {
			r.Validation = Validation{Containers: []string{"app", "exporter"}, SocketDir: ValidateDir, StagedDir: StagedDir, CandidateDir: CandidateDir}
		}},
		{"validators, elsewhere", func(r *Run) {
			r.Validation = Validation{Containers: []string{"app"}, SocketDir: "/v", StagedDir: "/s", CandidateDir: "/c"}
		}},
		{"a process regexp with commas and dashes", func(r *Run) { r.Delivery.Process = "--signal a,b" }},
		{"development settings", func(r *Run) { r.Kubeconfig, r.PodName, r.PodNamespace = "/k", "web", "shop" }},
		{"each container told its own way", func(r *Run) {
			r.Deliveries = map[string]Delivery{"exporter": {Signal: "SIGUSR2", Process: "exporter --a,b=c"}}
		}},
		{"a URL and a metric for one container, a signal for the other", func(r *Run) {
			r.Deliveries = map[string]Delivery{"exporter": {URL: "http://127.0.0.1:9090/-/reload?a=b,c", Confirm: annotations.Confirmation{
				Mode: annotations.ConfirmMetric, URL: "http://127.0.0.1:9090/metrics", Metric: "up", Value: "1"}}}
		}},
		{"a signal for one container, a URL for the other", func(r *Run) {
			r.Delivery = Delivery{URL: "http://127.0.0.1:9090/-/reload"}
			r.Deliveries = map[string]Delivery{"exporter": {Signal: "SIGHUP", Confirm: annotations.Confirmation{Mode: annotations.ConfirmWorkers}}}
		}},
		{"a container without the process and confirmation of the other", func(r *Run) {
			r.Delivery.Confirm = annotations.Confirmation{Mode: annotations.ConfirmWorkers}
			r.Deliveries = map[string]Delivery{"exporter": {Signal: "SIGUSR1"}}
		}},
		{"a container told alike, named all the same", func(r *Run) { r.Deliveries = map[string]Delivery{"exporter": r.Delivery} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := fullRun()
			tc.edit(&want)
			args := want.Args()
			require.Equal(t, "run", args[0])
			got, warnings, err := ParseRun(args[1:])
			require.NoError(t, err)
			assert.Empty(t, warnings)
			assert.Equal(t, want, got)
		})
	}
}

func TestRunArgsOfTheWebhookReadAsBefore(t *testing.T) {
	r := fullRun()
	r.Parts = map[string][]PartKind{"tls": {PartConfig, PartDownward}}
	assert.Equal(t, []string{"run", "--contract", "3",
		"--src-dir", SrcDir, "--stable-dir", StableDir, "--live-dir", LiveDir, "--volume", "config", "--volume", "tls",
		"--part", "tls=config", "--part", "tls=downward",
		"--container", "app", "--container", "exporter", "--signal", "SIGUSR1", "--process", "nginx: master",
		"--health-addr", ":9441", "--exchange-url", DefaultExchangeURL}, r.Args())
	r.Delivery.Confirm = annotations.Confirmation{Mode: annotations.ConfirmHTTP, URL: "http://127.0.0.1:8080/ready"}
	r.Timing.ConfirmTimeout = 20 * time.Second
	assert.Equal(t, []string{"run", "--contract", "3",
		"--src-dir", SrcDir, "--stable-dir", StableDir, "--live-dir", LiveDir, "--volume", "config", "--volume", "tls",
		"--part", "tls=config", "--part", "tls=downward",
		"--container", "app", "--container", "exporter", "--signal", "SIGUSR1", "--process", "nginx: master",
		"--confirm", "http://127.0.0.1:8080/ready",
		"--health-addr", ":9441", "--exchange-url", DefaultExchangeURL, "--confirm-timeout", "20s"}, r.Args(),
		"a confirmation follows the delivery, its timeout the other timings, each only when not the default")
}

func TestParseRun(t *testing.T) {
	testParseRun(t, []parseRunCase{
		{"reads a command line without a version as version 1", []string{"--volume", "config"}, func(r *Run) { r.Volumes = []string{"config"} }, nil, ""},
		{"splits lists on commas, as the webhook never writes them but a user may", []string{"--volume", "a,b", "--volume", "c", "--container", "x,y"},
			func(r *Run) { r.Volumes = []string{"a", "b", "c"}; r.Containers = []string{"x", "y"} }, nil, ""},
		{"canonicalizes a signal alias", []string{"--volume", "v", "--signal", "iot"}, func(r *Run) { r.Delivery.Signal = "SIGABRT" }, nil, ""},
		{"replaces a signal it cannot send", []string{"--volume", "v", "--signal", "SIGKILL"}, func(r *Run) {},
			[]string{`--signal "SIGKILL": not a signal the reloader can send; using SIGHUP`}, ""},
		{"replaces a URL that is not loopback by the signal", []string{"--volume", "v", "--url", "http://10.0.0.1/x", "--signal", "SIGUSR2"},
			func(r *Run) { r.Delivery.Signal = "SIGUSR2" },
			[]string{`--url "http://10.0.0.1/x": host must be loopback (localhost, 127.0.0.1 or ::1); using the signal instead`}, ""},
		{"prefers a URL to the signal", []string{"--volume", "v", "--url", "http://127.0.0.1/x", "--signal", "SIGUSR2"},
			func(r *Run) { r.Delivery = Delivery{URL: "http://127.0.0.1/x"} }, nil, ""},
		{"drops a process regexp that does not compile", []string{"--volume", "v", "--process", "[[["}, func(r *Run) {},
			[]string{`--process "[[[": missing closing ]; using the container's main process`}, ""},
		{"reads a confirmation", []string{"--volume", "v", "--confirm", "http://127.0.0.1:9090/metrics up 1"},
			func(r *Run) {
				r.Delivery.Confirm = annotations.Confirmation{Mode: annotations.ConfirmMetric, URL: "http://127.0.0.1:9090/metrics", Metric: "up", Value: "1"}
			}, nil, ""},
		{"replaces a confirmation it cannot read by the default", []string{"--volume", "v", "--confirm", "pid"}, func(r *Run) {},
			[]string{`--confirm "pid": want process, workers, a loopback URL, or a URL, a metric name and a value; using the delivery's default`}, ""},
		{"replaces workers without a signal by the default", []string{"--volume", "v", "--url", "http://127.0.0.1/x", "--confirm", "workers"},
			func(r *Run) { r.Delivery = Delivery{URL: "http://127.0.0.1/x"} },
			[]string{`--confirm "workers": workers need a signal, and hotreload/url is set; using the delivery's default`}, ""},
		{"refuses a command line without a volume", []string{"--container", "app"}, nil, nil, "no --volume"},
		{"always waits for a release from version 2", []string{"--contract", "2", "--volume", "v"}, func(r *Run) { r.Version, r.WaitRelease = 2, true }, nil, ""},
		{"reads the parts of a volume, in order", []string{"--contract", "2", "--volume", "v", "--part", "v=config", "--part", "v=downward"},
			func(r *Run) {
				r.Version, r.WaitRelease = 2, true
				r.Parts = map[string][]PartKind{"v": {PartConfig, PartDownward}}
			}, nil, ""},
		{"refuses a part of a volume it does not reload", []string{"--contract", "2", "--volume", "v", "--part", "w=config"}, nil, nil,
			`--part of "w", which is not a --volume`},
		{"refuses a part of an unknown kind", []string{"--contract", "2", "--volume", "v", "--part", "v=secretive"}, nil, nil,
			`reloader run: invalid value "v=secretive" for flag -part: "v=secretive": unknown part kind "secretive": want config or downward`},
		{"refuses a newer contract, naming both versions", []string{"--contract", "4", "--volume", "v"}, nil, nil,
			"contract version 4: written by a newer hotreload (this build reads versions 1 to 3)"},
		{"refuses a newer contract before the flags it does not know", []string{"--contract=4", "--volume", "v", "--shiny"}, nil, nil,
			"contract version 4: written by a newer hotreload (this build reads versions 1 to 3)"},
		{"refuses a version below 1", []string{"--contract", "0", "--volume", "v"}, nil, nil, "--contract 0: versions start at 1"},
		{"refuses a flag it does not know", []string{"--volume", "v", "--frobnicate"}, nil, nil, "reloader run: flag provided but not defined: -frobnicate"},
		{"refuses a stray argument", []string{"--volume", "v", "extra"}, nil, nil, `reloader run: unexpected argument "extra"`},
	})
	_, _, err := ParseRun([]string{"--contract", "9", "--volume", "v"})
	assert.ErrorIs(t, err, ErrNewerContract)
}

// parseRunCase is a command line of `reloader run`, what ParseRun reads
// (want edits the defaults of a run of volume v), its warnings or its error.
type parseRunCase struct {
	name     string
	args     []string
	want     func(*Run)
	warnings []string
	err      string
}

func testParseRun(t *testing.T, tests []parseRunCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, warnings, err := ParseRun(tc.args)
			if tc.err != "" {
				require.EqualError(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			want := Run{Version: 1, Sources: Sources{SrcDir: SrcDir, StableDir: StableDir, LiveDir: LiveDir, Volumes: []string{"v"}},
				Delivery: Delivery{Signal: annotations.DefaultSignal}, HealthAddr: DefaultHealthAddr, Timing: DefaultTiming}
			tc.want(&want)
			assert.Equal(t, want, got)
			assert.Equal(t, tc.warnings, warnings)
		})
	}
}

func TestInstallAndLinkArgsParseBack(t *testing.T) {
	in := Install{Version: Version, To: BinDir, Timeout: DefaultInstallTimeout, Sources: Sources{SrcDir: SrcDir, StableDir: StableDir, LiveDir: LiveDir, Volumes: []string{"config"}}}
	args := in.Args()
	assert.Equal(t, []string{"install", "--contract", "3", "--to", BinDir, "--src-dir", SrcDir, "--stable-dir", StableDir, "--live-dir", LiveDir, "--volume", "config"}, args)
	got, err := ParseInstall(args[1:])
	require.NoError(t, err)
	assert.Equal(t, in, got)
	_, err = ParseInstall(nil)
	assert.ErrorIs(t, err, ErrNoTarget)

	l := Link{Version: Version, MaxCopyBytes: DefaultMaxCopyBytes,
		Copies: []DirCopy{{From: "/etc/my,app", To: LinkDir + "/0"}},
		Links:  []FileLink{{File: "/etc/my,app/a.conf", Target: LiveDir + "/config/a.conf"}}}
	largs := l.Args()
	assert.Equal(t, []string{"--contract", "3", "--copy", "/etc/my,app=" + LinkDir + "/0", "--link", "/etc/my,app/a.conf=" + LiveDir + "/config/a.conf"}, largs)
	gotLink, err := ParseLink(largs)
	require.NoError(t, err)
	assert.Equal(t, l, gotLink, "a path with a comma stays whole")
	_, err = ParseLink([]string{"--copy", "nothing"})
	assert.ErrorIs(t, err, ErrPair)
}

// TestFromPodReadsEveryEarlierVersion: the pods each earlier contract version
// wrote (frozen in testdata/v<N>) still parse, as that version, to the
// volumes their sidecar mounts.
func TestFromPodReadsEveryEarlierVersion(t *testing.T) {
	fixtures, err := filepath.Glob("testdata/v*/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, fixtures)
	for _, f := range fixtures {
		t.Run(f, func(t *testing.T) {
			raw, err := os.ReadFile(f)
			require.NoError(t, err)
			var out struct {
				Pod *corev1.Pod `json:"pod"`
			}
			require.NoError(t, yaml.Unmarshal(raw, &out))
			run, warnings, err := FromPod(out.Pod)
			require.NoError(t, err)
			assert.Empty(t, warnings)
			assert.Equal(t, filepath.Base(filepath.Dir(f)), fmt.Sprintf("v%d", run.Version))
			var mounted []string
			for _, m := range ReloaderContainer(out.Pod).VolumeMounts {
				if v, ok := strings.CutPrefix(m.MountPath, SrcDir+"/"); ok && !slices.Contains(mounted, strings.Split(v, "/")[0]) {
					mounted = append(mounted, strings.Split(v, "/")[0]) // SrcDir/V in version 1, SrcDir/V/i after
				}
			}
			assert.Equal(t, mounted, run.Volumes)
		})
	}
}

func TestFromPod(t *testing.T) {
	_, _, err := FromPod(&corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}}})
	assert.ErrorIs(t, err, ErrNoReloader)
	_, _, err = FromPod(&corev1.Pod{Spec: corev1.PodSpec{InitContainers: []corev1.Container{{Name: ReloaderName, Command: []string{"/bin/sh"}, Args: []string{"run"}}}}})
	assert.EqualError(t, err, `container hotreload-reloader: command ["/bin/sh"] and arguments ["run"] are not the image's entrypoint with run`)
	run, _, err := FromPod(&corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}, {Name: ReloaderName, Args: []string{"run", "--volume", "a"}}}}})
	require.NoError(t, err)
	assert.Equal(t, []string{"a"}, run.Volumes)
}

// FuzzRunArgs: any command line the webhook can write reads back as the
// value it was written from. With split, the delivery is a second
// container's, beside one told by SIGHUP.
func FuzzRunArgs(f *testing.F) {
	f.Add("config", "app", "SIGHUP", "", "nginx", "workers", true, int64(time.Second))
	f.Add("tls", "x", "none", "http://127.0.0.1/x", "", "http://[::1]:9/m up 1e3", false, int64(0))
	f.Add("v", "c", "iot", "http://LOCALHOST:1/-/r", "--a,b", "", true, int64(3))
	f.Fuzz(func(t *testing.T, volume, container, signal, url, process, confirm string, split bool, grace int64) {
		// Names are DNS labels; values are those the webhook admits.
		name := regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
		if !name.MatchString(volume) || !name.MatchString(container) || grace < 0 ||
			url != "" && annotations.CheckLoopbackURL(url) != nil || annotations.CheckProcess(process) != nil {
			return
		}
		sig, ok := annotations.ParseSignal(signal)
		if !ok {
			return
		}
		var c annotations.Confirmation
		if confirm != "" {
			var err error
			if c, err = annotations.ParseConfirmFor(confirm, sig, url); err != nil {
				return
			}
		}
		d := Delivery{Signal: sig, URL: url, Process: process, Confirm: c}
		if url != "" {
			d.Signal = "" // a URL wins
		}
		want := Run{Version: Version, Sources: Sources{SrcDir: SrcDir, StableDir: StableDir, LiveDir: LiveDir, Volumes: []string{volume}},
			Containers: []string{container}, Delivery: d, WaitRelease: true,
			HealthAddr: DefaultHealthAddr, Timing: DefaultTiming}
		if split {
			other := "other"
			if container == other {
				other = "another"
			}
			want.Containers = []string{other, container}
			want.SetDeliveries(map[string]Delivery{other: {Signal: annotations.DefaultSignal}, container: d})
		}
		want.Timing.Grace = time.Duration(grace)
		args := want.Args()
		if grace == 0 {
			want.Timing.Grace = DefaultTiming.Grace
		}
		got, warnings, err := ParseRun(args[1:])
		require.NoError(t, err, "%q", args)
		require.Empty(t, warnings, "%q", args)
		assert.Equal(t, want, got, "%q", args)
	})
}

func TestLayoutPlacesEachPart(t *testing.T) {
	s := Sources{SrcDir: "/s", StableDir: "/t", LiveDir: "/l", Volumes: []string{"config", "settings"},
		Parts: map[string][]PartKind{"settings": {PartConfig, PartDownward}}}
	assert.Equal(t, []Volume{
		{Name: "config", Parts: []Part{{Kind: PartConfig, Candidate: "/s/config/0", Stable: "/t/config/0"}}},
		{Name: "settings", Parts: []Part{{Kind: PartConfig, Candidate: "/s/settings/0", Stable: "/t/settings/0"}, {Kind: PartDownward, Candidate: "/s/settings/1"}}},
	}, s.Layout(2), "version 2: every part at its index, a config part's stable twin beside")
	assert.Equal(t, []Volume{
		{Name: "config", Parts: []Part{{Kind: PartConfig, Candidate: "/s/config"}}},
		{Name: "settings", Parts: []Part{{Kind: PartConfig, Candidate: "/s/settings"}}},
	}, s.Layout(1), "version 1: one mount per volume, no stable twin")
}

func TestObjectNamesFit(t *testing.T) {
	assert.Equal(t, "configmap-app", ReleaseName("ConfigMap", "app"))
	assert.Equal(t, "secret-tls", ReleaseName("Secret", "tls"))
	assert.Equal(t, "hotreload-stable-app", StableName("app"))
	assert.Equal(t, "hotreload-rev-app-3f2a9c1b7d4e", RevisionName("app", "3f2a9c1b7d4e"))
	long := strings.Repeat("a", 250)
	for _, n := range []string{ReleaseName("ConfigMap", long), StableName(long), RevisionName(long, "3f2a9c1b7d4e")} {
		assert.LessOrEqual(t, len(n), 253, n)
	}
	assert.NotEqual(t, StableName(long), StableName(long[:249]+"b"), "names cut to fit stay apart")
	assert.True(t, strings.HasSuffix(RevisionName(long, "3f2a9c1b7d4e"), "-3f2a9c1b7d4e"), "the revision ends the name")
}
