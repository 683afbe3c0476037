//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// The end-to-end benchmarks (make bench-e2e) run once each (-benchtime 1x) on
// the local cluster and report what the README quotes. Admission runs first,
// on a quiet node: the kubelet tearing down the edit benchmark's 60 pods
// would compete with it for the node's two cores.

const (
	// settle is how long the pods without hotreload run before their edits.
	settle = 15 * time.Second
	// spread is the time their edits are spread over: the kubelet's sync
	// period with its jitter.
	spread = 90 * time.Second
)

// edits is the number of config edits measured, E2E_EDITS or 50.
func edits(b *testing.B) int { return envInt(b, "E2E_EDITS", 50) }

// readyEdits is the number of Deployments whose first edit comes right after
// their pods are Ready, E2E_READY_EDITS or 10.
func readyEdits(b *testing.B) int { return envInt(b, "E2E_READY_EDITS", 10) }

// envInt is the environment variable name as an integer, or def when unset.
func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	require.NoError(b, err, name)
	return n
}

// BenchmarkE2EAdmission creates a Deployment of 200 pods (E2E_ADMISSION_PODS)
// that ask for hotreload in an enabled namespace and reads, from the API
// server's own metrics, how long it waited for the webhook on each pod's
// creation, and from the webhook's metrics, scraped as Prometheus scrapes
// them, how long it took to answer. The pods select no node: they stay
// Pending, so this measures admission alone.
func BenchmarkE2EAdmission(b *testing.B) {
	pods := envInt(b, "E2E_ADMISSION_PODS", 200)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cs := clusterClient(b)
	installHotreload(ctx, b, cs)
	waitNoNamespaceTerminating(ctx, b, cs)
	ns := enabledNamespace(ctx, b, cs, "bench-admission-")

	scrape := newScraper(ctx, b, cs, ns)
	before := admissionHistogram(ctx, b, cs)
	handledBefore := handlerHistogram(ctx, b, cs, scrape)
	d := demo{ns: ns, name: "admission", replicas: int32(pods), inject: true}
	dep := d.deployment()
	dep.Spec.Template.Spec.NodeSelector = map[string]string{"hotreload.dev/bench": "no-such-node"}
	start := time.Now()
	_, err := cs.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{})
	require.NoError(b, err)
	require.Eventually(b, func() bool {
		list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=admission"})
		if err != nil || len(list.Items) < pods {
			return false
		}
		for _, p := range list.Items {
			require.NotEmpty(b, p.Annotations["hotreload/injected"], "pod %s was not injected", p.Name)
		}
		return true
	}, 5*time.Minute, 500*time.Millisecond, "%d pods created", pods)
	created := time.Since(start)
	h := admissionHistogram(ctx, b, cs).minus(before)
	handled := handlerHistogram(ctx, b, cs, scrape).minus(handledBefore)
	require.GreaterOrEqual(b, h.count, float64(pods), "admissions the API server counted")
	require.GreaterOrEqual(b, handled.count, float64(pods), "admissions the webhook counted")

	b.Logf("%d injected pods created in %v; webhook admissions:", pods, created.Round(time.Millisecond))
	for _, row := range []struct {
		name string
		h    histogram
	}{{"as the API server saw them", h}, {"in the webhook's handler", handled}} {
		b.Logf("  %-27s %4.0f calls, mean %6.2f ms, p50 %6.2f ms, p99 %6.2f ms (interpolated in buckets %s)",
			row.name, row.h.count, 1000*row.h.sum/row.h.count, 1000*row.h.quantile(0.5), 1000*row.h.quantile(0.99), row.h.bounds())
	}
	b.ReportMetric(1000*h.sum/h.count, "admission-mean-ms")
	b.ReportMetric(1000*h.quantile(0.5), "admission-p50-ms")
	b.ReportMetric(1000*h.quantile(0.99), "admission-p99-ms")
}

