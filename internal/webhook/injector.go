package webhook

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/hotreload/hotreload/pkg/mutate"
)

// Path is where the API server sends pod admission reviews.
const Path = "/mutate-pods"

// Outcomes of an admission, as logged and counted.
const (
	OutcomeMutated   = "mutated"   // the pod was patched
	OutcomeUnchanged = "unchanged" // nothing to do (already injected, nothing reloadable)
	OutcomeError     = "error"     // hotreload failed; the pod was allowed unchanged
)

// Injector is the admission handler for pods.
type Injector struct {
	// Namespaces reads namespace annotations (rollout defaults); the manager's
	// cache, so a request costs no API call.
	Namespaces client.Reader
	// Sources reads the annotations of the ConfigMaps and Secrets a pod
	// reads (hotreload/ignore) and their releases; nil reads none.
	Sources *SourceReader
	// Options for pkg/mutate; NamespaceAnnotations and SourceAnnotations
	// are filled in per request.
	Options mutate.Options
	// Decoder decodes the pod from the request.
	Decoder admission.Decoder
	// Metrics records each admission's outcome and latency; optional.
	Metrics *Metrics
}

var _ admission.Handler = (*Injector)(nil)

// Handle mutates an opted-in pod. It never denies: any failure allows the pod
// unchanged, with a warning the client sees and an error in the log.
func (i *Injector) Handle(ctx context.Context, req admission.Request) (resp admission.Response) {
	start := time.Now()
	log := logr.FromContextOrDiscard(ctx).WithValues("namespace", req.Namespace, "uid", req.UID, "dryRun", req.DryRun != nil && *req.DryRun)
	outcome := OutcomeError
	defer func() {
		if r := recover(); r != nil {
			log.Error(fmt.Errorf("%v", r), "panic while mutating; allowing the pod unchanged")
			resp, outcome = failOpen(fmt.Errorf("internal error: %v", r)), OutcomeError
		}
		i.Metrics.observe(outcome, time.Since(start))
	}()

	pod := &corev1.Pod{}
	if err := i.Decoder.Decode(req, pod); err != nil {
		log.Error(err, "decoding the pod; allowing it unchanged")
		return failOpen(fmt.Errorf("decoding the pod: %w", err))
	}
	name := pod.Name
	if name == "" {
		name = pod.GenerateName + "*"
	}
	log = log.WithValues("pod", name)

	opts := i.Options
	var warnings []string
	ns := &corev1.Namespace{}
	if err := i.Namespaces.Get(ctx, types.NamespacedName{Name: req.Namespace}, ns); err != nil {
		log.Error(err, "reading the namespace's rollout defaults; using the built-in ones")
		warnings = append(warnings, fmt.Sprintf("hotreload: could not read namespace %q for its rollout defaults (%v); using the built-in defaults", req.Namespace, err))
	} else {
		opts.NamespaceAnnotations = ns.Annotations
	}
	if i.Sources != nil {
		var sw []string
		sources := mutate.ReferencedSources(pod)
		opts.SourceAnnotations, sw = i.Sources.Annotations(ctx, req.Namespace, sources)
		warnings = append(warnings, sw...) // logged with the outcome
		opts.Releases, sw = i.Sources.Releases(ctx, req.Namespace, sources)
		warnings = append(warnings, sw...)
	}

	// At create the pod's own namespace field may be empty: the request's is
	// right. Mutate sees it, and the patch is computed between the decoded pod
	// and the result with that same namespace, so it leaves the field to the
	// API server. The pod is this request's own decoded copy, and Mutate never
	// modifies its input, so it stays the typed original without a copy.
	pod.Namespace = req.Namespace
	mutated, mw, err := mutate.Mutate(pod, opts)
	warnings = append(warnings, mw...)
	if err != nil {
		log.Error(err, "mutating the pod; allowing it unchanged")
		return failOpen(err).WithWarnings(warnings...)
	}
	ops, err := Patch(pod, mutated)
	if err != nil {
		log.Error(err, "computing the patch; allowing the pod unchanged")
		return failOpen(fmt.Errorf("computing the patch: %w", err)).WithWarnings(warnings...)
	}
	resp, outcome = admission.Allowed(""), OutcomeUnchanged
	if len(ops) > 0 {
		resp, outcome = admission.Patched("", ops...), OutcomeMutated
	}
	log.Info("admitted", "outcome", outcome, "patches", len(ops), "warnings", warnings)
	return resp.WithWarnings(warnings...)
}

// failOpen allows the pod as it came, telling the client why hotreload left it
// alone.
func failOpen(err error) admission.Response {
	resp := admission.Allowed("")
	resp.Result.Code = http.StatusOK
	return resp.WithWarnings(fmt.Sprintf("hotreload: pod admitted without hotreload: %v", err))
}
