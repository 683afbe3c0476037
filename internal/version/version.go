// Package version holds the build's version, set by the Makefile with -ldflags.
package version

// Version is the hotreload release this binary was built from. The webhook stamps
// it into the hotreload/injected annotation.
var Version = "dev"
