//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
)

// TestUpgradeKeepsInjectedPodsWorking installs version N (the install the
// other tests run), then N+1 over it as deploy/README says: make push and make
// manifests of another version (the same code with another version stamp:
// other binaries, other digests), kubectl apply -f of its install file. While
// the webhook rolls over, every pod it injects gets N's or N+1's reloader
// image, both in the registry; afterwards N+1's. The pods N injected are not
// replaced, and their sidecars serve a config edit under N+1's controller; a
// pod created after the upgrade runs N+1's sidecar. Then the install goes
// back to N the same way (kubectl apply -f of N's file), and every pod, of
// either sidecar, serves the next edit.
func TestUpgradeKeepsInjectedPodsWorking(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	cs := clusterClient(t)
	installHotreload(ctx, t, cs)
	n := installedImages(ctx, t, cs)
	d := demo{name: "upgrade", replicas: 2, subPath: true, inject: true}
	pods := d.start(ctx, t, cs, uniqueConfig("version 1"))
	versionN := injectedVersion(ctx, t, cs, d.ns)
	before := statuses(ctx, t, pods)
	imagesN := podImages(ctx, t, cs, d.ns, pods)

	versionN1 := versionN + "-next"
	fileN1 := pushRelease(ctx, t, n, "dev-next", versionN1)
	t.Cleanup(func() { rollOver(context.Background(), t, cs, installFile(t)) })
	admitted := admittedDuring(ctx, t, cs, d.ns, func() { rollOver(ctx, t, cs, fileN1) })
	n1 := installedImages(ctx, t, cs)
	require.NotEqual(t, parseRef(t, n.reloader).digest, parseRef(t, n1.reloader).digest, "N+1's reloader is another image")
	require.NotEqual(t, parseRef(t, n.webhook).digest, parseRef(t, n1.webhook).digest, "N+1's webhook is another image")
	t.Logf("pods admitted while the webhook rolled over, by the images hotreload added: %v", admitted)
	for images := range admitted {
		if images == "" {
			continue // admitted by no webhook (failurePolicy: Ignore), as written
		}
		require.Contains(t, []string{n.reloader, n1.reloader}, images, "a pod admitted during the upgrade")
		r := parseRef(t, images)
		require.Equal(t, r.digest, manifestDigest(ctx, t, r, r.digest), "%s is in the registry", r)
	}
	require.Equal(t, versionN1, injectedVersion(ctx, t, cs, d.ns), "N+1 injects pods once it is rolled out")

	t.Run("the pods N injected serve an edit under N+1, in place", func(t *testing.T) {
		v2 := uniqueConfig("version 2")
		waitServing(ctx, t, pods, v2, d.edit(ctx, t, cs, v2), 30*time.Second)
		waitApplied(ctx, t, cs, d.ns, pods, releasedRevision(ctx, t, cs, d.ns, pods))
		requireSameProcesses(ctx, t, cs, d, pods, before)
		require.Equal(t, imagesN, podImages(ctx, t, cs, d.ns, pods), "the pods run N's sidecar still")
	})

	// Once version 2 is stable, a new pod starts on it.
	waitRelease(ctx, t, cs, d.ns, d.name, "version 2 complete", time.Minute, isPhase(v1alpha1.PhaseComplete, sourceRevision(uniqueConfigOf(t, ctx, cs, d.ns, d.name))))
	d.replicas = 3
	patchDeployment(ctx, t, cs, d.ns, d.name, `{"spec":{"replicas":3}}`)
	all := waitDeploymentPods(ctx, t, cs, d.ns, "app="+d.name, 3)
	added := map[string]string{}
	for name, ip := range all {
		if _, ok := pods[name]; !ok {
			added[name] = ip
		}
	}
	require.Len(t, added, 1)
	t.Run("a pod created after the upgrade runs N+1's sidecar", func(t *testing.T) {
		for name := range added {
			p, err := cs.CoreV1().Pods(d.ns).Get(ctx, name, metav1.GetOptions{})
			require.NoError(t, err)
			require.Equal(t, versionN1, p.Annotations["hotreload/injected"])
			require.Equal(t, pulled(parseRef(t, n1.reloader)), reloaderImageIDs(p), "pod %s runs N+1's reloader image", name)
		}
		requireServing(ctx, t, added, uniqueConfigOf(t, ctx, cs, d.ns, d.name), "the new pod serves the current config")
	})

	// Back to N, as a rollback of the install is done.
	rollOver(ctx, t, cs, installFile(t))
	require.Equal(t, n, installedImages(ctx, t, cs), "N is installed again")
	require.Equal(t, versionN, injectedVersion(ctx, t, cs, d.ns), "N injects pods again")
	t.Run("after going back to N, the pods of both sidecars serve an edit in place", func(t *testing.T) {
		before := statuses(ctx, t, all)
		v3 := uniqueConfig("version 3")
		waitServing(ctx, t, all, v3, d.edit(ctx, t, cs, v3), 30*time.Second)
		waitApplied(ctx, t, cs, d.ns, all, releasedRevision(ctx, t, cs, d.ns, all))
		requireSameProcesses(ctx, t, cs, d, all, before)
	})
}

