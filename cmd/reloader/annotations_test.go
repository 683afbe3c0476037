package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/contract"
	"github.com/hotreload/hotreload/pkg/mutate"
)

// annotatedPod is an opted-in pod with a directory mount and a subPath mount
// of a ConfigMap, and the given annotations.
func annotatedPod(ann map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", Annotations: ann,
			Labels: map[string]string{annotations.EnableLabel: annotations.EnableValue}},
		Spec: corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](101)},
			Containers: []corev1.Container{
				{Name: "app", Image: "nginx:1.27", VolumeMounts: []corev1.VolumeMount{
					{Name: "config", MountPath: "/etc/nginx/nginx.conf", SubPath: "nginx.conf"},
					{Name: "tls", MountPath: "/etc/tls"},
				}},
				{Name: "exporter", Image: "exporter:1", VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: "/etc/exporter"}}},
			},
			Volumes: []corev1.Volume{
				{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "nginx"}}}},
				{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "tls"}}},
			},
		},
	}
}

// requireReloaderStarts mutates pod as the webhook does and requires that
// every hotreload container's arguments parse with the reloader's own parsers,
// with no value replaced, and that the sidecar starts until it is ready.
func requireReloaderStarts(t *testing.T, pod *corev1.Pod) {
	t.Helper()
	out, _, err := mutate.Mutate(pod, mutate.Options{ReloaderImage: "reloader:test", Version: "test", NativeSidecar: true})
	require.NoError(t, err)
	if _, injected := annotations.InjectedOf(out.Annotations); !injected {
		return // left alone: nothing of hotreload runs
	}
	checkFixture(t, out)
}

// checkFixture requires that every hotreload container of an injected pod
// parses with the reloader's parsers, with no value replaced, and that its
// sidecar starts.
func checkFixture(t *testing.T, pod *corev1.Pod) {
	t.Helper()
	c := container(t, pod, contract.ReloaderName)
	require.Equal(t, "run", c.Args[0])
	run := parseRunArgs(t, c.Args[1:], downwardEnv(t, pod, c))
	in := container(t, pod, contract.InstallName)
	require.Equal(t, "install", in.Args[0])
	install := parse(t, parseInstall, in.Args[1:])
	assert.Equal(t, run.Sources, install.Sources, "install writes the live copies run keeps")
	for _, lc := range pod.Spec.InitContainers {
		if strings.HasPrefix(lc.Name, contract.LinkName) {
			parse(t, parseLink, lc.Args)
		}
	}
	startsReady(t, run, os.Getenv(contract.ExchangeCAEnv))
}

