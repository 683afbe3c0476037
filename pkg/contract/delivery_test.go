package contract

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/hotreload/hotreload/pkg/annotations"
)

func TestRunArgsTellEachContainerItsOwnWay(t *testing.T) {
	r := fullRun()
	r.SetDeliveries(map[string]Delivery{
		"app":      {Signal: "SIGHUP", Confirm: annotations.Confirmation{Mode: annotations.ConfirmWorkers}},
		"exporter": {Signal: "SIGUSR2", Process: "php-fpm: master"},
	})
	assert.Equal(t, Delivery{Signal: "SIGHUP", Confirm: annotations.Confirmation{Mode: annotations.ConfirmWorkers}}, r.Delivery, "the first container's")
	assert.Equal(t, []string{"run", "--contract", "3",
		"--src-dir", SrcDir, "--stable-dir", StableDir, "--live-dir", LiveDir, "--volume", "config", "--volume", "tls",
		"--container", "app", "--container", "exporter", "--signal", "SIGHUP", "--confirm", "workers",
		"--signal-for", "exporter=SIGUSR2", "--process-for", "exporter=php-fpm: master", "--confirm-for", "exporter=",
		"--health-addr", ":9441", "--exchange-url", DefaultExchangeURL}, r.Args(), "only what differs from the first container's")
	assert.Equal(t, Delivery{Signal: "SIGUSR2", Process: "php-fpm: master"}, r.DeliveryOf("exporter"))
	assert.Equal(t, r.Delivery, r.DeliveryOf("app"))

	r.SetDeliveries(map[string]Delivery{"app": {Signal: "SIGUSR1"}, "exporter": {Signal: "SIGUSR1"}})
	assert.Equal(t, Delivery{Signal: "SIGUSR1"}, r.Delivery)
	assert.Nil(t, r.Deliveries, "containers told alike need no flag of their own")
}

func TestParseRunTellsEachContainerItsOwnWay(t *testing.T) {
	testParseRun(t, []parseRunCase{
		{"gives a container the values of its own flags over those for all", []string{"--volume", "v", "--container", "a,b",
			"--signal", "SIGUSR1", "--process", "x", "--process-for", "b=", "--confirm-for", "b=workers"},
			func(r *Run) {
				r.Containers = []string{"a", "b"}
				r.Delivery = Delivery{Signal: "SIGUSR1", Process: "x"}
				r.Deliveries = map[string]Delivery{"b": {Signal: "SIGUSR1", Confirm: annotations.Confirmation{Mode: annotations.ConfirmWorkers}}}
			}, nil, ""},
		{"tells a container by its --signal-for, not by --url", []string{"--volume", "v", "--container", "a,b", "--url", "http://127.0.0.1/x", "--signal-for", "b=usr2"},
			func(r *Run) {
				r.Containers = []string{"a", "b"}
				r.Delivery = Delivery{URL: "http://127.0.0.1/x"}
				r.Deliveries = map[string]Delivery{"b": {Signal: "SIGUSR2"}}
			}, nil, ""},
		{"replaces a value of one container it cannot use, naming the container", []string{"--volume", "v", "--container", "a,b", "--signal-for", "b=SIGKILL", "--confirm-for", "b=pid"},
			func(r *Run) {
				r.Containers = []string{"a", "b"}
				r.Deliveries = map[string]Delivery{"b": {Signal: "SIGHUP"}}
			},
			[]string{`--signal-for b "SIGKILL": not a signal the reloader can send; using SIGHUP`,
				`--confirm-for b "pid": want process, workers, a loopback URL, or a URL, a metric name and a value; using the delivery's default`}, ""},
		{"warns once about a value for all that a container takes too", []string{"--volume", "v", "--container", "a,b", "--signal", "SIGKILL", "--process-for", "b=x"},
			func(r *Run) {
				r.Containers = []string{"a", "b"}
				r.Deliveries = map[string]Delivery{"b": {Signal: "SIGHUP", Process: "x"}}
			}, []string{`--signal "SIGKILL": not a signal the reloader can send; using SIGHUP`}, ""},
		{"refuses a flag of a container it does not tell", []string{"--volume", "v", "--container", "a", "--url-for", "b=http://127.0.0.1/x"}, nil, nil,
			`--url-for of "b", which is not a --container`},
		{"refuses a container given twice", []string{"--volume", "v", "--container", "a", "--signal-for", "a=HUP", "--signal-for", "a=USR1"}, nil, nil,
			`reloader run: invalid value "a=USR1" for flag -signal-for: container "a" given twice`},
		{"refuses a value without its container", []string{"--volume", "v", "--container", "a", "--signal-for", "SIGHUP"}, nil, nil,
			`reloader run: invalid value "SIGHUP" for flag -signal-for: "SIGHUP": want CONTAINER=VALUE`},
	})
}
