package annotations

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestSignalOf(t *testing.T) {
	tests := []struct {
		name     string
		pod      map[string]string
		want     SignalName
		warnings []string
	}{
		{"defaults to SIGHUP when the annotation is absent", nil, "SIGHUP", nil},
		{"treats a blank value as absent", map[string]string{Signal: "  "}, "SIGHUP", nil},
		{"accepts a full signal name", map[string]string{Signal: "SIGUSR1"}, "SIGUSR1", nil},
		{"accepts a name without its SIG prefix", map[string]string{Signal: "HUP"}, "SIGHUP", nil},
		{"accepts any case", map[string]string{Signal: "sigUsr2"}, "SIGUSR2", nil},
		{"accepts none for apps that watch their files", map[string]string{Signal: "None"}, "none", nil},
		{"maps an alias to the canonical name", map[string]string{Signal: "IOT"}, "SIGABRT", nil},
		{"maps SIGPOLL to SIGIO", map[string]string{Signal: "sigpoll"}, "SIGIO", nil},
		{"accepts a signal whose default action stops the process", map[string]string{Signal: "SIGTSTP"}, "SIGTSTP", nil},
		{"warns about an unknown signal", map[string]string{Signal: "SIGFOO"}, "SIGHUP",
			[]string{`hotreload/signal: unknown signal "SIGFOO"; using SIGHUP`}},
		{"warns about a signal number", map[string]string{Signal: "1"}, "SIGHUP",
			[]string{`hotreload/signal: unknown signal "1"; using SIGHUP`}},
		{"refuses SIGKILL, which stops the process", map[string]string{Signal: "kill"}, "SIGHUP",
			[]string{`hotreload/signal: unsupported signal "kill": it stops the process instead of reloading it; using SIGHUP`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ws := SignalOf(tt.pod)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.warnings, Strings(ws))
		})
	}
}

func TestURLOf(t *testing.T) {
	tests := []struct {
		name     string
		url      string
		want     string
		warnings []string
	}{
		{"returns nothing when the annotation is absent", "", "", nil},
		{"accepts an http URL to 127.0.0.1", "http://127.0.0.1:9090/-/reload", "http://127.0.0.1:9090/-/reload", nil},
		{"accepts https to localhost", "https://localhost:8443/reload", "https://localhost:8443/reload", nil},
		{"accepts any address of 127.0.0.0/8", "http://127.1.2.3/reload", "http://127.1.2.3/reload", nil},
		{"accepts IPv6 loopback", "http://[::1]:9901/reload", "http://[::1]:9901/reload", nil},
		{"accepts localhost in any case", "http://LOCALHOST:9090/x", "http://LOCALHOST:9090/x", nil},
		{"accepts an upper-case scheme", "HTTP://127.0.0.1/x", "HTTP://127.0.0.1/x", nil},
		{"refuses a port out of range", "http://127.0.0.1:99999/x", "",
			[]string{`hotreload/url: invalid reload URL "http://127.0.0.1:99999/x": port 99999 is not from 1 to 65535; using the signal instead`}},
		{"refuses a host that is not loopback", "http://example.com/reload", "",
			[]string{`hotreload/url: invalid reload URL "http://example.com/reload": host must be loopback (localhost, 127.0.0.1 or ::1); using the signal instead`}},
		{"refuses the pod IP", "http://10.0.0.4:9090/-/reload", "",
			[]string{`hotreload/url: invalid reload URL "http://10.0.0.4:9090/-/reload": host must be loopback (localhost, 127.0.0.1 or ::1); using the signal instead`}},
		{"refuses another scheme", "ftp://127.0.0.1/reload", "",
			[]string{`hotreload/url: invalid reload URL "ftp://127.0.0.1/reload": scheme must be http or https; using the signal instead`}},
		{"refuses a URL without host", "http:///reload", "",
			[]string{`hotreload/url: invalid reload URL "http:///reload": no host; using the signal instead`}},
		{"refuses what is not a URL", "http://127.0.0.1:port/", "",
			[]string{`hotreload/url: invalid reload URL "http://127.0.0.1:port/": not a URL; using the signal instead`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ws := URLOf(map[string]string{URL: tt.url})
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.warnings, Strings(ws))
		})
	}
}

