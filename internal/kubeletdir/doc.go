// Package kubeletdir writes volume directories exactly the way the kubelet's
// atomic writer does (k8s.io/kubernetes pkg/volume/util/atomic_writer.go), and
// builds the payloads the kubelet projects from ConfigMaps and Secrets, so that
// tests of the revision function and the reloader run against the real layout:
//
//	<dir>/..2026_11_24_06_54_01.123456789/<path>   the files, with their modes
//	<dir>/..data -> ..2026_11_24_06_54_01.123456789 swapped by renaming ..data_tmp
//	<dir>/<top> -> ..data/<top>                     one symlink per top-level entry
//
// It is a test helper: it is independent of pkg/revision on purpose, so that it
// can serve as the oracle the revision function is checked against.
package kubeletdir
