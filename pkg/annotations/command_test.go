package annotations

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		name    string
		value   string
		want    []string
		wantErr string
	}{
		{"reads words separated by spaces", " nginx  -t ", []string{"nginx", "-t"}, ""},
		{"reads a JSON array", `["promtool", "check", "config", "/etc/prometheus/prometheus.yml"]`,
			[]string{"promtool", "check", "config", "/etc/prometheus/prometheus.yml"}, ""},
		{"keeps an argument with spaces in the JSON form", `["sh", "-c", "a b"]`, []string{"sh", "-c", "a b"}, ""},
		{"gives quotes no meaning in the words form", `haproxy -c -f "/etc/haproxy/haproxy.cfg"`,
			[]string{"haproxy", "-c", "-f", `"/etc/haproxy/haproxy.cfg"`}, ""},
		{"refuses a broken JSON array", `["nginx", "-t"`, nil, `not a JSON array of strings, such as ["nginx","-t"]`},
		{"refuses a JSON array of numbers", `[1, 2]`, nil, `not a JSON array of strings, such as ["nginx","-t"]`},
		{"refuses an empty array", `[]`, nil, "no command"},
		{"refuses a blank command", `["", "-t"]`, nil, "the command is blank"},
		{"refuses a control character", "[\"nginx\", \"-t\\u001b\"]", nil, `argument "-t\x1b" holds a control character`},
		{"refuses too many arguments", strings.Repeat("a ", 65), nil, "more than 64 arguments"},
		{"refuses a value too long", strings.Repeat("a", 4097), nil, "longer than 4096 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseCommand(tc.value)
			if tc.wantErr != "" {
				assert.EqualError(t, err, tc.wantErr)
				return
			}
			assert.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestValidateOf(t *testing.T) {
	got, ws := ValidateOf(map[string]string{Validate: `["nginx","-t"]`})
	assert.Equal(t, []string{"nginx", "-t"}, got)
	assert.Empty(t, ws)
	got, ws = ValidateOf(map[string]string{Validate: "  "})
	assert.Nil(t, got)
	assert.Empty(t, ws, "a blank value is no value")
	got, ws = ValidateOf(map[string]string{Validate: `["nginx"`})
	assert.Nil(t, got)
	assert.Equal(t, []string{`hotreload/validate: invalid command "[\"nginx\"": not a JSON array of strings, such as ["nginx","-t"]; using no validation`}, Strings(ws))
}
