//go:build tools

// Package tools pins controller-gen, which writes the ConfigRelease CRD and
// its deep-copy functions (make generate), in a module of its own so that its
// dependencies never move the Kubernetes components' versions.
package tools

import _ "sigs.k8s.io/controller-tools/cmd/controller-gen"
