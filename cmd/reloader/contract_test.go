package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/hotreload/hotreload/internal/kubeletdir"
	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/contract"
	"github.com/hotreload/hotreload/pkg/revision"
	"github.com/hotreload/hotreload/pkg/validate"
)

// mutateTestdata holds pkg/mutate's golden pods: what the webhook writes.
const mutateTestdata = "../../pkg/mutate/testdata"

// TestGoldenPodsRunWithTheReloadersFlags is the contract between pkg/mutate and
// this command: every hotreload container of every golden pod parses with the
// reloader's own flag definitions, and the values agree with the rest of the
// pod (mounts, probe, downward API env, annotations).
func TestGoldenPodsRunWithTheReloadersFlags(t *testing.T) {
	goldens, err := filepath.Glob(filepath.Join(mutateTestdata, "*.golden.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, goldens)
	var injected int
	for _, g := range goldens {
		name := strings.TrimSuffix(filepath.Base(g), ".golden.yaml")
		t.Run(name, func(t *testing.T) {
			in, out := readGolden(t, g)
			_, before := annotations.InjectedOf(in.Pod.Annotations)
			_, after := annotations.InjectedOf(out.Pod.Annotations)
			if before || !after {
				assert.Equal(t, in.Pod.Spec, out.Pod.Spec, "a pod the webhook does not inject is left alone")
				return
			}
			if _, pinned := out.Pod.Annotations[annotations.Pinned]; pinned && !hasReloader(out.Pod) {
				assert.Len(t, out.Pod.Spec.InitContainers, len(in.Pod.Spec.InitContainers), "a pod with nothing to reload gets its pins only")
				assert.Len(t, out.Pod.Spec.Containers, len(in.Pod.Spec.Containers), "a pod with nothing to reload gets its pins only")
				return
			}
			injected++
			run := checkRun(t, in, out.Pod)
			checkInstall(t, out.Pod, run.Sources, len(run.Validation.Containers) > 0)
			checkValidators(t, out.Pod, run)
			checkLinks(t, in.Pod, out.Pod, run.Volumes)
		})
	}
	assert.Greater(t, injected, 20, "most golden pods are injected")
}

func hasReloader(pod *corev1.Pod) bool {
	for _, c := range append(slices.Clone(pod.Spec.InitContainers), pod.Spec.Containers...) {
		if c.Name == contract.ReloaderName {
			return true
		}
	}
	return false
}

type goldenInput struct {
	Options struct {
		NamespaceAnnotations map[string]string `json:"namespaceAnnotations"`
	} `json:"options"`
	Pod *corev1.Pod `json:"pod"`
}

type goldenOutput struct {
	Pod *corev1.Pod `json:"pod"`
}

func readGolden(t *testing.T, golden string) (goldenInput, goldenOutput) {
	var in goldenInput
	var out goldenOutput
	raw, err := os.ReadFile(strings.TrimSuffix(golden, ".golden.yaml") + ".yaml")
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(raw, &in))
	raw, err = os.ReadFile(golden)
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(raw, &out))
	require.NotNil(t, out.Pod)
	return in, out
}

func owned(name string) bool { return strings.HasPrefix(name, "hotreload-") }

// container returns the container or init container called name.
func container(t *testing.T, pod *corev1.Pod, name string) corev1.Container {
	t.Helper()
	for _, c := range append(pod.Spec.InitContainers, pod.Spec.Containers...) {
		if c.Name == name {
			return c
		}
	}
	require.Failf(t, "container missing", "no container %s", name)
	return corev1.Container{}
}

// mountsLive reports whether app container c reads a live copy.
func mountsLive(c corev1.Container) bool {
	return slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == contract.LiveVolume })
}

