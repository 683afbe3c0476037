package reload

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// HideFromApp marks the reloader's process not dumpable, first thing in
// `reloader run`. The app shares its PID namespace and, in a pod of Pod
// Security restricted, its user (a signal needs the same user): the kernel
// lets a process of the same user open another's /proc/<pid>/root, mem,
// environ and fd, and trace it, unless that process is not dumpable; then
// only CAP_SYS_PTRACE does. The app can thus read neither the pod token,
// mounted in the sidecar alone, nor the reloader token, kept in its memory
// only (docs/design/2026-12-07-release-integrity.md, section 5).
func HideFromApp() error {
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("marking the reloader not dumpable: %w", err)
	}
	return nil
}
