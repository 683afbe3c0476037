//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
)

// TestMonitoringDashboardHasData: Debian's Prometheus, run on this machine,
// scrapes the cluster's webhook replicas as the chart's ServiceMonitor has
// prometheus-operator scrape them (the ready endpoints of the Service's port
// metrics, HTTPS with hotreload's CA and the token of a ServiceAccount bound
// to hotreload-metrics-reader, honor_labels) and loads the alert rules. A
// release completes twice, then a sick edit halts. Then every panel's
// expression of deploy/monitoring/dashboard.json returns a number, and the
// halt's alert is pending for the release.
func TestMonitoringDashboardHasData(t *testing.T) {
	bin := prometheusBin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cs := clusterClient(t)
	installHotreload(ctx, t, cs)
	targets := metricsEndpoints(ctx, t, cs)
	prom := startPrometheus(t, bin, newScraper(ctx, t, cs, createNamespace(ctx, t, cs, "monitoring-")), targets)

	// Every replica scraped, one leading, before anything is measured: the
	// counters' increases need a sample from before.
	prom.wait(ctx, t, "every webhook replica scraped", `count(up{job="hotreload-webhook"} == 1)`, atLeast(float64(len(targets))))
	prom.wait(ctx, t, "one replica leading", `sum(leader_election_master_status{name="hotreload-controller"})`, atLeast(1))

	d := demo{name: "monitored", replicas: 2, inject: true, args: []string{"--unready-on=sick"},
		annotations: map[string]string{"hotreload/rollout-interval": "5s"}}
	pods := d.start(ctx, t, cs, uniqueConfig("good 1"))
	for i := 2; i <= 3; i++ {
		good := uniqueConfig(fmt.Sprintf("good %d", i))
		waitServing(ctx, t, pods, good, d.edit(ctx, t, cs, good), time.Minute)
		waitRelease(ctx, t, cs, d.ns, d.name, "complete", time.Minute, isPhase(v1alpha1.PhaseComplete, sourceRevision(good)))
		// Scraped before the next completion, so that an increase shows.
		prom.wait(ctx, t, "the rollout's duration scraped", fmt.Sprintf(`sum(hotreload_rollout_duration_seconds_count{namespace=%q})`, d.ns), atLeast(float64(i-1)))
	}
	sick := uniqueConfig("sick")
	d.edit(ctx, t, cs, sick)
	waitRelease(ctx, t, cs, d.ns, d.name, "halted and rolled back", time.Minute, rolledBack(sourceRevision(sick)))

	for _, p := range dashboardPanels(t) {
		prom.wait(ctx, t, fmt.Sprintf("panel %q", p.title), p.query, aNumber)
	}
	prom.wait(ctx, t, "the halt's alert pending",
		fmt.Sprintf(`count(ALERTS{alertname="HotreloadReleaseHalted", alertstate="pending", namespace=%q, release="configmap-%s"})`, d.ns, d.name), atLeast(1))
}

// prometheusBin is Debian's prometheus binary, $HOTRELOAD_PROMETHEUS (make
// e2e names the one make prometheus unpacks); the test is skipped without it.
func prometheusBin(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("HOTRELOAD_PROMETHEUS")
	if bin == "" {
		bin = filepath.Join(repoRoot(), "bin", "cluster", "prometheus", "rootfs", "usr", "bin", "prometheus")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("no prometheus binary (%v): make prometheus unpacks Debian's package into bin/cluster/prometheus", err)
	}
	return bin
}

// hostPrometheus is a Prometheus this test started.
type hostPrometheus struct {
	url string
}

// scrapeTarget is a ready endpoint of the webhook Service's port metrics.
type scrapeTarget struct {
	addr, pod string
}

// metricsEndpoints are the ready endpoints of the webhook Service's port
// metrics, as prometheus-operator finds them for the ServiceMonitor.
// (Debian builds Prometheus without Kubernetes service discovery: the test
// lists them for it.)
func metricsEndpoints(ctx context.Context, t *testing.T, cs kubernetes.Interface) []scrapeTarget {
	t.Helper()
	list, err := cs.DiscoveryV1().EndpointSlices(hotreloadNamespace).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=hotreload-webhook"})
	require.NoError(t, err)
	var out []scrapeTarget
	for _, sl := range list.Items {
		for _, port := range sl.Ports {
			if port.Name == nil || *port.Name != "metrics" || port.Port == nil {
				continue
			}
			for _, ep := range sl.Endpoints {
				if ep.Conditions.Ready == nil || !*ep.Conditions.Ready || ep.TargetRef == nil {
					continue
				}
				for _, a := range ep.Addresses {
					out = append(out, scrapeTarget{addr: net.JoinHostPort(a, strconv.Itoa(int(*port.Port))), pod: ep.TargetRef.Name})
				}
			}
		}
	}
	require.NotEmpty(t, out, "ready endpoints of the Service hotreload-webhook's port metrics")
	return out
}