// checkValidators checks each validator against the reloader that asks it:
// it runs the validator binary install copied, with the pod's check, on the
// socket the reloader dials, in the socket directory they share; where its
// app container reads the live copy of V it reads the staged view of V, which
// resolves through the live copy of V mounted at the candidate directory.
func checkValidators(t *testing.T, pod *corev1.Pod, run contract.Run) {
	reloader := container(t, pod, contract.ReloaderName)
	if len(run.Validation.Containers) > 0 {
		assert.Equal(t, contract.ValidateVolume, mountAt(reloader, run.Validation.SocketDir))
		assert.Equal(t, contract.StagedVolume, mountAt(reloader, run.Validation.StagedDir))
	}
	checks, _ := annotations.ValidatesOf(pod.Annotations, targetsOf(pod, run.Containers))
	var seen []string
	for k, app := range run.Validation.Containers {
		name := contract.ValidatorName
		if k > 0 {
			name += "-" + strconv.Itoa(k)
		}
		v := container(t, pod, name)
		seen = append(seen, name)
		assert.Equal(t, []string{contract.ValidatorBinary}, v.Command)
		assert.Equal(t, contract.BinVolume, mountAt(v, filepath.Dir(contract.ValidatorBinary)))
		got, err := validate.Parse(v.Args)
		require.NoError(t, err)
		assert.Equal(t, validate.CommandLine{Version: contract.Version, Socket: run.Validation.Socket(app), Timeout: validate.DefaultTimeout, Command: checks[app]}, got)
		assert.Equal(t, contract.ValidateVolume, mountAt(v, filepath.Dir(got.Socket)))
		a := container(t, pod, app)
		assert.Equal(t, a.Image, v.Image, "the check runs in the app's image")
		for _, m := range a.VolumeMounts {
			if m.Name != contract.LiveVolume {
				continue
			}
			assert.Equal(t, contract.StagedVolume, mountAt(v, m.MountPath), "the validator reads the staged view at %s", m.MountPath)
			c := mountAt(v, filepath.Join(run.Validation.CandidateDir, m.SubPath))
			assert.Equal(t, contract.LiveVolume, c, "the staged view of %s resolves in the validator", m.SubPath)
		}
	}
	for _, c := range append(pod.Spec.InitContainers, pod.Spec.Containers...) {
		if strings.HasPrefix(c.Name, contract.ValidatorName) {
			assert.Contains(t, seen, c.Name, "every validator has a container the reloader asks")
		}
	}
}

// targetsOf are the names a per-container annotation of pod is read
// against: the reloaded containers, among the pod's own (hotreload's aside).
func targetsOf(pod *corev1.Pod, reloaded []string) annotations.Targets {
	t := annotations.Targets{Reloaded: reloaded}
	for _, c := range append(pod.Spec.InitContainers, pod.Spec.Containers...) {
		if !owned(c.Name) {
			t.All = append(t.All, c.Name)
		}
	}
	return t
}

// mountAt returns the volume c mounts at mountPath, or "".
func mountAt(c corev1.Container, mountPath string) string {
	for _, m := range c.VolumeMounts {
		if m.MountPath == mountPath {
			return m.Name
		}
	}
	return ""
}

// parse runs one of this command's parsers on a container's arguments.
func parse[T any](t *testing.T, parseFn func(*flag.FlagSet, []string) (T, error), args []string) T {
	t.Helper()
	fs := flag.NewFlagSet("reloader", flag.ContinueOnError)
	var stderr bytes.Buffer
	fs.SetOutput(&stderr)
	o, err := parseFn(fs, args)
	require.NoError(t, err, "arguments %q: %s", args, stderr.String())
	return o
}

// downwardEnv resolves c's environment as the kubelet would from the
// downward API, for the fields the reloader uses.
func downwardEnv(t *testing.T, pod *corev1.Pod, c corev1.Container) func(string) string {
	env := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			env[e.Name] = e.Value
			continue
		}
		require.NotNil(t, e.ValueFrom.FieldRef, "env %s", e.Name)
		switch e.ValueFrom.FieldRef.FieldPath {
		case "metadata.name":
			env[e.Name] = pod.Name
		case "metadata.namespace":
			env[e.Name] = namespaceOf(pod)
		default:
			t.Errorf("env %s from unexpected field %s", e.Name, e.ValueFrom.FieldRef.FieldPath)
		}
	}
	return func(k string) string { return env[k] }
}

// namespaceOf returns the pod's namespace; a test pod that names none is
// created in the request's namespace, here "default".
func namespaceOf(pod *corev1.Pod) string {
	if pod.Namespace == "" {
		return "default"
	}
	return pod.Namespace
}

