// Command kubectl-hotreload is the kubectl plugin that operates hotreload's
// config releases: kubectl finds it on the PATH as `kubectl hotreload`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/hotreload/hotreload/pkg/plugin"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := plugin.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