// BenchmarkE2EEditToServing measures the time from a ConfigMap edit to the app
// serving it, with hotreload and without, side by side. The app is the same in
// both: the demo app with its config directory mounted, reading it again on
// SIGHUP and whenever it sees the file change (--watch=100ms).
//
//   - hotreload: 3 replicas in an enabled namespace, rollout 100%; edits one
//     after the other, each timed until all 3 replicas serve it, the next made
//     once every replica reported the previous one applied.
//   - hotreload at Ready: as many new Deployments of 3 replicas as
//     readyEdits, one at a time, each edited as soon as its pods are Ready and
//     deleted once they serve the edit. The kubelet has just synced such a
//     pod, and syncs it again only after its next relist of the containers
//     (every second); the reloader may still be starting.
//   - without: the same pod, not opted in, so its file changes only when the
//     kubelet re-syncs the pod (every 60-90 s). One edit each to as many pods
//     as edits, spread over one sync period, so the run takes two periods,
//     not 50.
//
// It fails if any container restarts or any pod is replaced.
func BenchmarkE2EEditToServing(b *testing.B) {
	n := edits(b)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cs := clusterClient(b)
	installHotreload(ctx, b, cs)
	ns := enabledNamespace(ctx, b, cs, "bench-edit-")
	args := []string{"--watch=100ms"}

	hot := demo{ns: ns, name: "hotreload", replicas: 3, inject: true, args: args}
	first := uniqueConfig("edit 0")
	hotPods := hot.create(ctx, b, cs, first)
	waitFirstSeen(ctx, b, cs, ns, hot.name, first, hot.replicas)
	hotBefore := statuses(ctx, b, hotPods)
	var allReplicas, perPod []time.Duration
	for i := 1; i <= n; i++ {
		content := uniqueConfig(fmt.Sprintf("edit %d", i))
		took := waitServing(ctx, b, hotPods, content, hot.edit(ctx, b, cs, content), 30*time.Second)
		allReplicas = append(allReplicas, slowest(took, &perPod))
		// Edits come one at a time, not while the previous one is still being
		// confirmed (the reloader checks the app for a second after a signal).
		waitApplied(ctx, b, cs, ns, hotPods, releasedRevision(ctx, b, cs, ns, hotPods))
	}
	requireSameProcesses(ctx, b, cs, hot, hotPods, hotBefore)

	var atReady, atReadyPerPod []time.Duration
	for i := range readyEdits(b) {
		d := demo{ns: ns, name: fmt.Sprintf("ready-%02d", i), replicas: 3, inject: true, args: args}
		pods := d.create(ctx, b, cs, uniqueConfig("edit 0"))
		before := statuses(ctx, b, pods)
		content := uniqueConfig("edit 1")
		took := waitServing(ctx, b, pods, content, d.edit(ctx, b, cs, content), 30*time.Second)
		atReady = append(atReady, slowest(took, &atReadyPerPod))
		requireSameProcesses(ctx, b, cs, d, pods, before)
		require.NoError(b, cs.AppsV1().Deployments(ns).Delete(ctx, d.name, metav1.DeleteOptions{}))
	}

	plain := make([]demo, n)
	for i := range plain {
		plain[i] = demo{ns: ns, name: fmt.Sprintf("plain-%02d", i), args: args}
	}
	createPlain(ctx, b, cs, plain)
	plainPods := map[string]map[string]string{} // demo: its pod's name and IP
	plainBefore := map[string]map[string]demoStatus{}
	for _, d := range plain {
		plainPods[d.name] = waitDeploymentPods(ctx, b, cs, ns, "app="+d.name, 1)
		plainBefore[d.name] = statuses(ctx, b, plainPods[d.name])
	}
	// The kubelet re-syncs each pod 60-90 s after its last sync, and these pods
	// started together: the edits are spread over that period, as edits made
	// at any time are, after the pods have settled.
	time.Sleep(settle)
	type result struct {
		took time.Duration
		err  error
	}
	results := make(chan result, len(plain))
	start := time.Now()
	for i, d := range plain {
		editAt := start.Add(time.Duration(i) * spread / time.Duration(len(plain)))
		go func() {
			time.Sleep(time.Until(editAt))
			content := uniqueConfig("edit 1 of " + d.name)
			if err := d.patch(ctx, cs, content); err != nil {
				results <- result{err: err}
				return
			}
			edited := time.Now()
			for _, ip := range plainPods[d.name] {
				for !serves(ctx, ip, content) {
					if time.Since(edited) > 3*time.Minute {
						results <- result{err: fmt.Errorf("%s does not serve its edit 3 min after it", d.name)}
						return
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
			results <- result{took: time.Since(edited)}
		}()
	}
	var plainTook []time.Duration
	for range plain {
		r := <-results
		require.NoError(b, r.err)
		plainTook = append(plainTook, r.took)
	}
	for _, d := range plain {
		requireSameProcesses(ctx, b, cs, d, plainPods[d.name], plainBefore[d.name])
	}

	logQuantiles(b, "edit -> serving (ms)", "edits", []durations{
		{"hotreload, all 3 replicas", allReplicas, "hotreload"},
		{"hotreload, each replica", perPod, ""},
		{"at Ready, all 3 replicas", atReady, "at-ready"},
		{"at Ready, each replica", atReadyPerPod, ""},
		{"kubelet sync, no hotreload", plainTook, "kubelet"},
	})
}

// durations is one row of a benchmark's table: what was timed, the times,
// and the name of its p50 and p99 metrics ("" for none).
type durations struct {
	name   string
	d      []time.Duration
	metric string
}

// logQuantiles logs a table of rows, each with its count, p50, p99 and max in
// ms, and reports the p50 and p99 of those that name a metric.
func logQuantiles(b *testing.B, title, count string, rows []durations) {
	b.Logf("%-38s %6s %8s %8s %8s", title, count, "p50", "p99", "max")
	for _, r := range rows {
		b.Logf("  %-36s %6d %8.0f %8.0f %8.0f", r.name, len(r.d), ms(quantile(r.d, 0.5)), ms(quantile(r.d, 0.99)), ms(quantile(r.d, 1)))
		if r.metric != "" {
			b.ReportMetric(ms(quantile(r.d, 0.5)), r.metric+"-p50-ms")
			b.ReportMetric(ms(quantile(r.d, 0.99)), r.metric+"-p99-ms")
		}
	}
}

// slowest appends each pod's time to perPod and returns the longest: the
// time until all of them served the edit.
func slowest(took map[string]time.Duration, perPod *[]time.Duration) time.Duration {
	var worst time.Duration
	for _, d := range took {
		*perPod = append(*perPod, d)
		worst = max(worst, d)
	}
	return worst
}

// createPlain creates the ConfigMaps and Deployments of ds at once, without
// waiting for their pods.
func createPlain(ctx context.Context, t testing.TB, cs kubernetes.Interface, ds []demo) {
	t.Helper()
	for _, d := range ds {
		d.createConfig(ctx, t, cs, "edit 0\n")
		_, err := cs.AppsV1().Deployments(d.ns).Create(ctx, d.deployment(), metav1.CreateOptions{})
		require.NoError(t, err)
	}
}

// waitNoNamespaceTerminating waits until the namespaces of earlier tests are
// gone: deleting their pods would compete with what is measured for the
// node's CPU.
func waitNoNamespaceTerminating(ctx context.Context, t testing.TB, cs kubernetes.Interface) {
	t.Helper()
	require.Eventually(t, func() bool {
		list, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false
		}
		for _, n := range list.Items {
			if n.Status.Phase == corev1.NamespaceTerminating {
				return false
			}
		}
		return true
	}, 5*time.Minute, time.Second, "namespaces still terminating")
}

// histogram is a cumulative Prometheus histogram: le bound -> count.
type histogram struct {
	buckets    map[float64]float64
	sum, count float64
}

// admissionHistogram reads the API server's histogram of the hotreload
// webhook's admission of pod creations.
func admissionHistogram(ctx context.Context, t testing.TB, cs kubernetes.Interface) histogram {
	t.Helper()
	raw, err := cs.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	require.NoError(t, err)
	return parseHistogram(t, raw, "apiserver_admission_webhook_admission_duration_seconds", func(labels string) bool {
		return strings.Contains(labels, `name="pods.hotreload.dev"`) && strings.Contains(labels, `operation="CREATE"`)
	})
}

// handlerHistogram sums the webhook replicas' own histogram of the time they
// spent handling admissions, read from each pod's metrics port as a scraper
// reads it (a scraper of s).
func handlerHistogram(ctx context.Context, t testing.TB, cs kubernetes.Interface, s scraper) histogram {
	t.Helper()
	list, err := cs.CoreV1().Pods(hotreloadNamespace).List(ctx, metav1.ListOptions{LabelSelector: webhookSelector})
	require.NoError(t, err)
	sum := histogram{buckets: map[float64]float64{}}
	for _, p := range list.Items {
		if p.DeletionTimestamp != nil || p.Status.PodIP == "" {
			continue // a replica of an earlier install, going
		}
		raw := s.get(ctx, t, "https://"+net.JoinHostPort(p.Status.PodIP, "8443")+"/metrics")
		sum = sum.plus(parseHistogram(t, []byte(raw), "hotreload_admission_duration_seconds", func(string) bool { return true }))
	}
	return sum
}

// scraper reads hotreload's metrics as Prometheus does: over HTTPS, trusting
// hotreload's CA for the webhook Service's name, with the token of a
// ServiceAccount bound to hotreload-metrics-reader.
type scraper struct {
	client *http.Client
	token  string
	ca     []byte // PEM
}

// newScraper makes a ServiceAccount in namespace ns that may read the
// metrics, and a scraper with its token and hotreload's CA (the webhook
// configuration's caBundle).
func newScraper(ctx context.Context, t testing.TB, cs kubernetes.Interface, ns string) scraper {
	t.Helper()
	_, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "scraper"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "bench-scraper-"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "hotreload-metrics-reader"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "scraper", Namespace: ns}},
	}
	binding, err = cs.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = cs.RbacV1().ClusterRoleBindings().Delete(context.Background(), binding.Name, metav1.DeleteOptions{})
	})
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "scraper", &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr[int64](3600)}}, metav1.CreateOptions{})
	require.NoError(t, err)
	mwc, err := cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, "hotreload", metav1.GetOptions{})
	require.NoError(t, err)
	require.NotEmpty(t, mwc.Webhooks, "the hotreload webhook configuration")
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(mwc.Webhooks[0].ClientConfig.CABundle), "hotreload's CA bundle")
	tlsConfig := &tls.Config{RootCAs: roots, ServerName: "hotreload-webhook." + hotreloadNamespace + ".svc", MinVersion: tls.VersionTLS12}
	return scraper{token: tr.Status.Token, ca: mwc.Webhooks[0].ClientConfig.CABundle, client: &http.Client{Timeout: 10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: tlsConfig, DisableKeepAlives: true}}}
}

