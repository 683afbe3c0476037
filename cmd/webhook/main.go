// Command webhook is hotreload's cluster component: the mutating admission
// webhook and the canary rollout controller (serve), and an offline preview of
// the mutation (mutate).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	// The public roots, for notifications over HTTPS from an image without
	// a CA bundle of its own (the system's, where there is one, come first).
	_ "golang.org/x/crypto/x509roots/fallback"

	"github.com/hotreload/hotreload/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmds := []cli.Command{
		{Name: "serve", Short: "serve the admission webhook over TLS and run the rollout controller", Run: serveCommand},
		{Name: "mutate", Short: "print the pods of a manifest as the webhook would mutate them", Run: mutateCommand(os.Stdin, os.Stdout, os.Stderr)},
	}
	os.Exit(cli.Main(ctx, "webhook", "hotreload webhook: injects the reloader into opted-in pods and rolls config out progressively.", cmds, os.Args[1:], os.Stderr))
}
