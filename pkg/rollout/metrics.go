package rollout

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
)

// Metrics counts rollouts, steps and halts by namespace, and times rollouts.
type Metrics struct {
	started     *prometheus.CounterVec
	completed   *prometheus.CounterVec
	halted      *prometheus.CounterVec
	rollbacks   *prometheus.CounterVec
	steps       *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	commands    *prometheus.CounterVec
	notInjected *prometheus.CounterVec
	phase       *prometheus.GaugeVec
	listed      *prometheus.GaugeVec
}

// NewMetrics registers the rollout metrics with reg. Collectors reg already
// holds (a second controller in the same process) are shared.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	counter := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"namespace"})
	}
	m := &Metrics{
		started:   counter("hotreload_rollouts_started_total", "Config rollouts started (first release of a revision to a group of pods)."),
		completed: counter("hotreload_rollouts_completed_total", "Config rollouts completed: every pod of the group runs the revision and stayed healthy for the interval."),
		halted:    counter("hotreload_rollouts_halted_total", "Config rollouts halted by a pod that failed, stopped being Ready or restarted (an abort is counted in hotreload_release_commands_total)."),
		rollbacks: counter("hotreload_rollbacks_total", "Halted config rollouts whose every pod runs the stable revision again."),
		steps:     counter("hotreload_rollout_steps_released_total", "Rollout steps released."),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hotreload_rollout_duration_seconds",
			Help:    "Time from the controller seeing a revision (the edit) to its release's completion, intervals included.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 14),
		}, []string{"namespace"}),
	}
	m.commands = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotreload_release_commands_total",
		Help: "Commands given to releases (kubectl hotreload), by action and result (done or refused)."}, []string{"namespace", "action", "result"})
	m.notInjected = counter("hotreload_pods_not_injected_total",
		"Pods labelled hotreload/enable=true in an enabled namespace that were admitted without the sidecar (the webhook was down): they do not reload their config.")
	m.phase = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "hotreload_release_phase",
		Help: "The phase of each ConfigRelease: 1 for the phase it is in, 0 for the others."}, []string{"namespace", "release", "phase"})
	m.listed = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "hotreload_namespace_listed",
		Help: "Per enabled namespace, whether the controller has listed its pods, ConfigMaps, Secrets and ReplicaSets (1) or not yet (0: it is not allowed yet, or the API server does not answer). Absent for a namespace not enabled: the controller reads nothing there."}, []string{"namespace"})
	for _, c := range []**prometheus.CounterVec{&m.started, &m.completed, &m.halted, &m.rollbacks, &m.steps, &m.commands, &m.notInjected} {
		if err := register(reg, c); err != nil {
			return nil, err
		}
	}
	if err := register(reg, &m.duration); err != nil {
		return nil, err
	}
	for _, g := range []**prometheus.GaugeVec{&m.phase, &m.listed} {
		if err := register(reg, g); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// register registers *c, or replaces it by the collector reg already holds.
func register[C prometheus.Collector](reg prometheus.Registerer, c *C) error {
	err := reg.Register(*c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			*c = existing
			return nil
		}
	}
	return err
}

func (m *Metrics) rolloutStarted(ns string) { m.started.WithLabelValues(ns).Inc() }
func (m *Metrics) stepReleased(ns string)   { m.steps.WithLabelValues(ns).Inc() }
func (m *Metrics) rolloutHalted(ns string)  { m.halted.WithLabelValues(ns).Inc() }
func (m *Metrics) rolledBack(ns string)     { m.rollbacks.WithLabelValues(ns).Inc() }
func (m *Metrics) rolloutCompleted(ns string, d time.Duration) {
	m.completed.WithLabelValues(ns).Inc()
	if d > 0 {
		m.duration.WithLabelValues(ns).Observe(d.Seconds())
	}
}

func (m *Metrics) command(ns, action string, done bool) {
	result := "refused"
	if done {
		result = "done"
	}
	m.commands.WithLabelValues(ns, action, result).Inc()
}

// phases are the values of hotreload_release_phase's phase label.
var phases = []v1alpha1.Phase{v1alpha1.PhaseProgressing, v1alpha1.PhasePaused, v1alpha1.PhaseHalted, v1alpha1.PhaseComplete}

// releasePhase sets the phase of release ns/name; an empty phase removes
// its series (the release is gone).
func (m *Metrics) releasePhase(ns, name string, phase v1alpha1.Phase) {
	for _, p := range phases {
		if phase == "" {
			m.phase.DeleteLabelValues(ns, name, string(p))
			continue
		}
		v := 0.0
		if p == phase {
			v = 1
		}
		m.phase.WithLabelValues(ns, name, string(p)).Set(v)
	}
}

func (m *Metrics) podNotInjected(ns string) { m.notInjected.WithLabelValues(ns).Inc() }

// namespaceListed sets whether the cache of namespace ns has listed its
// objects; with watched false, it removes the namespace's listed series.
// A watched namespace's counters are there from the start, at 0: increase()
// does not count a series' first sample, so a counter that appeared at 1
// would hide the first pod admitted without its sidecar, or the first halt.
func (m *Metrics) namespaceListed(ns string, watched, listed bool) {
	if !watched {
		m.listed.DeleteLabelValues(ns)
		return
	}
	for _, c := range []*prometheus.CounterVec{m.started, m.completed, m.halted, m.rollbacks, m.steps, m.notInjected} {
		c.WithLabelValues(ns)
	}
	v := 0.0
	if listed {
		v = 1
	}
	m.listed.WithLabelValues(ns).Set(v)
}