func TestProcessOf(t *testing.T) {
	got, ws := ProcessOf(map[string]string{Process: "nginx: master"})
	assert.Equal(t, "nginx: master", got)
	assert.Empty(t, ws)

	got, ws = ProcessOf(map[string]string{Process: "(nginx"})
	assert.Equal(t, "", got)
	assert.Equal(t, []string{`hotreload/process: invalid regexp "(nginx": missing closing ); using the container's main process`}, Strings(ws))

	got, ws = ProcessOf(nil)
	assert.Equal(t, "", got)
	assert.Empty(t, ws)
}

func TestContainersOf(t *testing.T) {
	all := []string{"app", "proxy", "exporter"}
	tests := []struct {
		name     string
		pod      map[string]string
		want     []string
		warnings []string
	}{
		{"defaults to the first container", nil, []string{"app"}, nil},
		{"defaults to kubectl's default container", map[string]string{DefaultContainer: "proxy"}, []string{"proxy"}, nil},
		{"ignores a default container that does not exist", map[string]string{DefaultContainer: "gone"}, []string{"app"}, nil},
		{"returns the named containers in pod order, each once", map[string]string{Container: "exporter, app,app"}, []string{"app", "exporter"}, nil},
		{"drops unknown containers with a warning", map[string]string{Container: "proxy,nope"}, []string{"proxy"},
			[]string{`hotreload/container: unknown containers in "proxy,nope": "nope"; using proxy`}},
		{"falls back to the default when no container is known", map[string]string{Container: "x,y", DefaultContainer: "exporter"}, []string{"exporter"},
			[]string{`hotreload/container: unknown containers in "x,y": "x", "y"; using exporter`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ws := ContainersOf(tt.pod, all)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.warnings, Strings(ws))
		})
	}
}

func TestVolumesOf(t *testing.T) {
	all := []string{"config", "data", "tls", "kube-api-access-x"}
	reloadable := []string{"config", "tls"}
	tests := []struct {
		name     string
		pod      map[string]string
		want     []string
		warnings []string
	}{
		{"defaults to every reloadable volume", nil, []string{"config", "tls"}, nil},
		{"returns the named volumes in pod order", map[string]string{Volumes: "tls,config"}, []string{"config", "tls"}, nil},
		{"drops unknown and unreloadable volumes with a warning", map[string]string{Volumes: "tls,data,ghost"}, []string{"tls"},
			[]string{`hotreload/volumes: bad volumes in "tls,data,ghost": no such volume "ghost"; not a configMap, secret or projected config volume "data"; using tls`}},
		{"falls back to every reloadable volume when none is usable", map[string]string{Volumes: "kube-api-access-x"}, []string{"config", "tls"},
			[]string{`hotreload/volumes: bad volumes in "kube-api-access-x": not a configMap, secret or projected config volume "kube-api-access-x"; using config,tls`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ws := VolumesOf(tt.pod, all, reloadable)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.warnings, Strings(ws))
		})
	}
	got, ws := VolumesOf(map[string]string{Volumes: "x"}, nil, nil)
	assert.Nil(t, got)
	assert.Equal(t, []string{`hotreload/volumes: bad volumes in "x": no such volume "x"; using no volume`}, Strings(ws))
}

func TestSubPathOf(t *testing.T) {
	tests := []struct {
		name     string
		value    string
		want     SubPathMode
		warnings []string
	}{
		{"defaults to link", "", SubPathLink, nil},
		{"accepts dir", "dir", SubPathDir, nil},
		{"accepts keep in any case", "KEEP", SubPathKeep, nil},
		{"warns about an unknown mode", "copy", SubPathLink,
			[]string{`hotreload/subpath: unknown mode "copy": want link, dir or keep; using link`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ws := SubPathOf(map[string]string{SubPath: tt.value})
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.warnings, Strings(ws))
		})
	}
}