// get returns the body of url, read with the scraper's token; it fails the
// test on any other answer than 200.
func (s scraper) get(ctx context.Context, t testing.TB, url string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+s.token)
	body, err := do(s.client, req)
	require.NoError(t, err, "scraping %s", url)
	return body
}

var (
	sampleLine = regexp.MustCompile(`^(\w+)_(bucket|sum|count)\{([^}]*)\} (\S+)$`)
	leLabel    = regexp.MustCompile(`le="([^"]+)"`)
)

// parseHistogram sums the series of the histogram metric, in the Prometheus
// text format raw, whose labels match.
func parseHistogram(t testing.TB, raw []byte, metric string, match func(labels string) bool) histogram {
	t.Helper()
	h := histogram{buckets: map[float64]float64{}}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		m := sampleLine.FindStringSubmatch(sc.Text())
		if m == nil || m[1] != metric || !match(m[3]) {
			continue
		}
		v, err := strconv.ParseFloat(m[4], 64)
		require.NoError(t, err)
		switch m[2] {
		case "sum":
			h.sum += v
		case "count":
			h.count += v
		case "bucket":
			le := leLabel.FindStringSubmatch(m[3])
			require.NotNil(t, le, m[0])
			bound, err := strconv.ParseFloat(le[1], 64)
			require.NoError(t, err)
			h.buckets[bound] += v
		}
	}
	require.NoError(t, sc.Err())
	return h
}

