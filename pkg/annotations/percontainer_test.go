package annotations

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// fpm is a pod of nginx and php-fpm, both reloaded, beside an exporter and an
// init container that are not.
var fpm = Targets{Reloaded: []string{"nginx", "php-fpm"}, All: []string{"init-db", "nginx", "php-fpm", "exporter"}}

func TestSignalsOf(t *testing.T) {
	tests := []struct {
		name     string
		value    string
		want     map[string]SignalName
		warnings []string
	}{
		{"gives every container the default when the annotation is absent", "",
			map[string]SignalName{"nginx": "SIGHUP", "php-fpm": "SIGHUP"}, nil},
		{"gives a value for all to every container", "usr1",
			map[string]SignalName{"nginx": "SIGUSR1", "php-fpm": "SIGUSR1"}, nil},
		{"gives each container its own signal", "nginx=SIGHUP,php-fpm=SIGUSR2",
			map[string]SignalName{"nginx": "SIGHUP", "php-fpm": "SIGUSR2"}, nil},
		{"reads entries with spaces around them", " nginx = none ,  php-fpm=usr2 ",
			map[string]SignalName{"nginx": "none", "php-fpm": "SIGUSR2"}, nil},
		{"gives the default to a container no entry names", "php-fpm=SIGUSR2",
			map[string]SignalName{"nginx": "SIGHUP", "php-fpm": "SIGUSR2"}, nil},
		{"warns about the bad signal of one container, naming it", "nginx=SIGUSR1,php-fpm=SIGFOO",
			map[string]SignalName{"nginx": "SIGUSR1", "php-fpm": "SIGHUP"},
			[]string{`hotreload/signal: unknown signal "SIGFOO" for container "php-fpm"; using SIGHUP`}},
		{"reads a value that does not start with a container's name as one value for all", "SIGUSR1,php-fpm=SIGUSR2",
			map[string]SignalName{"nginx": "SIGHUP", "php-fpm": "SIGHUP"},
			[]string{`hotreload/signal: unknown signal "SIGUSR1,php-fpm=SIGUSR2"; using SIGHUP`}},
		{"reads a comma not followed by a container's name as part of the value", "nginx=SIGUSR1,ngnix=SIGUSR2",
			map[string]SignalName{"nginx": "SIGHUP", "php-fpm": "SIGHUP"},
			[]string{`hotreload/signal: unknown signal "SIGUSR1,ngnix=SIGUSR2" for container "nginx"; using SIGHUP`}},
		{"warns about entries for containers that are not reloaded", "nginx=SIGUSR1,exporter=SIGUSR2,init-db=SIGHUP",
			map[string]SignalName{"nginx": "SIGUSR1", "php-fpm": "SIGHUP"},
			[]string{`hotreload/signal: bad entries in "nginx=SIGUSR1,exporter=SIGUSR2,init-db=SIGHUP": not reloaded: "exporter", "init-db"; using nginx=SIGUSR1,php-fpm=SIGHUP`}},
		{"keeps the first entry of a container named twice, and leaves out one without a value", "nginx=SIGUSR1,nginx=SIGUSR2,php-fpm=",
			map[string]SignalName{"nginx": "SIGUSR1", "php-fpm": "SIGHUP"},
			[]string{`hotreload/signal: bad entries in "nginx=SIGUSR1,nginx=SIGUSR2,php-fpm=": named twice: "nginx"; no value: "php-fpm"; using nginx=SIGUSR1,php-fpm=SIGHUP`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ws := SignalsOf(map[string]string{Signal: tt.value}, fpm)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.warnings, Strings(ws))
		})
	}
}

func TestURLsOfKeepsTheCommasAndEqualsSignsOfAURL(t *testing.T) {
	prom := Targets{Reloaded: []string{"prometheus", "sidecar"}, All: []string{"prometheus", "sidecar"}}
	const all = "http://127.0.0.1:9090/-/reload?a=1,sidecar=2"
	got, ws := URLsOf(map[string]string{URL: all}, prom)
	assert.Equal(t, map[string]string{"prometheus": all, "sidecar": all}, got, "a value that does not start with a container's name= is for all")
	assert.Empty(t, ws)

	got, ws = URLsOf(map[string]string{URL: "prometheus=http://127.0.0.1:9090/-/reload?a=1,b=2,sidecar=http://[::1]:8080/r?sidecar=x"}, prom)
	assert.Equal(t, map[string]string{"prometheus": "http://127.0.0.1:9090/-/reload?a=1,b=2", "sidecar": "http://[::1]:8080/r?sidecar=x"}, got)
	assert.Empty(t, ws)

	got, ws = URLsOf(map[string]string{URL: "sidecar=http://10.0.0.1/r"}, prom)
	assert.Equal(t, map[string]string{"prometheus": "", "sidecar": ""}, got)
	assert.Equal(t, []string{`hotreload/url: invalid reload URL "http://10.0.0.1/r" for container "sidecar": host must be loopback (localhost, 127.0.0.1 or ::1); using the signal instead`}, Strings(ws))
}

