package rollout

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

// The counters of a namespace the controller watches are there, at 0, from
// the start: Prometheus' increase() does not count a series' first sample,
// so a counter that appeared at 1 (the first pod admitted without its
// sidecar in a namespace, its first halt) would alert nobody. A namespace
// no longer watched keeps its counters and loses its listed gauge.
func TestAWatchedNamespacesCountersStartAtZero(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m, err := NewMetrics(reg)
	require.NoError(t, err)
	counters := []string{
		"hotreload_pods_not_injected_total",
		"hotreload_rollbacks_total",
		"hotreload_rollout_steps_released_total",
		"hotreload_rollouts_completed_total",
		"hotreload_rollouts_halted_total",
		"hotreload_rollouts_started_total",
	}
	names := append([]string{"hotreload_namespace_listed"}, counters...)
	n, err := testutil.GatherAndCount(reg, names...)
	require.NoError(t, err)
	require.Zero(t, n, "nothing before a namespace is watched")

	m.namespaceListed("shop", true, false)
	m.podNotInjected("shop")
	want := func(listed string) string {
		var b strings.Builder
		if listed != "" {
			b.WriteString("# HELP hotreload_namespace_listed " + helpOf(t, reg, "hotreload_namespace_listed") + "\n")
			b.WriteString("# TYPE hotreload_namespace_listed gauge\n")
			b.WriteString(`hotreload_namespace_listed{namespace="shop"} ` + listed + "\n")
		}
		for _, c := range counters {
			v := "0"
			if c == "hotreload_pods_not_injected_total" {
				v = "1"
			}
			b.WriteString("# HELP " + c + " " + helpOf(t, reg, c) + "\n# TYPE " + c + " counter\n")
			b.WriteString(c + `{namespace="shop"} ` + v + "\n")
		}
		return b.String()
	}
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want("0")), names...))
	m.namespaceListed("shop", true, true)
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want("1")), names...))
	m.namespaceListed("shop", false, false)
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want("")), names...))
}

// helpOf is the help text of metric name in reg.
func helpOf(t *testing.T, reg *prometheus.Registry, name string) string {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetHelp()
		}
	}
	t.Fatalf("no metric %s", name)
	return ""
}