// rollOver applies the install file and waits until its webhook is rolled
// out and injects pods.
func rollOver(ctx context.Context, t testing.TB, cs kubernetes.Interface, file string) {
	t.Helper()
	apply(ctx, t, file)
	kubectl(ctx, t, "-n", hotreloadNamespace, "rollout", "status", "deployment/hotreload-webhook", "--timeout=3m")
	waitInjecting(ctx, t, cs)
}

// pushRelease makes another release of this tree as its users do: make push
// and make manifests of the images to the registry of the install from,
// tagged tag, with version stamped in the binaries. It returns the release's
// install file (dist/hotreload-TAG-selfsigned.yaml).
func pushRelease(ctx context.Context, t testing.TB, from images, tag, version string) string {
	t.Helper()
	r := parseRef(t, from.webhook)
	repo := r.host + "/" + path.Dir(r.repo)
	start := time.Now()
	runMake(ctx, t, "push", "manifests", "IMAGE_REPO="+repo, "IMAGE_TAG="+tag, "VERSION="+version)
	t.Logf("make push manifests IMAGE_TAG=%s VERSION=%s: %v", tag, version, time.Since(start).Round(time.Second))
	return filepath.Join(repoRoot(), "dist", "hotreload-"+tag+"-selfsigned.yaml")
}

// runMake runs make with args in the repository, as a user does, and fails
// the test with its output when it fails.
func runMake(ctx context.Context, t testing.TB, args ...string) {
	t.Helper()
	args = append([]string{"--no-print-directory"}, args...)
	cmd := exec.CommandContext(ctx, "make", args...)
	cmd.Dir = repoRoot()
	// Not the settings of the make that runs these tests.
	for _, e := range os.Environ() {
		if k, _, _ := strings.Cut(e, "="); k != "MAKEFLAGS" && k != "MAKELEVEL" && k != "MFLAGS" {
			cmd.Env = append(cmd.Env, e)
		}
	}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "make %s:\n%s", strings.Join(args, " "), out)
}