func checkRun(t *testing.T, in goldenInput, pod *corev1.Pod) contract.Run {
	c := container(t, pod, contract.ReloaderName)
	assert.Empty(t, c.Command, "the image's entrypoint is the reloader")
	require.NotEmpty(t, c.Args)
	require.Equal(t, "run", c.Args[0])
	getenv := downwardEnv(t, pod, c)
	got := parseRunArgs(t, c.Args[1:], getenv)

	// The volumes are exactly those whose parts are mounted into the sidecar,
	// each a reloadable volume of the pod, each part where the layout says,
	// a config part with its stable twin.
	sources, parts := checkParts(t, pod, c)
	assert.Equal(t, contract.LiveVolume, mountAt(c, contract.LiveDir))
	// The app containers the reloader may tell: the containers, then the
	// native sidecars, hotreload's own aside.
	var app []string
	for _, ac := range pod.Spec.Containers {
		if !owned(ac.Name) {
			app = append(app, ac.Name)
		}
	}
	for _, ac := range pod.Spec.InitContainers {
		if !owned(ac.Name) && ac.RestartPolicy != nil && *ac.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			app = append(app, ac.Name)
		}
	}
	containers, _ := annotations.ContainersOf(pod.Annotations, app)
	targets := targetsOf(pod, containers)
	deliveries, _ := annotations.DeliveriesOf(pod.Annotations, targets)
	each := map[string]contract.Delivery{}
	for c, d := range deliveries {
		each[c] = contract.Delivery(d)
	}
	checks, _ := annotations.ValidatesOf(pod.Annotations, targets)
	var validation contract.Validation
	for _, c := range containers {
		if checks[c] != nil && mountsLive(container(t, pod, c)) {
			validation.Containers = append(validation.Containers, c)
		}
	}
	if validation.Containers != nil {
		validation.SocketDir, validation.StagedDir, validation.CandidateDir = contract.ValidateDir, contract.StagedDir, contract.CandidateDir
	}
	require.NotNil(t, c.StartupProbe)
	require.NotNil(t, c.StartupProbe.HTTPGet)
	assert.Equal(t, contract.ReadyPath, c.StartupProbe.HTTPGet.Path)

	want := contract.Run{
		Version:     contract.Version,
		Sources:     contract.Sources{SrcDir: contract.SrcDir, StableDir: contract.StableDir, LiveDir: contract.LiveDir, Volumes: sources, Parts: parts},
		Containers:  containers,
		Validation:  validation,
		WaitRelease: true,
		HealthAddr:  fmt.Sprintf(":%d", c.StartupProbe.HTTPGet.Port.IntValue()),
		ExchangeURL: contract.DefaultExchangeURL,
		Timing:      contract.DefaultTiming,
		PodName:     pod.Name, PodNamespace: namespaceOf(pod),
	}
	want.SetDeliveries(each)
	assert.Equal(t, want, got)
	for _, c := range containers {
		assert.Equal(t, each[c], got.DeliveryOf(c), "container %s is told as its annotations say", c)
	}

	// The probe's path answers once the live copy exists.
	h := healthHandler(readyFunc(func() bool { return true }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, c.StartupProbe.HTTPGet.Path, nil))
	assert.Equal(t, http.StatusOK, rec.Code)

	startsReady(t, got, getenv(contract.ExchangeCAEnv))
	return got
}

// parseRunArgs parses a sidecar's arguments with the reloader's own parser,
// and requires that no value was replaced: the webhook writes only values
// the reloader can use.
func parseRunArgs(t *testing.T, args []string, getenv func(string) string) contract.Run {
	t.Helper()
	fs := flag.NewFlagSet("reloader run", flag.ContinueOnError)
	var stderr bytes.Buffer
	fs.SetOutput(&stderr)
	got, warnings, err := parseRun(fs, args, getenv)
	require.NoError(t, err, "arguments %q: %s", args, stderr.String())
	require.Empty(t, warnings, "arguments %q", args)
	return got
}

// startsReady builds the sidecar from r exactly as `reloader run` does and
// runs it, on real directories written as the kubelet writes volumes (every
// part's candidate, and its stable twin) and with an API server that refuses
// every connection, until its startup probe would pass: then the app starts.
func startsReady(t *testing.T, r contract.Run, exchangeCA string) {
	t.Helper()
	root := t.TempDir()
	r.SrcDir, r.StableDir, r.LiveDir = filepath.Join(root, "src"), filepath.Join(root, "stable"), filepath.Join(root, "live")
	for _, v := range r.Sources.Layout(r.Version) {
		for _, p := range v.Parts {
			for _, dir := range []string{p.Candidate, p.Stable} {
				if dir != "" {
					require.NoError(t, kubeletdir.Write(dir, map[string]kubeletdir.File{"app.conf": {Data: []byte("a=1"), Mode: 0o644}}))
				}
			}
		}
	}
	r.Kubeconfig = unreachableKubeconfig(t)
	rl, err := newReloader(r, exchangeCA)
	require.NoError(t, err, "the sidecar builds from %q", r.Args())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rl.Run(ctx) }()
	var stopped error
	require.Eventually(t, func() bool {
		select {
		case err := <-done:
			stopped = fmt.Errorf("the sidecar stopped: %v", err)
			return true
		default:
		}
		return rl.Ready()
	}, 30*time.Second, 5*time.Millisecond, "the sidecar becomes ready")
	require.NoError(t, stopped)
	cancel()
	require.NoError(t, <-done)
}