// startPrometheus runs bin on loopback, scraping targets with s's token and
// CA every 2 s and evaluating deploy/monitoring's rules, until the test
// ends; it returns once Prometheus is ready.
func startPrometheus(t *testing.T, bin string, s scraper, targets []scrapeTarget) hostPrometheus {
	t.Helper()
	dir := t.TempDir()
	write := func(name, content string) string {
		f := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(f, []byte(content), 0o600))
		return f
	}
	token, ca := write("token", s.token), write("ca.crt", string(s.ca))
	// What prometheus-operator makes of the chart's ServiceMonitor: a
	// target per endpoint, labelled with its namespace, pod and Service
	// (JSON, which is YAML).
	var static []map[string]any
	for _, tg := range targets {
		static = append(static, map[string]any{"targets": []string{tg.addr},
			"labels": map[string]string{"namespace": hotreloadNamespace, "pod": tg.pod, "service": "hotreload-webhook"}})
	}
	staticJSON, err := json.Marshal(static)
	require.NoError(t, err)
	config := write("prometheus.yml", fmt.Sprintf(`global:
  scrape_interval: 2s
  evaluation_interval: 2s
rule_files:
  - %q
scrape_configs:
  - job_name: hotreload-webhook
    honor_labels: true
    scheme: https
    authorization:
      credentials_file: %q
    tls_config:
      ca_file: %q
      server_name: hotreload-webhook.hotreload-system.svc
    static_configs: %s
`, filepath.Join(repoRoot(), "deploy", "monitoring", "rules.yaml"), token, ca, staticJSON))

	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	logFile, err := os.Create(filepath.Join(dir, "prometheus.log"))
	require.NoError(t, err)
	cmd := exec.Command(bin, "--config.file="+config, "--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logFile.Close()
		if t.Failed() {
			raw, _ := os.ReadFile(logFile.Name())
			t.Logf("prometheus log:\n%s", raw)
		}
	})

	p := hostPrometheus{url: "http://" + addr}
	require.Eventually(t, func() bool {
		resp, err := http.Get(p.url + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, time.Minute, 200*time.Millisecond, "prometheus ready at %s", p.url)
	return p
}

// query returns the values of the instant vector expr evaluates to now.
func (p hostPrometheus) query(ctx context.Context, expr string) ([]float64, error) {
	body, err := getWith(ctx, http.DefaultClient, p.url+"/api/v1/query?query="+url.QueryEscape(expr))
	if err != nil {
		return nil, err
	}
	var answer struct {
		Data struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &answer); err != nil {
		return nil, fmt.Errorf("%w: %s", err, body)
	}
	if answer.Data.ResultType != "vector" {
		return nil, fmt.Errorf("%s: a %s, not an instant vector", expr, answer.Data.ResultType)
	}
	var out []float64
	for _, r := range answer.Data.Result {
		s, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: value %v: %w", expr, r.Value[1], err)
		}
		out = append(out, v)
	}
	return out, nil
}

// atLeast is true of an answer with a number, not NaN, of at least least.
func atLeast(least float64) func([]float64) bool {
	return func(vs []float64) bool {
		for _, v := range vs {
			if !math.IsNaN(v) && v >= least {
				return true
			}
		}
		return false
	}
}

// aNumber is true of an answer with a number: a panel that shows something.
var aNumber = atLeast(math.Inf(-1))

// wait polls expr until its values satisfy ok, and fails after a minute
// with the last answer.
func (p hostPrometheus) wait(ctx context.Context, t *testing.T, what, expr string, ok func([]float64) bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		vs, err := p.query(ctx, expr)
		if err == nil && ok(vs) {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("%s: %s: after a minute, %v (error: %v); targets: %s", what, expr, vs, err, p.targets(ctx))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// targets is what Prometheus says of its targets' health.
func (p hostPrometheus) targets(ctx context.Context) string {
	body, err := getWith(ctx, http.DefaultClient, p.url+"/api/v1/targets?state=active")
	if err != nil {
		return err.Error()
	}
	return body
}

// panelQuery is one expression of a dashboard panel, as Prometheus reads it.
type panelQuery struct {
	title, query string
}

// dashboardPanels are the expressions of deploy/monitoring/dashboard.json,
// Grafana's $__rate_interval replaced by 10m: the whole test.
func dashboardPanels(t *testing.T) []panelQuery {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(), "deploy", "monitoring", "dashboard.json"))
	require.NoError(t, err)
	var d struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	require.NoError(t, json.Unmarshal(raw, &d))
	var out []panelQuery
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			out = append(out, panelQuery{p.Title, strings.ReplaceAll(tg.Expr, "$__rate_interval", "10m")})
		}
	}
	require.NotEmpty(t, out)
	return out
}