// injectedVersion is the version that injects pods in the enabled namespace
// ns now: the hotreload/injected annotation of a dry-run pod.
func injectedVersion(ctx context.Context, t testing.TB, cs kubernetes.Interface, ns string) string {
	t.Helper()
	p, err := cs.CoreV1().Pods(ns).Create(ctx, probePod(), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	require.NoError(t, err)
	require.NotEmpty(t, p.Annotations["hotreload/injected"], "a dry-run pod was not injected")
	return p.Annotations["hotreload/injected"]
}

// probePod is a pod that asks for hotreload, for dry runs.
func probePod() *corev1.Pod {
	p := demoPod("probe", "none")
	p.Labels["hotreload/enable"] = "true"
	return p
}

// admittedDuring creates dry-run pods in the enabled namespace ns, one every
// 100 ms, while during runs, and counts them by the images hotreload added to
// them (comma-separated; "" when not injected).
func admittedDuring(ctx context.Context, t testing.TB, cs kubernetes.Interface, ns string, during func()) map[string]int {
	t.Helper()
	admitted := map[string]int{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			p, err := cs.CoreV1().Pods(ns).Create(ctx, probePod(), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			if err != nil {
				admitted["error: "+err.Error()]++
				continue
			}
			admitted[strings.Join(addedImages(p), ",")]++
		}
	}()
	func() {
		defer func() { close(stop); wg.Wait() }()
		during()
	}()
	return admitted
}

// addedImages are the images of p's containers that the app's is not,
// sorted, each once.
func addedImages(p *corev1.Pod) []string {
	var out []string
	for _, c := range append(p.Spec.InitContainers, p.Spec.Containers...) {
		if c.Image != "hotreload/demoapp:dev" && !slices.Contains(out, c.Image) {
			out = append(out, c.Image)
		}
	}
	slices.Sort(out)
	return out
}

// podImages is, per pod, the image of each of its containers.
func podImages(ctx context.Context, t testing.TB, cs kubernetes.Interface, ns string, pods map[string]string) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	for name := range pods {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		require.NoError(t, err)
		out[name] = map[string]string{}
		for _, c := range append(p.Spec.InitContainers, p.Spec.Containers...) {
			out[name][c.Name] = c.Image
		}
	}
	return out
}