// unreachableKubeconfig writes a kubeconfig for an API server that refuses
// every connection.
func unreachableKubeconfig(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	f := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, os.WriteFile(f, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "http://`+addr+`"}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
users: [{name: u, user: {}}]
current-context: c
`), 0o600))
	return f
}

// checkParts checks the sidecar's mounts of the reloaded volumes' parts
// against the pod's volumes, and returns the reloaded volumes and the parts of
// those of several.
func checkParts(t *testing.T, pod *corev1.Pod, c corev1.Container) ([]string, map[string][]contract.PartKind) {
	t.Helper()
	var vols []string
	var parts map[string][]contract.PartKind
	for _, m := range c.VolumeMounts {
		rel, ok := strings.CutPrefix(m.MountPath, contract.SrcDir+"/")
		if !ok {
			continue
		}
		v, _, _ := strings.Cut(rel, "/")
		if !slices.Contains(vols, v) {
			vols = append(vols, v)
		}
	}
	for _, v := range vols {
		vol := podVolume(t, pod, v)
		assert.True(t, revision.Reloadable(vol), "volume %s is reloadable", v)
		var want []contract.PartKind
		var sources []corev1.VolumeProjection // nil for a configMap or secret volume
		if vol.Projected != nil {
			for _, s := range vol.Projected.Sources {
				switch {
				case s.ConfigMap != nil, s.Secret != nil:
					want = append(want, contract.PartConfig)
				case s.DownwardAPI != nil:
					want = append(want, contract.PartDownward)
				}
				sources = append(sources, s)
			}
		} else {
			want = []contract.PartKind{contract.PartConfig}
		}
		if len(want) > 1 {
			if parts == nil {
				parts = map[string][]contract.PartKind{}
			}
			parts[v] = want
		}
		for i, k := range want {
			cand := podVolume(t, pod, mountAt(c, contract.CandidatePath(v, i)))
			if len(want) == 1 {
				assert.Equal(t, v, cand.Name, "a volume of one part is mounted itself")
			} else {
				require.NotNil(t, cand.Projected, "part %d of %s", i, v)
				assert.Equal(t, vol.Projected.DefaultMode, cand.Projected.DefaultMode)
				assert.Equal(t, []corev1.VolumeProjection{sources[i]}, cand.Projected.Sources, "part %d of %s is its source", i, v)
			}
			stableMount := mountAt(c, contract.StablePath(v, i))
			if k != contract.PartConfig {
				assert.Empty(t, stableMount, "a downwardAPI part has no stable twin")
				continue
			}
			twin := podVolume(t, pod, stableMount)
			assert.True(t, strings.HasPrefix(twin.Name, contract.StableVolumePrefix), twin.Name)
			var name string
			var optional *bool
			switch {
			case twin.ConfigMap != nil:
				name, optional = twin.ConfigMap.Name, twin.ConfigMap.Optional
			case twin.Secret != nil:
				name, optional = twin.Secret.SecretName, twin.Secret.Optional
			case twin.Projected != nil && len(twin.Projected.Sources) == 1 && twin.Projected.Sources[0].ConfigMap != nil:
				name, optional = twin.Projected.Sources[0].ConfigMap.Name, twin.Projected.Sources[0].ConfigMap.Optional
			case twin.Projected != nil && len(twin.Projected.Sources) == 1 && twin.Projected.Sources[0].Secret != nil:
				name, optional = twin.Projected.Sources[0].Secret.Name, twin.Projected.Sources[0].Secret.Optional
			}
			assert.True(t, strings.HasPrefix(name, "hotreload-stable-"), "the twin of part %d of %s mounts a stable copy, not %q", i, v, name)
			assert.Equal(t, ptrTo(true), optional, "a stable copy may not exist yet: the twin is optional")
		}
	}
	return vols, parts
}

func ptrTo[T any](v T) *T { return &v }

func podVolume(t *testing.T, pod *corev1.Pod, name string) corev1.Volume {
	t.Helper()
	for _, v := range pod.Spec.Volumes {
		if v.Name == name {
			return v
		}
	}
	require.Failf(t, "volume missing", "no volume %s", name)
	return corev1.Volume{}
}

func checkInstall(t *testing.T, pod *corev1.Pod, sources contract.Sources, validator bool) {
	c := container(t, pod, contract.InstallName)
	assert.Empty(t, c.Command, "the image's entrypoint is the reloader")
	require.NotEmpty(t, c.Args)
	require.Equal(t, "install", c.Args[0])
	got := parse(t, parseInstall, c.Args[1:])
	assert.Equal(t, contract.Install{Version: contract.Version, To: contract.BinDir, Validator: validator, Timeout: contract.DefaultInstallTimeout, Sources: sources}, got,
		"install writes the live copies run keeps")
	assert.Equal(t, contract.BinVolume, mountAt(c, got.To))
	assert.Equal(t, contract.LiveVolume, mountAt(c, got.LiveDir))
	run := container(t, pod, contract.ReloaderName)
	for _, v := range got.Sources.Layout(got.Version) {
		for _, p := range v.Parts {
			for _, dir := range []string{p.Candidate, p.Stable} {
				if dir != "" {
					assert.Equal(t, mountAt(run, dir), mountAt(c, dir), "install mounts %s as the sidecar does", dir)
				}
			}
		}
	}
}

// checkLinks checks each link step: it runs the installed binary, copies
// into the link volumes it mounts the directories the app container mounts
// them over, and links exactly the app's former subPath files into the live
// copies of reloaded volumes.
func checkLinks(t *testing.T, before, pod *corev1.Pod, volumes []string) {
	for _, lc := range pod.Spec.InitContainers {
		if lc.Name != contract.LinkName && !strings.HasPrefix(lc.Name, contract.LinkName+"-") {
			continue
		}
		assert.Equal(t, contract.LinkCommand(), lc.Command, lc.Name)
		assert.Equal(t, contract.BinVolume, mountAt(lc, path.Dir(contract.ReloaderBinary)))
		got := parse(t, parseLink, lc.Args)

		// The app container this step prepares mounts its link volumes.
		var app *corev1.Container
		var wantCopies []contract.DirCopy
		for _, m := range lc.VolumeMounts {
			if !strings.HasPrefix(m.Name, contract.LinkVolumePrefix) {
				continue
			}
			assert.Equal(t, path.Join(contract.LinkDir, strings.TrimPrefix(m.Name, contract.LinkVolumePrefix)), m.MountPath)
			apps := slices.Concat(pod.Spec.Containers, pod.Spec.InitContainers) // a native sidecar's too
			for i, ac := range apps {
				if owned(ac.Name) {
					continue
				}
				for _, am := range ac.VolumeMounts {
					if am.Name == m.Name {
						if app == nil {
							app = &apps[i]
						}
						assert.Equal(t, app.Name, ac.Name, "%s serves one app container", lc.Name)
						wantCopies = append(wantCopies, contract.DirCopy{From: am.MountPath, To: m.MountPath})
					}
				}
			}
		}
		require.NotNil(t, app, "%s prepares an app container", lc.Name)
		assert.Equal(t, app.Image, lc.Image, "%s runs in the app's image", lc.Name)
		assert.ElementsMatch(t, wantCopies, got.Copies)
		assert.Empty(t, mountAt(*app, contract.LiveDir), "the app does not see every live copy of the pod")

		// The links replace the app's subPath mounts of reloaded volumes that
		// the mutation removed.
		var orig corev1.Container
		for _, c := range slices.Concat(before.Spec.Containers, before.Spec.InitContainers) {
			if c.Name == app.Name {
				orig = c
			}
		}
		var wantLinks []contract.FileLink
		for _, m := range orig.VolumeMounts {
			if m.SubPath == "" || !slices.Contains(volumes, m.Name) || mountAt(*app, m.MountPath) != "" {
				continue
			}
			wantLinks = append(wantLinks, contract.FileLink{File: m.MountPath, Target: path.Join(contract.LiveDir, m.Name, m.SubPath)})
		}
		assert.ElementsMatch(t, wantLinks, got.Links)
		for _, l := range wantLinks {
			v, _, _ := strings.Cut(strings.TrimPrefix(l.Target, contract.LiveDir+"/"), "/")
			assert.Contains(t, app.VolumeMounts, corev1.VolumeMount{Name: contract.LiveVolume, SubPath: v, MountPath: contract.LivePath(v), ReadOnly: true},
				"the app sees the live copy of %s its link points into", v)
		}
		for _, l := range got.Links {
			assert.True(t, slices.ContainsFunc(got.Copies, func(c contract.DirCopy) bool {
				return strings.HasPrefix(l.File, c.From+"/")
			}), "%s lies in a copied directory", l.File)
		}
	}
}

type readyFunc func() bool

func (f readyFunc) Ready() bool { return f() }
