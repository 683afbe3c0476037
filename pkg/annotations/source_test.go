package annotations

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestIgnoredOf(t *testing.T) {
	tests := []struct {
		name     string
		source   map[string]string
		want     bool
		warnings []string
	}{
		{"a source without the annotation is not ignored", nil, false, nil},
		{"a blank value counts as absent", map[string]string{Ignore: " "}, false, nil},
		{"true ignores it", map[string]string{Ignore: "true"}, true, nil},
		{"in any case", map[string]string{Ignore: "True"}, true, nil},
		{"false does not", map[string]string{Ignore: "false"}, false, nil},
		{"another value warns and does not ignore it", map[string]string{Ignore: "yes"}, false,
			[]string{`hotreload/ignore: invalid value "yes": want "true" or "false"; using false`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ws := IgnoredOf(tt.source)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.warnings, Strings(ws))
		})
	}
}

func TestOnHaltOf(t *testing.T) {
	tests := []struct {
		name              string
		source, namespace map[string]string
		want              HaltPolicy
		warnings          []string
	}{
		{"holds by default", nil, nil, HaltHold, nil},
		{"the source's policy", map[string]string{OnHalt: "retry"}, nil, HaltRetry, nil},
		{"in any case", map[string]string{OnHalt: " Retry "}, nil, HaltRetry, nil},
		{"the namespace's when the source says nothing", nil, map[string]string{OnHalt: "retry"}, HaltRetry, nil},
		{"the source's over the namespace's", map[string]string{OnHalt: "hold"}, map[string]string{OnHalt: "retry"}, HaltHold, nil},
		{"a malformed source value warns and the namespace's is used", map[string]string{OnHalt: "retyr"}, map[string]string{OnHalt: "retry"}, HaltRetry,
			[]string{`hotreload/on-halt: invalid policy "retyr": want hold or retry; using retry`}},
		{"a malformed value warns and holds", nil, map[string]string{OnHalt: "always"}, HaltHold,
			[]string{`namespace annotation hotreload/on-halt: invalid policy "always": want hold or retry; using hold`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ws := OnHaltOf(tt.source, tt.namespace)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.warnings, Strings(ws))
		})
	}
}