func TestProcessesOf(t *testing.T) {
	got, ws := ProcessesOf(map[string]string{Process: "php-fpm=php-fpm: master process"}, fpm)
	assert.Equal(t, map[string]string{"nginx": "", "php-fpm": "php-fpm: master process"}, got)
	assert.Empty(t, ws)

	got, ws = ProcessesOf(map[string]string{Process: "(nginx"}, fpm)
	assert.Equal(t, map[string]string{"nginx": "", "php-fpm": ""}, got)
	assert.Equal(t, []string{`hotreload/process: invalid regexp "(nginx": missing closing ); using the container's main process`}, Strings(ws),
		"a bad value for all is warned about once")
}

func TestValidatesOfKeepsTheCommasOfAJSONArray(t *testing.T) {
	got, ws := ValidatesOf(map[string]string{Validate: `nginx=["nginx", "-t"],php-fpm=php-fpm -t`}, fpm)
	assert.Equal(t, map[string][]string{"nginx": {"nginx", "-t"}, "php-fpm": {"php-fpm", "-t"}}, got)
	assert.Empty(t, ws)

	got, ws = ValidatesOf(map[string]string{Validate: `["sh", "-c", "nginx=1 exec nginx -t"]`}, fpm)
	assert.Equal(t, map[string][]string{"nginx": {"sh", "-c", "nginx=1 exec nginx -t"}, "php-fpm": {"sh", "-c", "nginx=1 exec nginx -t"}}, got)
	assert.Empty(t, ws)

	got, ws = ValidatesOf(map[string]string{Validate: `php-fpm=["php-fpm"`}, fpm)
	assert.Equal(t, map[string][]string{"nginx": nil, "php-fpm": nil}, got)
	assert.Equal(t, []string{`hotreload/validate: invalid command "[\"php-fpm\"" for container "php-fpm": not a JSON array of strings, such as ["nginx","-t"]; using no validation`}, Strings(ws))
}

func TestConfirmsOfReadsEachValueForItsContainersDelivery(t *testing.T) {
	mixed := Targets{Reloaded: []string{"nginx", "prometheus"}, All: []string{"nginx", "prometheus"}}
	signals := map[string]SignalName{"nginx": "SIGHUP"}
	urls := map[string]string{"prometheus": "http://127.0.0.1:9090/-/reload"}

	got, ws := ConfirmsOf(map[string]string{Confirm: "nginx=workers,prometheus=http://127.0.0.1:9090/metrics prometheus_config_last_reload_successful 1"}, mixed, signals, urls)
	assert.Equal(t, map[string]Confirmation{"nginx": {Mode: ConfirmWorkers},
		"prometheus": {Mode: ConfirmMetric, URL: "http://127.0.0.1:9090/metrics", Metric: "prometheus_config_last_reload_successful", Value: "1"}}, got)
	assert.Empty(t, ws)

	got, ws = ConfirmsOf(map[string]string{Confirm: "workers"}, mixed, signals, urls)
	assert.Equal(t, map[string]Confirmation{"nginx": {Mode: ConfirmWorkers}, "prometheus": {}}, got)
	assert.Equal(t, []string{`hotreload/confirm: invalid confirmation "workers" for container "prometheus": workers need a signal, and hotreload/url is set; using the reload URL's answer`}, Strings(ws),
		"a value for all that one container's delivery cannot take is warned about for that container")
}

func TestDeliveriesOf(t *testing.T) {
	mixed := Targets{Reloaded: []string{"nginx", "prometheus"}, All: []string{"nginx", "prometheus"}}
	const reload = "http://127.0.0.1:9090/-/reload"
	tests := []struct {
		name     string
		targets  Targets
		pod      map[string]string
		want     map[string]Delivery
		warnings []string
	}{
		{"tells every container by SIGHUP by default", fpm, nil,
			map[string]Delivery{"nginx": {Signal: "SIGHUP"}, "php-fpm": {Signal: "SIGHUP"}}, nil},
		{"tells each container its own way", fpm, map[string]string{
			Signal: "nginx=SIGHUP,php-fpm=SIGUSR2", Process: "php-fpm=php-fpm: master", Confirm: "nginx=workers"},
			map[string]Delivery{
				"nginx":   {Signal: "SIGHUP", Confirm: Confirmation{Mode: ConfirmWorkers}},
				"php-fpm": {Signal: "SIGUSR2", Process: "php-fpm: master"},
			}, nil},
		{"posts to the URL of one container and signals the other with the value for all", mixed, map[string]string{
			Signal: "SIGUSR1", URL: "prometheus=" + reload},
			map[string]Delivery{"nginx": {Signal: "SIGUSR1"}, "prometheus": {URL: reload}}, nil},
		{"ignores a signal given for a container with a URL, naming it", mixed, map[string]string{
			Signal: "nginx=SIGUSR1,prometheus=SIGHUP", URL: "prometheus=" + reload},
			map[string]Delivery{"nginx": {Signal: "SIGUSR1"}, "prometheus": {URL: reload}},
			[]string{`hotreload/signal: ignored signal "SIGHUP" for container "prometheus": hotreload/url is set for it; using the URL`}},
		{"ignores a signal for all once when every container has a URL", mixed, map[string]string{Signal: "SIGUSR1", URL: reload},
			map[string]Delivery{"nginx": {URL: reload}, "prometheus": {URL: reload}},
			[]string{`hotreload/signal: ignored signal "SIGUSR1": hotreload/url is set; using the URL`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ws := DeliveriesOf(tt.pod, tt.targets)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.warnings, Strings(ws))
		})
	}
}
