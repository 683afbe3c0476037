// Package reload is the sidecar: it watches its own Pod and the mounted source
// volumes, verifies that the mounted files hash to the released revision, swaps
// the live copy atomically, delivers a signal or a loopback HTTP call to the
// app's process, and reports the result on its Pod.
//
// It never writes anything but its live copies and its own Pod's hotreload/ keys.
package reload
