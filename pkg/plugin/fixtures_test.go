package plugin

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/contract"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// usedGolden records the golden files the tests compared with.
var usedGolden = map[string]bool{}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if code == 0 && !*update && flag.Lookup("test.run").Value.String() == "" {
		files, _ := filepath.Glob(filepath.Join("testdata", "*.golden"))
		for _, f := range files {
			if !usedGolden[f] {
				fmt.Fprintf(os.Stderr, "golden file %s is used by no test: remove it\n", f)
				code = 1
			}
		}
	}
	os.Exit(code)
}

// golden compares got with testdata/NAME.golden, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	usedGolden[path] = true
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./pkg/cli -update to write it")
	assert.Equal(t, string(want), got)
}

// now is the time every fixture is seen from.
var now = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

// before returns the time d before now.
func before(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(-d)) }

func beforePtr(d time.Duration) *metav1.Time { return ptr.To(before(d)) }

const (
	stableRev    = "5d41402abc4b"
	candidateRev = "9e107d9d372b"
	olderRev     = "c4ca4238a0b9"
)

// appConfig is the source most fixtures are about.
var appConfig = source{Kind: v1alpha1.SourceConfigMap, Name: "app-config"}

// podBuilder builds a pod that opts in and mounts configmap/app-config.
type podBuilder struct {
	pod      corev1.Pod
	plain    bool     // no reloader
	reloaded []string // the volumes its reloader reloads; nil: every one
}

func newPod(name string) *podBuilder {
	p := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: "shop", UID: types.UID("uid-" + name), CreationTimestamp: before(2 * time.Hour),
			Labels:      map[string]string{annotations.EnableLabel: annotations.EnableValue},
			Annotations: map[string]string{},
		},
		Spec: corev1.PodSpec{Volumes: []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{
			ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "app-config"}}}}}},
		Status: corev1.PodStatus{
			Conditions:        []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "app"}},
		},
	}
	return &podBuilder{pod: p}
}

// of makes the pod's controller the given ReplicaSet or other owner.
func (b *podBuilder) of(kind, name string) *podBuilder {
	apiVersion := "apps/v1"
	b.pod.OwnerReferences = []metav1.OwnerReference{{APIVersion: apiVersion, Kind: kind, Name: name, UID: types.UID("uid-" + name), Controller: ptr.To(true)}}
	return b
}

// runs says the pod was released rev and runs it.
func (b *podBuilder) runs(rev string) *podBuilder { return b.releasedRev(rev).appliedRev(rev) }

func (b *podBuilder) releasedRev(rev string) *podBuilder {
	b.pod.Annotations[annotations.Released] = rev
	return b
}

func (b *podBuilder) appliedRev(rev string) *podBuilder {
	b.pod.Labels[annotations.Applied] = rev
	return b
}

// holds says the pod was given candidate rev of the source with key src.
func (b *podBuilder) holds(src, rev string) *podBuilder {
	b.pod.Annotations[annotations.Candidates] = src + "=" + rev
	return b
}

func (b *podBuilder) failed(rev, reason string) *podBuilder {
	b.pod.Annotations[annotations.Failed] = annotations.FormatFailed(rev, reason)
	return b
}

// warnings sets the pod's hotreload/warnings, as written.
func (b *podBuilder) warnings(v string) *podBuilder {
	b.pod.Annotations[annotations.Warnings] = v
	return b
}

func (b *podBuilder) notReady() *podBuilder {
	b.pod.Status.Conditions[0].Status = corev1.ConditionFalse
	return b
}

func (b *podBuilder) restarted(n int32) *podBuilder {
	b.pod.Status.ContainerStatuses[0].RestartCount = n
	// the reloader's restarts, an init container's, are not the app's
	b.pod.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "hotreload-reloader", RestartCount: 7}}
	return b
}

func (b *podBuilder) mounting(v corev1.VolumeSource) *podBuilder {
	b.pod.Spec.Volumes = []corev1.Volume{{Name: "config", VolumeSource: v}}
	return b
}

func (b *podBuilder) optedOut() *podBuilder {
	delete(b.pod.Labels, annotations.EnableLabel)
	return b
}

// alsoMounting adds volume name of source v.
func (b *podBuilder) alsoMounting(name string, v corev1.VolumeSource) *podBuilder {
	b.pod.Spec.Volumes = append(b.pod.Spec.Volumes, corev1.Volume{Name: name, VolumeSource: v})
	return b
}

// notInjected leaves the pod without a reloader, as the webhook's outage
// leaves it: it opts in, yet consumes nothing through hotreload.
func (b *podBuilder) notInjected() *podBuilder {
	b.plain = true
	return b
}

// app gives the pod its app container, mounting volume config at
// /etc/app: a pod the webhook injects.
func (b *podBuilder) app() *podBuilder {
	b.pod.Spec.Containers = []corev1.Container{{Name: "app", Image: "app", VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: "/etc/app"}}}}
	return b
}

// reloading makes the pod's reloader reload only vols, as hotreload/volumes
// asks.
func (b *podBuilder) reloading(vols ...string) *podBuilder {
	b.reloaded = vols
	return b
}

// build returns the pod, injected: its reloader reloads every volume it
// mounts (or those reloading names), as the webhook writes its command line.
func (b *podBuilder) build() corev1.Pod {
	p := *b.pod.DeepCopy()
	if b.plain {
		return p
	}
	run := contract.Run{Version: contract.Version, Containers: []string{"app"}, WaitRelease: true,
		Sources: contract.Sources{SrcDir: contract.SrcDir, StableDir: contract.StableDir, LiveDir: contract.LiveDir}}
	run.Volumes = b.reloaded
	if run.Volumes == nil {
		for _, v := range p.Spec.Volumes {
			run.Volumes = append(run.Volumes, v.Name)
		}
	}
	p.Spec.InitContainers = append(p.Spec.InitContainers, corev1.Container{Name: contract.ReloaderName, Args: run.Args()})
	return p
}

func pods(bs ...*podBuilder) []corev1.Pod {
	out := make([]corev1.Pod, len(bs))
	for i, b := range bs {
		out[i] = b.build()
	}
	return out
}

// replicaSet is the metadata of a ReplicaSet of deployment.
func replicaSet(name, deployment string) metav1.PartialObjectMetadata {
	return metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", UID: types.UID("uid-" + name),
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: deployment, UID: "uid-" + types.UID(deployment), Controller: ptr.To(true)}}}}
}

// newRelease is the release of s in namespace shop, created a day ago.
func newRelease(s source, st v1alpha1.ConfigReleaseStatus) *v1alpha1.ConfigRelease {
	return &v1alpha1.ConfigRelease{
		ObjectMeta: metav1.ObjectMeta{Name: s.releaseName(), Namespace: "shop", UID: types.UID("uid-" + s.releaseName()), CreationTimestamp: before(26 * time.Hour)},
		Spec:       v1alpha1.ConfigReleaseSpec{Source: v1alpha1.Source{Kind: s.Kind, Name: s.Name}},
		Status:     st,
	}
}

// render calls f with a buffer and returns what it wrote.
func render(f func(w *strings.Builder)) string {
	var b strings.Builder
	f(&b)
	return b.String()
}