// oddValues are annotation values a user may write, well-formed or not; the
// webhook admits each, replacing a value it cannot use by its default.
var oddValues = func() map[string][]string {
	var signals []string
	for _, s := range annotations.SignalNames() {
		bare := strings.TrimPrefix(string(s), "SIG")
		signals = append(signals, string(s), bare, strings.ToLower(string(s)), " Sig"+strings.ToLower(bare)+" ")
	}
	signals = append(signals, "IOT", "sigpoll", "CLD", "none", "NONE", "KILL", "SIGSTOP", "SIGFOO", "1", "-9", "SIGHUP,SIGUSR1", "", "--url",
		"app=SIGUSR1,exporter=SIGUSR2", "app=KILL,exporter=", "exporter=none", "app=HUP,app=USR1,ghost=USR2")
	return map[string][]string{
		annotations.Signal: signals,
		annotations.URL: {"http://LOCALHOST:9090/x", "HTTP://127.0.0.1/x", "http://[::1]:1/-/reload", "http://127.0.0.1:99999/",
			"http://127.0.0.1:0/", "http://example.com/", "ftp://127.0.0.1/", "http:///x", "http://127.0.0.1:port/",
			"http://127.0.0.1/a,b", "http://127.0.0.1/a b", "http://user:pw@localhost/", "http://127.1/x?y=--signal", "--signal=SIGKILL", "",
			"exporter=http://127.0.0.1:9090/x?a=b,c", "app=http://10.0.0.1/,exporter=http://[::1]:1/r"},
		annotations.Process: {"[[[", "(nginx", "nginx: master", ".*", "a,b", "--signal SIGKILL", "-x", `\`, "", "(?i)NGINX",
			"app=[[[,exporter=nginx: master", "exporter=a=b,c"},
		annotations.Confirm:   {"workers", "pid", "app=workers,exporter=http://127.0.0.1:1/m up 1", "exporter=pid"},
		annotations.Validate:  {"nginx -t", `["nginx"`, `app=["nginx","-t"],exporter=check --all`},
		annotations.SubPath:   {"link", "dir", "keep", "LINK", " Dir ", "copy", ""},
		annotations.Container: {"app,nope", "exporter", ",,,", "nope", "app, exporter", "--volume", "app=exporter"},
		annotations.Volumes:   {"config,ghost", "tls", "--volume", "config,config", ""},
		annotations.Rollout:   {"1,25%,100%", "garbage", "100%", "0,100%"},
	}
}()

// TestEveryAdmittedAnnotationValueStartsTheReloader is the contract's
// property over the annotation space: whatever value the webhook admits, the
// sidecar it injects parses its arguments and becomes ready, so the app
// starts. Each value is tried alone and, for signals and URLs, combined.
func TestEveryAdmittedAnnotationValueStartsTheReloader(t *testing.T) {
	for key, values := range oddValues {
		for _, v := range values {
			t.Run(fmt.Sprintf("%s=%q", key, v), func(t *testing.T) {
				requireReloaderStarts(t, annotatedPod(map[string]string{key: v}))
			})
		}
	}
	for _, sig := range oddValues[annotations.Signal] {
		for _, url := range oddValues[annotations.URL][:4] {
			requireReloaderStarts(t, annotatedPod(map[string]string{annotations.Signal: sig, annotations.URL: url, annotations.Process: "[[["}))
		}
	}
	// Both containers reloaded, each told its own way.
	for _, url := range []string{"", "exporter=http://127.0.0.1:9090/x?a=b,c", "http://LOCALHOST:9090/x"} {
		requireReloaderStarts(t, annotatedPod(map[string]string{annotations.Container: "app,exporter", annotations.URL: url,
			annotations.Signal: "app=SIGUSR1,exporter=SIGUSR2", annotations.Process: "exporter=exporter --a,b=c",
			annotations.Confirm: "app=workers,exporter=http://127.0.0.1:1/m up 1", annotations.Validate: `app=["nginx","-t"]`}))
	}
}

// FuzzAnnotationsStartTheReloader extends the property to any values.
func FuzzAnnotationsStartTheReloader(f *testing.F) {
	for _, sig := range oddValues[annotations.Signal][:8] {
		f.Add(sig, "http://LOCALHOST:9090/x", "[[[", "dir", "app", "config")
	}
	f.Add("none", "", "nginx: master", "keep", "exporter,app", "tls,config")
	f.Fuzz(func(t *testing.T, signal, url, process, subPath, containers, volumes string) {
		requireReloaderStarts(t, annotatedPod(map[string]string{
			annotations.Signal: signal, annotations.URL: url, annotations.Process: process,
			annotations.SubPath: subPath, annotations.Container: containers, annotations.Volumes: volumes,
		}))
	})
}

// TestPodsOfEarlierContractVersionsStillRun keeps the pods each earlier
// contract version wrote (pkg/contract/testdata/v<N>, frozen when the version
// changed) parsing with this reloader's parsers and starting: a pod injected
// by an earlier hotreload keeps working when its sidecar restarts on this one.
func TestPodsOfEarlierContractVersionsStillRun(t *testing.T) {
	fixtures, err := filepath.Glob("../../pkg/contract/testdata/v*/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, fixtures)
	for _, f := range fixtures {
		t.Run(filepath.Base(filepath.Dir(f))+"/"+filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			require.NoError(t, err)
			var out struct {
				Pod *corev1.Pod `json:"pod"`
			}
			require.NoError(t, yaml.Unmarshal(raw, &out))
			checkFixture(t, out.Pod)
		})
	}
}
