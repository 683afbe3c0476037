// Package webhook is the admission side of `webhook serve`: the Injector, an
// admission.Handler that decodes a pod, runs pkg/mutate on it and answers with a
// JSON patch and warnings (the namespace's annotations from the manager's
// cache, those of the ConfigMaps and Secrets the pod mounts read by a
// SourceReader); and the manager that serves it over TLS with health
// endpoints and metrics. The patch is computed between the decoded pod and the
// mutated one (Patch), never against the raw request, so it never touches a
// field our client libraries do not know.
//
// It never blocks a pod: when anything goes wrong, the pod is allowed unchanged
// with a warning and a logged error.
package webhook
