//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// TestNginxAndPhpFpmEachReloadedByItsOwnSignal runs nginx and Debian's
// php-fpm in one pod (testdata/nginx-php-fpm.yaml: nginx passes every request
// to php-fpm over FastCGI, each reads its config from its own ConfigMap
// mounted by subPath, hotreload/signal: nginx=SIGHUP,php-fpm=SIGUSR2) and
// checks what the pod serves through both. An edit of the php-fpm pool's
// GREETING changes the page php-fpm serves and not nginx's header; an edit of
// nginx's header changes the header and not the page. Each edit tells both
// containers, each by its own signal, once: nginx's master logs SIGHUP and no
// other signal (SIGUSR2 would have started a second master), php-fpm's master
// reloads in place (the same PID, re-executed, with a new worker), and the
// reloader reports SIGHUP to nginx and SIGUSR2 to php-fpm (php-fpm's log does
// not name the signal, and Debian's build reloads on SIGHUP too). Both masters
// keep their PIDs, no container restarts, the pod is the same.
func TestNginxAndPhpFpmEachReloadedByItsOwnSignal(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cs := clusterClient(t)
	installHotreload(ctx, t, cs)
	ns := enabledNamespace(ctx, t, cs, "nginx-php-fpm-")
	// The injected pod, both servers as www-data and the sidecar as the same
	// user, meets the restricted level, or no pod starts.
	enforceRestricted(ctx, t, cs, ns)

	cms, dep := appManifests(t, "nginx-php-fpm.yaml")
	data := map[string]map[string]string{}
	for _, cm := range cms {
		data[cm.Name] = cm.Data
		_, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	const (
		header1, header2     = "add_header X-Config v1 always;", "add_header X-Config v2 always;"
		greeting1, greeting2 = `env[GREETING] = "hello, version 1"`, `env[GREETING] = "hello, version 2"`
	)
	require.Equal(t, 1, strings.Count(data["nginx-config"]["nginx.conf"], header1), "testdata's nginx.conf sets X-Config v1")
	require.Equal(t, 1, strings.Count(data["php-fpm-config"]["php-fpm.conf"], greeting1), "testdata's php-fpm.conf sets GREETING")
	_, err := cs.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{})
	require.NoError(t, err)
	pods := waitDeploymentPods(ctx, t, cs, ns, "app=web-php", 1)
	name, ip := keys(pods)[0], pods[keys(pods)[0]]

	p := podNamed(ctx, t, cs, ns, name)
	require.NotEmpty(t, p.Annotations["hotreload/injected"], "pod %s was not injected", name)
	requireSidecarAsApp(t, p)
	containers := containerIDs(p)

	first := waitPage(ctx, t, ip, "the first configs", 0, func(s webPHP) bool {
		return s.Config == "v1" && s.Greeting == "hello, version 1"
	})
	t.Logf("pod %s serves X-Config v1 over %q: nginx master %d, php-fpm master %d, worker %d",
		name, first.Greeting, first.NginxMaster, first.PhpFpmMaster, first.worker)
	// Before any edit, neither master was signalled: php-fpm's started once.
	requireTold(ctx, t, cs, ns, name, "before any edit", told{
		NginxSignals: map[string]int{}, PhpFpmStarts: map[int]int{first.PhpFpmMaster: 1},
	})

	// php-fpm's pool alone: the page changes, nginx's header does not; each
	// master got its own signal.
	data["php-fpm-config"]["php-fpm.conf"] = strings.Replace(data["php-fpm-config"]["php-fpm.conf"], greeting1, greeting2, 1)
	patchConfigMap(ctx, t, cs, ns, "php-fpm-config", data["php-fpm-config"])
	second := waitPage(ctx, t, ip, "the edit of php-fpm's pool", first.worker, func(s webPHP) bool {
		return s.Greeting == "hello, version 2"
	})
	require.Equal(t, webPHP{Config: "v1", Greeting: "hello, version 2", NginxMaster: first.NginxMaster, PhpFpmMaster: first.PhpFpmMaster},
		second.webPHP, "after the edit of php-fpm's pool: nginx's header unchanged, the same masters")
	requireTold(ctx, t, cs, ns, name, "after the edit of php-fpm's pool", told{
		NginxSignals:  map[string]int{fmt.Sprintf("%d SIGHUP", first.NginxMaster): 1},
		PhpFpmReloads: 1,
		PhpFpmStarts:  map[int]int{first.PhpFpmMaster: 2},
		Applied:       1,
	})
	t.Logf("php-fpm's pool edited: pod %s serves %q, X-Config v1; php-fpm worker %d -> %d", name, second.Greeting, first.worker, second.worker)

	// nginx's header alone: the header changes, the page does not; each
	// master got its own signal again.
	data["nginx-config"]["nginx.conf"] = strings.Replace(data["nginx-config"]["nginx.conf"], header1, header2, 1)
	patchConfigMap(ctx, t, cs, ns, "nginx-config", data["nginx-config"])
	third := waitPage(ctx, t, ip, "the edit of nginx's header", second.worker, func(s webPHP) bool {
		return s.Config == "v2"
	})
	require.Equal(t, webPHP{Config: "v2", Greeting: "hello, version 2", NginxMaster: first.NginxMaster, PhpFpmMaster: first.PhpFpmMaster},
		third.webPHP, "after the edit of nginx's header: php-fpm's page unchanged, the same masters")
	requireTold(ctx, t, cs, ns, name, "after the edit of nginx's header", told{
		NginxSignals:  map[string]int{fmt.Sprintf("%d SIGHUP", first.NginxMaster): 2},
		PhpFpmReloads: 2,
		PhpFpmStarts:  map[int]int{first.PhpFpmMaster: 3},
		Applied:       2,
	})
	t.Logf("nginx's header edited: pod %s serves X-Config v2 over %q; php-fpm worker %d -> %d", name, third.Greeting, second.worker, third.worker)

	// The same pod, the same containers, none restarted.
	require.Equal(t, pods, readyPods(ctx, t, cs, ns, "app=web-php"), "the Deployment's pod")
	p = podNamed(ctx, t, cs, ns, name)
	require.Equal(t, containers, containerIDs(p), "pod %s: its containers", name)
	restarts, none := map[string]int32{}, map[string]int32{}
	for _, c := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
		restarts[c.Name], none[c.Name] = c.RestartCount, 0
	}
	require.Equal(t, none, restarts, "pod %s: restarts by container", name)
}

