package main

import (
	"context"
	"flag"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hotreload/hotreload/pkg/contract"
	"github.com/hotreload/hotreload/pkg/reload"
)

// TestValidatorAnswersWithTheAppsCheck: the command line the webhook writes
// starts a validator that answers the reloader, over its socket, with what
// the fixed command said; it stops with its context.
func TestValidatorAnswersWithTheAppsCheck(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "app.sock")
	v := contract.Validator{Version: contract.Version, Socket: socket, Timeout: 5 * time.Second,
		Command: []string{"/bin/sh", "-c", `echo "app: bad value in $0"; exit 4`, "/etc/app/app.conf"}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fs := flag.NewFlagSet("reloader validator", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	done := make(chan error, 1)
	go func() { done <- validatorCommand(ctx, fs, v.Args()) }()

	var got reload.Verdict
	require.Eventually(t, func() bool {
		var err error
		got, err = reload.AskValidator(ctx, socket, "3f2a9c1b7d4e", v.Timeout)
		return err == nil
	}, 10*time.Second, 20*time.Millisecond, "the validator answers")
	assert.Equal(t, reload.Verdict{Exit: 4, Output: "app: bad value in /etc/app/app.conf"}, got)
	assert.EqualError(t, got.Err(v.Command), `refused by the app: /bin/sh -c echo "app: bad value in $0"; exit 4 /etc/app/app.conf: exit status 4: app: bad value in /etc/app/app.conf`)

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the validator did not stop with its context")
	}
}
