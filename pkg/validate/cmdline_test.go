package validate

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hotreload/hotreload/pkg/contract/version"
)

func TestCommandLineParsesBack(t *testing.T) {
	v := CommandLine{Version: version.Current, Socket: "/var/run/hotreload/validate/nginx.sock", Timeout: DefaultTimeout,
		Command: []string{"nginx", "-t", "--", "-c", "/etc/nginx/nginx.conf"}}
	args := v.Args()
	assert.Equal(t, []string{"--contract", "3", "--socket", "/var/run/hotreload/validate/nginx.sock", "--",
		"nginx", "-t", "--", "-c", "/etc/nginx/nginx.conf"}, args, "the check follows --, whatever it holds")
	got, err := Parse(args)
	require.NoError(t, err)
	assert.Equal(t, v, got)

	v.Timeout = 3 * time.Second
	got, err = Parse(v.Args())
	require.NoError(t, err)
	assert.Equal(t, v, got)

	_, err = Parse([]string{"--socket", "/s", "--"})
	assert.ErrorIs(t, err, ErrNoCheck)
	_, err = Parse([]string{"--", "nginx", "-t"})
	assert.EqualError(t, err, "--socket is required")
	_, err = Parse([]string{"--socket", "/s", "--timeout", "0s", "--", "true"})
	assert.EqualError(t, err, "--timeout 0s: must be positive")
	_, err = Parse([]string{"--contract", "4", "--socket", "/s", "--", "true"})
	assert.ErrorIs(t, err, version.ErrNewer)
}
