//go:build tools

// Package tools pins helm, which lints the chart (make lint), renders it for the
// comparison with the kustomize overlays (make test) and installs it in the
// end-to-end tests, in a module of its own so that its dependencies never move
// the Kubernetes components' versions.
package tools

import _ "helm.sh/helm/v4/cmd/helm"
