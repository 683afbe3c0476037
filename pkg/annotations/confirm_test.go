package annotations

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfirmOf(t *testing.T) {
	const metrics = "http://127.0.0.1:9090/metrics"
	tests := []struct {
		name     string
		value    string
		signal   SignalName
		url      string
		want     Confirmation
		warnings []string
	}{
		{"is the delivery's default when the annotation is absent", "", "SIGHUP", "", Confirmation{}, nil},
		{"accepts process", "process", "SIGHUP", "", Confirmation{Mode: ConfirmProcess}, nil},
		{"accepts workers in any case", " Workers ", "SIGHUP", "", Confirmation{Mode: ConfirmWorkers}, nil},
		{"accepts a loopback URL that must answer 2xx", "http://127.0.0.1:8080/healthz", "SIGHUP", "",
			Confirmation{Mode: ConfirmHTTP, URL: "http://127.0.0.1:8080/healthz"}, nil},
		{"accepts a URL, a metric and its value", metrics + "  prometheus_config_last_reload_successful 1", "none", "http://127.0.0.1:9090/-/reload",
			Confirmation{Mode: ConfirmMetric, URL: metrics, Metric: "prometheus_config_last_reload_successful", Value: "1"}, nil},
		{"accepts a value written as a float", metrics + " up 1.0", "SIGHUP", "",
			Confirmation{Mode: ConfirmMetric, URL: metrics, Metric: "up", Value: "1.0"}, nil},
		{"warns about an unknown word", "pid", "SIGHUP", "", Confirmation{},
			[]string{`hotreload/confirm: invalid confirmation "pid": want process, workers, a loopback URL, or a URL, a metric name and a value; using process`}},
		{"warns about a URL that is not loopback", "http://10.0.0.1/healthz", "SIGHUP", "", Confirmation{},
			[]string{`hotreload/confirm: invalid confirmation "http://10.0.0.1/healthz": URL: host must be loopback (localhost, 127.0.0.1 or ::1); using process`}},
		{"warns about a metric name with a label", metrics + ` up{job="a"} 1`, "SIGHUP", "", Confirmation{},
			[]string{`hotreload/confirm: invalid confirmation "http://127.0.0.1:9090/metrics up{job=\"a\"} 1": "up{job=\"a\"}" is not a metric name; using process`}},
		{"warns about a value that is not a number", metrics + " up yes", "SIGHUP", "", Confirmation{},
			[]string{`hotreload/confirm: invalid confirmation "http://127.0.0.1:9090/metrics up yes": value "yes" is not a number; using process`}},
		{"warns about two words", metrics + " up", "SIGHUP", "", Confirmation{},
			[]string{`hotreload/confirm: invalid confirmation "http://127.0.0.1:9090/metrics up": want one word, or a URL, a metric name and a value; using process`}},
		{"warns about workers with a reload URL", "workers", "", "http://127.0.0.1:9090/-/reload", Confirmation{},
			[]string{`hotreload/confirm: invalid confirmation "workers": workers need a signal, and hotreload/url is set; using the reload URL's answer`}},
		{"warns about workers with no signal", "workers", "none", "", Confirmation{},
			[]string{`hotreload/confirm: invalid confirmation "workers": workers need a signal, and hotreload/signal is none; using process`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := map[string]string{}
			if tt.value != "" {
				pod[Confirm] = tt.value
			}
			got, ws := ConfirmOf(pod, tt.signal, tt.url)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.warnings, Strings(ws))
		})
	}
}

func TestConfirmationStringParsesBack(t *testing.T) {
	for _, c := range []Confirmation{
		{Mode: ConfirmProcess},
		{Mode: ConfirmWorkers},
		{Mode: ConfirmHTTP, URL: "http://[::1]:8080/ready"},
		{Mode: ConfirmMetric, URL: "https://localhost:9443/metrics", Metric: "nginx:reloads_ok", Value: "+Inf"},
	} {
		got, err := ParseConfirm(c.String())
		require.NoError(t, err, c.String())
		assert.Equal(t, c, got)
	}
	assert.Equal(t, "", Confirmation{}.String(), "the default writes nothing")
	assert.True(t, Confirmation{}.IsZero())
}
