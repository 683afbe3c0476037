package main

import (
	"context"
	"flag"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Flags with values no server can run with are refused before anything
// starts, naming the flag.
func TestServeRefusesBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--reloader-token-ttl", "5m"}, "--reloader-token-ttl=5m0s: the API server issues no token of less than 10m"},
		{[]string{"--controller-api-qps", "0"}, "--controller-api-qps=0: want a positive rate"},
		{[]string{"--live-size-limit", "0"}, `--live-size-limit="0": want a positive quantity such as 16Mi`},
	} {
		fs := flag.NewFlagSet("webhook serve", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		assert.EqualError(t, serveCommand(context.Background(), fs, tc.args), tc.want, tc.args)
	}
}