// TestUninstallKeepsRunningPodsAndRemovesWhatHotreloadMade uninstalls as
// deploy/README says: kubectl delete -f of the install file. It removes
// hotreload's namespace and cluster-wide objects; with the CRD the
// ConfigReleases go, and the garbage collector deletes their stable and kept
// copies; with hotreload's namespace, which owns them, what the controller
// made in each enabled namespace (the reloader's ServiceAccount and
// RoleBinding, the controller's RoleBinding, the exchange's CA bundle).
// Nothing labelled app.kubernetes.io/managed-by=hotreload is left in any
// namespace. The injected pods keep running, neither replaced nor restarted,
// and serve their last config: after the kubelet dropped the stable copies
// from their volumes, and after a config edit that nothing releases any more.
// hotreload is installed again at the end.
func TestUninstallKeepsRunningPodsAndRemovesWhatHotreloadMade(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cs := clusterClient(t)
	installHotreload(ctx, t, cs)
	reinstalled := false
	t.Cleanup(func() {
		if !reinstalled {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			installHotreload(ctx, t, cs)
		}
	})
	d := demo{name: "uninstall", replicas: 2, subPath: true, inject: true}
	pods := d.start(ctx, t, cs, uniqueConfig("version 1"))
	s := demo{ns: d.ns, name: "uninstall-secret", secret: true, inject: true}
	secretConfig := uniqueConfig("secret 1")
	secretPods := s.create(ctx, t, cs, secretConfig)
	last := uniqueConfig("version 2")
	waitServing(ctx, t, pods, last, d.edit(ctx, t, cs, last), 30*time.Second)
	waitApplied(ctx, t, cs, d.ns, pods, releasedRevision(ctx, t, cs, d.ns, pods))
	before, beforeSecret := statuses(ctx, t, pods), statuses(ctx, t, secretPods)
	made := waitObjects(ctx, t, cs, d.ns, "what hotreload made for the pods", func(o namespaceObjects) bool {
		return len(o.configReleases) == 2 && slices.ContainsFunc(o.configMaps, isPrefix("hotreload-rev-")) &&
			slices.Contains(o.secrets, "hotreload-stable-uninstall-secret")
	})
	require.Equal(t, []string{"default", "hotreload-reloader"}, made.serviceAccounts)
	require.Equal(t, []string{"hotreload-controller", "hotreload-reloader"}, made.roleBindings)
	require.Equal(t, []string{"configmap-uninstall", "secret-uninstall-secret"}, made.configReleases)
	require.Subset(t, made.configMaps, []string{"hotreload-exchange-ca", "hotreload-stable-uninstall", "kube-root-ca.crt", "uninstall"})

	kubectl(ctx, t, "delete", "-f", installFile(t))
	require.Empty(t, kubectl(ctx, t, "get", "namespaces,customresourcedefinitions,clusterroles,clusterrolebindings,"+
		"mutatingwebhookconfigurations,validatingadmissionpolicies,validatingadmissionpolicybindings",
		"-l", "app.kubernetes.io/part-of=hotreload", "-o", "name"), "the install's objects are gone")
	waitObjects(ctx, t, cs, d.ns, "the releases, their copies and the controller's objects gone", func(o namespaceObjects) bool {
		return o.equal(namespaceObjects{
			serviceAccounts: []string{"default"},
			configMaps:      []string{"kube-root-ca.crt", "uninstall"},
			secrets:         []string{"uninstall-secret"},
		})
	})
	require.Empty(t, kubectl(ctx, t, "get", "serviceaccounts,roles,rolebindings,configmaps,secrets", "-A",
		"-l", "app.kubernetes.io/managed-by=hotreload", "-o", "name"), "nothing hotreload made is left in any namespace")

	t.Run("the pods serve their last config once the kubelet dropped the stable copies", func(t *testing.T) {
		for _, ps := range []map[string]string{pods, secretPods} {
			waitVolumes(ctx, t, cs, d.ns, ps, "the stable copies emptied", func(v kubeletVolume) bool {
				return !strings.HasPrefix(v.name, "hotreload-stable-") || len(v.files) == 0
			})
		}
		requireServing(ctx, t, pods, last, "its last config")
		requireServing(ctx, t, secretPods, secretConfig, "its last config")
		requireSamePIDs(ctx, t, cs, d, pods, before)
		requireSamePIDs(ctx, t, cs, s, secretPods, beforeSecret)
	})
	t.Run("an edit after the uninstall reaches the pods' volumes, not their apps", func(t *testing.T) {
		edit := uniqueConfig("version 3")
		d.edit(ctx, t, cs, edit)
		waitVolumes(ctx, t, cs, d.ns, pods, "the kubelet wrote the edit", func(v kubeletVolume) bool {
			return v.name != "config" || v.files["config"] == edit
		})
		requireServing(ctx, t, pods, last, "its last config: nothing releases the edit")
		requireSamePIDs(ctx, t, cs, d, pods, before)
	})

	// Installed again, the controller makes its objects anew; the sidecars,
	// whose reloader tokens named the ServiceAccount deleted, trade their pod
	// tokens again (a 401 resets the token), and report what they apply.
	installHotreload(ctx, t, cs)
	reinstalled = true
	t.Run("installed again, the same pods get the edit made meanwhile, then the next", func(t *testing.T) {
		meanwhile := uniqueConfigOf(t, ctx, cs, d.ns, d.name)
		waitServing(ctx, t, pods, meanwhile, time.Now(), time.Minute)
		next := uniqueConfig("version 4")
		waitServing(ctx, t, pods, next, d.edit(ctx, t, cs, next), 30*time.Second)
		waitApplied(ctx, t, cs, d.ns, pods, releasedRevision(ctx, t, cs, d.ns, pods))
		requireSameProcesses(ctx, t, cs, d, pods, before)
	})
}

func isPrefix(prefix string) func(string) bool {
	return func(s string) bool { return strings.HasPrefix(s, prefix) }
}

// namespaceObjects are the names, sorted, of the objects of a namespace that
// hotreload may make.
type namespaceObjects struct {
	serviceAccounts, roleBindings, configMaps, secrets, configReleases []string
}

func (o namespaceObjects) equal(p namespaceObjects) bool {
	return slices.Equal(o.serviceAccounts, p.serviceAccounts) && slices.Equal(o.roleBindings, p.roleBindings) &&
		slices.Equal(o.configMaps, p.configMaps) && slices.Equal(o.secrets, p.secrets) && slices.Equal(o.configReleases, p.configReleases)
}