func (h histogram) plus(o histogram) histogram {
	out := histogram{buckets: map[float64]float64{}, sum: h.sum + o.sum, count: h.count + o.count}
	for le, v := range h.buckets {
		out.buckets[le] += v
	}
	for le, v := range o.buckets {
		out.buckets[le] += v
	}
	return out
}

func (h histogram) minus(o histogram) histogram {
	out := histogram{buckets: map[float64]float64{}, sum: h.sum - o.sum, count: h.count - o.count}
	for le, v := range h.buckets {
		out.buckets[le] = v - o.buckets[le]
	}
	return out
}

func (h histogram) sortedBounds() []float64 {
	var les []float64
	for le := range h.buckets {
		les = append(les, le)
	}
	sort.Float64s(les)
	return les
}

func (h histogram) bounds() string {
	var s []string
	for _, le := range h.sortedBounds() {
		s = append(s, strconv.FormatFloat(le*1000, 'f', -1, 64))
	}
	return strings.Join(s, ", ") + " ms"
}

// quantile interpolates linearly inside the bucket holding q, as
// Prometheus's histogram_quantile does.
func (h histogram) quantile(q float64) float64 {
	rank := q * h.count
	lower, below := 0.0, 0.0
	for _, le := range h.sortedBounds() {
		c := h.buckets[le]
		if c >= rank {
			if math.IsInf(le, 1) {
				return lower
			}
			return lower + (le-lower)*(rank-below)/(c-below)
		}
		lower, below = le, c
	}
	return lower
}

// quantile is the nearest-rank q-quantile of ds (q=1: the maximum).
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(i, 0)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
