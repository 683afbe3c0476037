package webhook

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts admissions and their latency by outcome.
type Metrics struct {
	total    *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics registers the admission metrics with reg, and the expiry of
// the serving certificate in certDir.
func NewMetrics(reg prometheus.Registerer, certDir string) *Metrics {
	m := &Metrics{
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hotreload_admission_total",
			Help: "Pod admissions handled, by outcome (mutated, unchanged, error: allowed unchanged).",
		}, []string{"outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hotreload_admission_duration_seconds",
			Help:    "Time to handle a pod admission, by outcome.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}, []string{"outcome"}),
	}
	reg.MustRegister(m.total, m.duration, newCertExpiry(certDir))
	return m
}

func (m *Metrics) observe(outcome string, d time.Duration) {
	if m == nil {
		return
	}
	m.total.WithLabelValues(outcome).Inc()
	m.duration.WithLabelValues(outcome).Observe(d.Seconds())
}
