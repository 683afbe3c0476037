// Command reloader is hotreload's sidecar: it keeps the live copy of a pod's
// config volumes, gated by the released revision, and tells the app to reload
// (run); and the init steps that prepare a pod for it (install, link). The
// validator, which runs in the app's image, is a binary of its own
// (cmd/validator), kept small.
//
// Each command parses its flags into an options struct (parseRun,
// parseInstall, parseLink), then runs with it.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/hotreload/hotreload/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmds := []cli.Command{
		{Name: "run", Short: "the sidecar: apply released config revisions and signal the app", Run: runCommand},
		{Name: "install", Short: "init step: copy this binary into a shared directory and write the first live copy", Run: installCommand},
		{Name: "link", Short: "init step in the app's image: make subPath files symlinks into the live copy", Run: linkCommand},
	}
	os.Exit(cli.Main(ctx, "reloader", "hotreload reloader: delivers config changes to a running process, in place.", cmds, os.Args[1:], os.Stderr))
}