func TestRolloutOf(t *testing.T) {
	tests := []struct {
		name      string
		pod, ns   map[string]string
		want      string
		immediate bool
		warnings  []string
	}{
		{"defaults to 100%", nil, nil, "100%", true, nil},
		{"takes the namespace's rollout", nil, map[string]string{Rollout: "1,100%"}, "1,100%", false, nil},
		{"prefers the pod's rollout over the namespace's", map[string]string{Rollout: "100%"}, map[string]string{Rollout: "1,100%"}, "100%", true, nil},
		{"accepts counts then percentages", map[string]string{Rollout: " 1, 3 ,25%,50%,100%"}, nil, "1,3,25%,50%,100%", false, nil},
		{"falls back to the namespace's when the pod's is malformed", map[string]string{Rollout: "1,25%"}, map[string]string{Rollout: "2,100%"}, "2,100%", false,
			[]string{`hotreload/rollout: invalid rollout "1,25%": the last step must be 100%; using 2,100%`}},
		{"warns about both when both are malformed", map[string]string{Rollout: "50%,25%,100%"}, map[string]string{Rollout: "0,100%"}, "100%", true,
			[]string{
				`hotreload/rollout: invalid rollout "50%,25%,100%": steps must increase, 25% does not follow 50%; using 100%`,
				`namespace annotation hotreload/rollout: invalid rollout "0,100%": "0" is neither a positive count nor a percentage; using 100%`,
			}},
		{"refuses a count after a percentage", map[string]string{Rollout: "10%,5,100%"}, nil, "100%", true,
			[]string{`hotreload/rollout: invalid rollout "10%,5,100%": count 5 after a percentage; using 100%`}},
		{"refuses counts that do not increase", map[string]string{Rollout: "2,2,100%"}, nil, "100%", true,
			[]string{`hotreload/rollout: invalid rollout "2,2,100%": steps must increase, 2 does not follow 2; using 100%`}},
		{"refuses a percentage over 100", map[string]string{Rollout: "150%"}, nil, "100%", true,
			[]string{`hotreload/rollout: invalid rollout "150%": "150%" is not a percentage from 1% to 100%; using 100%`}},
		{"refuses an empty step", map[string]string{Rollout: "1,,100%"}, nil, "100%", true,
			[]string{`hotreload/rollout: invalid rollout "1,,100%": "" is neither a positive count nor a percentage; using 100%`}},
		{"refuses a count as the last step", map[string]string{Rollout: "1,10"}, nil, "100%", true,
			[]string{`hotreload/rollout: invalid rollout "1,10": the last step must be 100%; using 100%`}},
		{"refuses an absurd number of steps", map[string]string{Rollout: "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,100%"}, nil, "100%", true,
			[]string{`hotreload/rollout: invalid rollout "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,100%": more than 20 steps; using 100%`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ws := RolloutOf(tt.pod, tt.ns)
			assert.Equal(t, tt.want, got.String())
			assert.Equal(t, tt.immediate, got.Immediate())
			assert.Equal(t, tt.warnings, Strings(ws))
		})
	}
}

func TestParseRollout(t *testing.T) {
	got, err := ParseRollout("1,25%,100%")
	assert.NoError(t, err)
	assert.Equal(t, RolloutSteps{{Count: 1}, {Percent: 25}, {Percent: 100}}, got)
}

func TestRolloutIntervalOf(t *testing.T) {
	tests := []struct {
		name     string
		pod, ns  map[string]string
		want     time.Duration
		warnings []string
	}{
		{"defaults to 30s", nil, nil, 30 * time.Second, nil},
		{"takes the namespace's interval", nil, map[string]string{RolloutInterval: "2m"}, 2 * time.Minute, nil},
		{"prefers the pod's interval", map[string]string{RolloutInterval: "10s"}, map[string]string{RolloutInterval: "2m"}, 10 * time.Second, nil},
		{"accepts the bounds", map[string]string{RolloutInterval: "24h"}, nil, 24 * time.Hour, nil},
		{"refuses a number without unit", map[string]string{RolloutInterval: "30"}, nil, 30 * time.Second,
			[]string{`hotreload/rollout-interval: invalid interval "30": a unit is required, e.g. 30s; using 30s`}},
		{"refuses a negative interval", map[string]string{RolloutInterval: "-5s"}, map[string]string{RolloutInterval: "1m"}, time.Minute,
			[]string{`hotreload/rollout-interval: invalid interval "-5s": must be from 1s to 24h0m0s; using 1m0s`}},
		{"refuses zero", map[string]string{RolloutInterval: "0s"}, nil, 30 * time.Second,
			[]string{`hotreload/rollout-interval: invalid interval "0s": must be from 1s to 24h0m0s; using 30s`}},
		{"refuses an absurd interval", nil, map[string]string{RolloutInterval: "30d"}, 30 * time.Second,
			[]string{`namespace annotation hotreload/rollout-interval: invalid interval "30d": not a duration such as 30s or 2m; using 30s`}},
		{"refuses more than a day", nil, map[string]string{RolloutInterval: "25h"}, 30 * time.Second,
			[]string{`namespace annotation hotreload/rollout-interval: invalid interval "25h": must be from 1s to 24h0m0s; using 30s`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ws := RolloutIntervalOf(tt.pod, tt.ns)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.warnings, Strings(ws))
		})
	}
}

