//go:build tools

// Package tools pins krew, the kubectl plugin manager, which installs the
// plugin from the archives and manifest `make dist` writes (make dist-test), in
// a module of its own so that its dependencies never move the Kubernetes
// components' versions.
package tools

import _ "sigs.k8s.io/krew/cmd/krew"
