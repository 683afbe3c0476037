package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/hotreload/hotreload/internal/webhook"
	"github.com/hotreload/hotreload/pkg/rollout"
)

// promtoolEnv names the promtool of Debian's prometheus package, which the
// Makefile unpacks (bin/cluster/prometheus) and exports for make unit.
const promtoolEnv = "HOTRELOAD_PROMTOOL"

// promtool runs promtool with args in dir and returns its output; it fails
// the test, with the output, when promtool fails.
func promtool(t *testing.T, dir string, args ...string) string {
	t.Helper()
	bin := os.Getenv(promtoolEnv)
	if bin == "" {
		t.Fatalf("%s is not set: run the monitoring tests with `make unit` (it unpacks Debian's prometheus package), "+
			"or `make prometheus` and export %s=$PWD/bin/cluster/prometheus/rootfs/usr/bin/promtool", promtoolEnv, promtoolEnv)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s=%s: %v: run `make prometheus`", promtoolEnv, bin, err)
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, &out, &out
	require.NoError(t, cmd.Run(), "promtool %s:\n%s", strings.Join(args, " "), out.String())
	return out.String()
}

// The alert rules load, and each alert fires where its test says, with its
// labels and annotations, and not where it must not (rules_test.yaml).
func TestTheAlertRulesPassTheirTests(t *testing.T) {
	promtool(t, "monitoring", "check", "rules", "rules.yaml")
	promtool(t, "monitoring", "test", "rules", "rules_test.yaml")
}

// Every panel of the dashboard queries valid PromQL that names only metrics
// hotreload exports; the rules name those too, and Prometheus' up. (That each
// returns data from a real hotreload is the e2e test's.)
func TestTheDashboardAndRulesQueryHotreloadsMetrics(t *testing.T) {
	exported := exportedMetrics(t)
	dashboard := dashboardExprs(t)
	require.NotEmpty(t, dashboard)
	// The dashboard's expressions as recording rules, which promtool parses.
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for i, expr := range dashboard {
		for _, name := range metricNames(expr) {
			require.Contains(t, exported, name, "panel expression %q: no metric %s among hotreload's", expr, name)
		}
		q, err := json.Marshal(promQL(expr))
		require.NoError(t, err)
		fmt.Fprintf(&rules, "      - record: dashboard:expr_%d\n        expr: %s\n", i, q)
	}
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "dashboard.yaml"), []byte(rules.String()), 0o644))
	promtool(t, dir, "check", "rules", "dashboard.yaml")

	var file struct {
		Groups []struct {
			Rules []struct{ Expr string }
		}
	}
	raw, err := os.ReadFile(filepath.Join("monitoring", "rules.yaml"))
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(raw, &file))
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			for _, name := range metricNames(r.Expr) {
				if name != "up" {
					require.Contains(t, exported, name, "rule expression %q: no metric %s among hotreload's", r.Expr, name)
				}
			}
		}
	}
}

// dashboardExprs are the expressions of every panel of dashboard.json.
func dashboardExprs(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("monitoring", "dashboard.json"))
	require.NoError(t, err)
	var d struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	require.NoError(t, json.Unmarshal(raw, &d))
	var out []string
	for _, p := range d.Panels {
		require.NotEmpty(t, p.Targets, "panel %q queries nothing", p.Title)
		for _, tg := range p.Targets {
			require.NotEmpty(t, tg.Expr, "panel %q", p.Title)
			out = append(out, tg.Expr)
		}
	}
	return out
}

// exportedMetrics are the names of the series hotreload's metrics give,
// histograms' _bucket, _sum and _count included, and controller-runtime's
// leader gauge, which every replica that campaigns for the controller's
// lease exports.
func exportedMetrics(t *testing.T) []string {
	t.Helper()
	reg := describer{}
	webhook.NewMetrics(reg, t.TempDir())
	_, err := rollout.NewMetrics(reg)
	require.NoError(t, err)
	out := []string{"leader_election_master_status"}
	for name, histogram := range reg {
		out = append(out, name)
		if histogram {
			out = append(out, name+"_bucket", name+"_sum", name+"_count")
		}
	}
	slices.Sort(out)
	return out
}

// describer is a prometheus.Registerer that keeps the names of the
// metrics registered with it, and whether each is a histogram.
type describer map[string]bool

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

func (d describer) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc, 8)
	go func() { c.Describe(ch); close(ch) }()
	_, histogram := c.(*prometheus.HistogramVec)
	for desc := range ch {
		if m := fqName.FindStringSubmatch(desc.String()); m != nil {
			d[m[1]] = histogram
		}
	}
	return nil
}

func (d describer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		_ = d.Register(c)
	}
}

func (d describer) Unregister(prometheus.Collector) bool { return false }

var (
	// quoted strings, label matchers and grouping clauses, which name labels.
	notMetrics = regexp.MustCompile(`"[^"]*"|\{[^}]*\}|\b(by|on|without|ignoring|group_left|group_right)\s*\([^)]*\)`)
	// a name not followed by "(": with the rest removed, a metric's.
	identifier = regexp.MustCompile(`\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b\s*(\()?`)
	keywords   = map[string]bool{"and": true, "or": true, "unless": true, "offset": true, "bool": true}
	duration   = regexp.MustCompile(`\[[^\]]*\]`)
)

// metricNames are the metric names a PromQL expression selects.
func metricNames(expr string) []string {
	rest := duration.ReplaceAllString(notMetrics.ReplaceAllString(expr, " "), " ")
	var out []string
	for _, m := range identifier.FindAllStringSubmatch(rest, -1) {
		if m[2] == "" && !keywords[m[1]] {
			out = append(out, m[1])
		}
	}
	return out
}

// promQL is expr with the Grafana variable the dashboard uses,
// $__rate_interval, replaced by a duration Prometheus reads.
func promQL(expr string) string {
	return strings.ReplaceAll(expr, "$__rate_interval", "5m")
}
