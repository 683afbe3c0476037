//go:build !unix

package validate

import "os/exec"

// killGroupOnCancel keeps exec's default, which kills cmd alone: there are no
// process groups to kill. The validator runs only in Linux containers; this
// lets the packages that build its command line (pkg/mutate, and through it the
// kubectl plugin) compile for Windows.
func killGroupOnCancel(*exec.Cmd) {}
