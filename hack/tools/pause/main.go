// Command pause is the local cluster's pod sandbox process (containerd's
// sandbox_image): it holds the pod's namespaces, sleeps until SIGTERM or
// SIGINT, and, as PID 1 of pods that share their process namespace, reaps the
// zombies other containers leave behind. Built into hotreload/pause:dev by
// make images-local; it is test infrastructure, never shipped.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for sig := range sigs {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		// Reap every exited child; SIGCHLD signals coalesce.
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
