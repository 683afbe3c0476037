// Package version holds the build's version, set by the Makefile with -ldflags.
package version

// Version is the hotreload release this binary was built from. The webhook stamps
// it into the hotreload/injected annotation.
var Version = "dev"

// Registry is where hotreload's release images live.
const Registry = "ghcr.io/hotreload"

// ReloaderImage is the reloader image of this release, the default that the
// webhook injects.
func ReloaderImage() string { return Registry + "/reloader:" + Version }
