// Package testenv runs integration tests against a real kube-apiserver and etcd,
// built from source by `make envtest-assets` and found through KUBEBUILDER_ASSETS.
//
// One control plane starts per test package, on first use, and stops when the
// package's tests end. Each test gets a fresh namespace. Missing binaries fail the
// test with the command that builds them: nothing is skipped silently.
package testenv
