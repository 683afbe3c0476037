// Package v1alpha1 holds the ConfigRelease API (group hotreload.dev, version
// v1alpha1): the durable state of a config change to one ConfigMap or Secret,
// written by the controller and read by anyone with kubectl.
//
// +kubebuilder:object:generate=true
// +groupName=hotreload.dev
package v1alpha1