// listObjects lists the objects of ns that hotreload may make; without the
// ConfigRelease CRD, there are none of those.
func listObjects(ctx context.Context, t testing.TB, cs kubernetes.Interface, ns string) namespaceObjects {
	t.Helper()
	var o namespaceObjects
	sas, err := cs.CoreV1().ServiceAccounts(ns).List(ctx, metav1.ListOptions{})
	o.serviceAccounts = itemNames(t, sas, err)
	rbs, err := cs.RbacV1().RoleBindings(ns).List(ctx, metav1.ListOptions{})
	o.roleBindings = itemNames(t, rbs, err)
	cms, err := cs.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
	o.configMaps = itemNames(t, cms, err)
	secrets, err := cs.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
	o.secrets = itemNames(t, secrets, err)
	var rels v1alpha1.ConfigReleaseList
	if err := releases(t).List(ctx, &rels, client.InNamespace(ns)); err == nil {
		o.configReleases = itemNames(t, &rels, nil)
	} else {
		require.True(t, meta.IsNoMatchError(err) || apierrors.IsNotFound(err), "listing ConfigReleases: %v", err)
	}
	return o
}

// itemNames returns the sorted names of the items of list, which err, when
// not nil, failed to get.
func itemNames(t testing.TB, list runtime.Object, err error) []string {
	t.Helper()
	require.NoError(t, err)
	items, err := meta.ExtractList(list)
	require.NoError(t, err)
	var out []string
	for _, x := range items {
		m, err := meta.Accessor(x)
		require.NoError(t, err)
		out = append(out, m.GetName())
	}
	slices.Sort(out)
	return out
}

// waitObjects waits until the objects of ns satisfy ok, and returns them.
func waitObjects(ctx context.Context, t testing.TB, cs kubernetes.Interface, ns, what string, ok func(namespaceObjects) bool) namespaceObjects {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		o := listObjects(ctx, t, cs, ns)
		if ok(o) {
			return o
		}
		require.True(t, time.Now().Before(deadline), "%s: not after 1m; the namespace holds %+v", what, o)
		time.Sleep(250 * time.Millisecond)
	}
}

// kubeletVolume is a configMap or secret volume of a pod as the kubelet
// wrote it: its files (the names beside ..data) and their content.
type kubeletVolume struct {
	name  string
	files map[string]string
}

// waitVolumes waits until every configMap and secret volume of every pod
// satisfies ok. Pod updates make the kubelet sync a pod's volumes at once:
// the pods are annotated again at each look.
func waitVolumes(ctx context.Context, t testing.TB, cs kubernetes.Interface, ns string, pods map[string]string, what string, ok func(kubeletVolume) bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		bad := ""
		for name := range pods {
			p, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
			require.NoError(t, err)
			for _, v := range kubeletVolumes(t, p) {
				if !ok(v) {
					bad = fmt.Sprintf("pod %s volume %s: %v", name, v.name, v.files)
				}
			}
		}
		if bad == "" {
			return
		}
		require.True(t, time.Now().Before(deadline), "%s: not after 2m; %s", what, bad)
		for name := range pods {
			patch := fmt.Sprintf(`{"metadata":{"annotations":{"e2e/synced":%q}}}`, time.Now().Format(time.RFC3339Nano))
			_, err := cs.CoreV1().Pods(ns).Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
			require.NoError(t, err)
		}
		time.Sleep(time.Second)
	}
}

// kubeletVolumes reads pod's configMap and secret volumes from the kubelet's
// directory.
func kubeletVolumes(t testing.TB, pod *corev1.Pod) []kubeletVolume {
	t.Helper()
	var out []kubeletVolume
	for _, v := range pod.Spec.Volumes {
		plugin := ""
		switch {
		case v.ConfigMap != nil:
			plugin = "kubernetes.io~configmap"
		case v.Secret != nil:
			plugin = "kubernetes.io~secret"
		default:
			continue
		}
		dir := filepath.Join(repoRoot(), "bin", "cluster", "kubelet", "pods", string(pod.UID), "volumes", plugin, v.Name)
		entries, err := os.ReadDir(dir)
		require.NoError(t, err, "pod %s volume %s", pod.Name, v.Name)
		kv := kubeletVolume{name: v.Name, files: map[string]string{}}
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), "..") {
				continue
			}
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			require.NoError(t, err)
			kv.files[e.Name()] = string(b)
		}
		out = append(out, kv)
	}
	return out
}
