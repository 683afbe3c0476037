// Package annotations is hotreload's user-facing API in one place: every label
// and annotation key, its default, and one typed accessor per key that merges the
// pod's value over the namespace's over the default and reports a malformed value
// as a warning naming the key, the value and what was used instead.
//
// It never performs I/O and never fails: bad input yields the default and a warning.
package annotations