func TestWrittenKeys(t *testing.T) {
	pod := map[string]string{
		Injected:  "v1.2.3",
		Released:  "abc123",
		AppliedAt: "2026-11-24T10:00:00Z",
		Failed:    FormatFailed("abc123", "process exited: status 1"),
	}
	v, ok := InjectedOf(pod)
	assert.Equal(t, "v1.2.3", v)
	assert.True(t, ok)
	assert.Equal(t, "abc123", ReleasedOf(pod))
	assert.Equal(t, "def456", AppliedOf(map[string]string{Applied: "def456"}))
	at, ok := AppliedAtOf(pod)
	assert.True(t, ok)
	assert.Equal(t, time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC), at)
	rev, reason, ok := FailedOf(pod)
	assert.Equal(t, []any{"abc123", "process exited: status 1", true}, []any{rev, reason, ok})

	_, ok = InjectedOf(nil)
	assert.False(t, ok)
	_, ok = AppliedAtOf(map[string]string{AppliedAt: "yesterday"})
	assert.False(t, ok)
	_, _, ok = FailedOf(nil)
	assert.False(t, ok)
}

func TestEnabled(t *testing.T) {
	assert.True(t, Enabled(map[string]string{EnableLabel: "true"}))
	assert.False(t, Enabled(map[string]string{EnableLabel: "yes"}))
	assert.True(t, InjectionEnabledFor(map[string]string{InjectionLabel: "enabled"}))
	assert.False(t, InjectionEnabledFor(nil))
}

func TestNamespaceServed(t *testing.T) {
	enabled := map[string]string{InjectionLabel: InjectionEnabled}
	now := metav1.Now()
	for _, tc := range []struct {
		name string
		ns   metav1.ObjectMeta
		want bool
	}{
		{"enabled", metav1.ObjectMeta{Labels: enabled}, true},
		{"not labelled", metav1.ObjectMeta{}, false},
		{"labelled otherwise", metav1.ObjectMeta{Labels: map[string]string{InjectionLabel: "disabled"}}, false},
		{"enabled but being deleted", metav1.ObjectMeta{Labels: enabled, DeletionTimestamp: &now}, false},
		{"kube-system, enabled", metav1.ObjectMeta{Name: "kube-system", Labels: enabled}, false},
		{"hotreload's own, enabled", metav1.ObjectMeta{Name: "hotreload-system", Labels: enabled}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, NamespaceServed(&metav1.PartialObjectMetadata{ObjectMeta: tc.ns}))
		})
	}
}

func TestRestartOf(t *testing.T) {
	cases := []struct {
		name string
		pod  map[string]string
		want RestartPolicy
		ws   []string
	}{
		{"replaces pods by default", nil, RestartAuto, nil},
		{"reads never in any case", map[string]string{Restart: " Never"}, RestartNever, nil},
		{"reads auto", map[string]string{Restart: "auto"}, RestartAuto, nil},
		{"warns about a malformed value and replaces pods", map[string]string{Restart: "sometimes"}, RestartAuto,
			[]string{`hotreload/restart: invalid policy "sometimes": want auto or never; using auto`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ws := RestartOf(tc.pod)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.ws, Strings(ws))
		})
	}
}
