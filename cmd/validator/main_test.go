package main

import (
	"context"
	"flag"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hotreload/hotreload/pkg/contract/version"
	"github.com/hotreload/hotreload/pkg/validate"
)

// TestValidatorAnswersWithTheAppsCheck: the command line the webhook writes
// starts a validator that answers the reloader, over its socket, with what
// the fixed command said; it stops with its context.
func TestValidatorAnswersWithTheAppsCheck(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "app.sock")
	c := validate.CommandLine{Version: version.Current, Socket: socket, Timeout: 5 * time.Second,
		Command: []string{"/bin/sh", "-c", `echo "app: bad value in $0"; exit 4`, "/etc/app/app.conf"}}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	fs := flag.NewFlagSet("validator", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, fs, c.Args()) }()

	var got validate.Verdict
	require.Eventually(t, func() bool {
		var err error
		got, err = validate.Ask(ctx, socket, "3f2a9c1b7d4e", c.Timeout)
		return err == nil
	}, 10*time.Second, 20*time.Millisecond, "the validator answers")
	assert.Equal(t, validate.Verdict{Exit: 4, Output: "app: bad value in /etc/app/app.conf", Command: c.Command}, got)

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the validator did not stop with its context")
	}
}

// TestValidatorLinksTheStandardLibraryAlone keeps the validator small: its
// idle memory is budgeted, and a client library's package initialisation
// alone would exceed it.
func TestValidatorLinksTheStandardLibraryAlone(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{
		"github.com/hotreload/hotreload/cmd/validator",
		"github.com/hotreload/hotreload/internal/cli",
		"github.com/hotreload/hotreload/pkg/contract/version",
		"github.com/hotreload/hotreload/pkg/validate",
	}, strings.Fields(string(out)))
}