// webPHP is what the pod serves through nginx and php-fpm: at /, nginx's
// X-Config header over php-fpm's page (the pool's GREETING, php-fpm's master
// PID); at /master-pid, nginx's master PID.
type webPHP struct {
	Config       string
	Greeting     string
	NginxMaster  int
	PhpFpmMaster int
}

// page is one look at what the pod serves, with the PID of the php-fpm
// worker that answered: a reload of php-fpm replaces it.
type page struct {
	webPHP
	worker int
}

// waitPage polls the pod, each time on a new connection, until it serves a
// page that done accepts from a php-fpm worker other than oldWorker (0 for
// any), and returns it.
func waitPage(ctx context.Context, t testing.TB, ip, why string, oldWorker int, done func(webPHP) bool) page {
	t.Helper()
	var (
		last page
		err  error
	)
	for deadline := time.Now().Add(time.Minute); ; {
		if last, err = getPage(ctx, ip); err == nil && last.worker != oldWorker && done(last.webPHP) {
			return last
		}
		require.True(t, time.Now().Before(deadline), "%s: not served after a minute; last %+v, error %v", why, last, err)
		time.Sleep(100 * time.Millisecond)
	}
}

// getPage reads / and /master-pid.
func getPage(ctx context.Context, ip string) (page, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+ip+":8080/", nil)
	if err != nil {
		return page{}, err
	}
	resp, err := nginxClient.Do(req)
	if err != nil {
		return page{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return page{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return page{}, fmt.Errorf("GET /: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	var php struct {
		Greeting       string
		Master, Worker int
	}
	if err := json.Unmarshal(body, &php); err != nil {
		return page{}, fmt.Errorf("GET /: %w: %s", err, body)
	}
	pid, err := nginxGet(ctx, "http://"+ip+":8080/master-pid")
	if err != nil {
		return page{}, fmt.Errorf("GET /master-pid: %w", err)
	}
	master, err := strconv.Atoi(strings.TrimSpace(pid))
	if err != nil {
		return page{}, fmt.Errorf("GET /master-pid: %w", err)
	}
	return page{webPHP{Config: resp.Header.Get("X-Config"), Greeting: php.Greeting, NginxMaster: master, PhpFpmMaster: php.Master}, php.Worker}, nil
}

// told is what the pod's logs say its containers were told.
type told struct {
	// NginxSignals counts the signals another process sent nginx's
	// processes, as they logged them ("received from"), by "PID SIGNAME";
	// SIGCHLD, a worker's exit, left out.
	NginxSignals map[string]int
	// PhpFpmReloads counts the reloads php-fpm's master began ("Reloading
	// in progress"), on a signal it does not name.
	PhpFpmReloads int
	// PhpFpmStarts counts the starts of php-fpm's master by PID ("fpm is
	// running, pid N"): the first, then one per reload, which re-executes
	// the master in place.
	PhpFpmStarts map[int]int
	// Applied counts the revisions the reloader applied by telling nginx
	// SIGHUP and php-fpm SIGUSR2.
	Applied int
}

var (
	nginxSignal   = regexp.MustCompile(`\[notice\] (\d+)#\d+: signal \d+ \((SIG[A-Z0-9]+)\) received from \d+`)
	phpFpmStarted = regexp.MustCompile(`NOTICE: fpm is running, pid (\d+)`)
)

// requireTold waits (up to 30 s: the reloader reports once the grace period
// after its signals has passed) until the pod's logs say want, whole.
func requireTold(ctx context.Context, t testing.TB, cs kubernetes.Interface, ns, pod, why string, want told) {
	t.Helper()
	var got told
	for deadline := time.Now().Add(30 * time.Second); ; {
		got = toldOf(ctx, t, cs, ns, pod)
		if fmt.Sprint(got) == fmt.Sprint(want) || !time.Now().Before(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	require.Equal(t, want, got, "%s: what the logs of pod %s say its containers were told", why, pod)
}

// toldOf reads the logs of the pod's nginx, php-fpm and reloader.
func toldOf(ctx context.Context, t testing.TB, cs kubernetes.Interface, ns, pod string) told {
	t.Helper()
	logs := func(container string) string {
		raw, err := cs.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: container}).DoRaw(ctx)
		require.NoError(t, err, "logs of container %s", container)
		return string(raw)
	}
	got := told{NginxSignals: map[string]int{}, PhpFpmStarts: map[int]int{}}
	for _, m := range nginxSignal.FindAllStringSubmatch(logs("nginx"), -1) {
		if m[2] != "SIGCHLD" {
			got.NginxSignals[m[1]+" "+m[2]]++
		}
	}
	php := logs("php-fpm")
	got.PhpFpmReloads = strings.Count(php, "NOTICE: Reloading in progress")
	for _, m := range phpFpmStarted.FindAllStringSubmatch(php, -1) {
		pid, err := strconv.Atoi(m[1])
		require.NoError(t, err)
		got.PhpFpmStarts[pid]++
	}
	for _, line := range strings.Split(logs("hotreload-reloader"), "\n") {
		if strings.Contains(line, "config applied") && strings.Contains(line, "SIGHUP delivered to nginx; SIGUSR2 delivered to php-fpm") {
			got.Applied++
		}
	}
	return got
}

// containerIDs returns the IDs of p's app containers, by name.
func containerIDs(p *corev1.Pod) map[string]string {
	out := map[string]string{}
	for _, c := range p.Status.ContainerStatuses {
		out[c.Name] = c.ContainerID
	}
	return out
}
