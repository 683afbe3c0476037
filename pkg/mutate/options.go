package mutate

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/contract"
	"github.com/hotreload/hotreload/pkg/release"
)

// Defaults of Options.
const (
	// DefaultLiveSizeLimit bounds the live copies (configMaps and secrets are at
	// most 1 MiB each).
	DefaultLiveSizeLimit = "16Mi"
)

// Options is what Mutate needs beyond the pod. The zero value of each field
// but ReloaderImage selects its default.
type Options struct {
	// ReloaderImage runs the install step and the sidecar.
	ReloaderImage string
	// Version is stamped into the hotreload/injected annotation.
	Version string
	// NativeSidecar runs the reloader as an init container with restartPolicy
	// Always (API servers 1.29 and later) rather than as a plain container.
	NativeSidecar bool
	// NamespaceAnnotations are the annotations of the pod's namespace, which
	// give the rollout defaults.
	NamespaceAnnotations map[string]string
	// LiveSizeLimit bounds the in-memory live volume. Default DefaultLiveSizeLimit.
	LiveSizeLimit *resource.Quantity
	// Resources of the install, link and reloader containers. Default
	// DefaultResources(LiveSizeLimit).
	Resources *corev1.ResourceRequirements
	// HealthPort is the sidecar's preferred health port. Default
	// contract.DefaultHealthPort.
	HealthPort int32
	// ExchangeURL is where the sidecar trades its pod token for the reloader's.
	// Default contract.DefaultExchangeURL.
	ExchangeURL string
	// ExchangeCA is the PEM bundle the sidecar trusts for ExchangeURL (the
	// webhook's CA); empty leaves the system roots.
	ExchangeCA []byte
	// SourceAnnotations are the annotations of the ConfigMaps and Secrets
	// the pod's volumes project (Sources lists them), which say whether
	// hotreload leaves a source alone (hotreload/ignore). A source not in
	// the map has none.
	SourceAnnotations map[release.Source]map[string]string
	// Releases are the statuses of the releases of the sources the pod
	// reads (ReferencedSources lists them). The references of a source
	// without one stay as written; the others are pinned to the revision
	// the release gives a new pod (release.AdmitRevision).
	Releases map[release.Source]v1alpha1.ConfigReleaseStatus
}

// DefaultResources returns small requests and limits. The memory limit leaves
// room for two live copies, since the pages of an in-memory emptyDir count
// against the container that writes them and a swap holds the old and the new.
func DefaultResources(liveSizeLimit resource.Quantity) corev1.ResourceRequirements {
	limit := resource.MustParse("48Mi")
	limit.Add(liveSizeLimit)
	limit.Add(liveSizeLimit)
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("10m"),
			corev1.ResourceMemory: resource.MustParse("32Mi"),
		},
		Limits: corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("100m"),
			corev1.ResourceMemory: limit,
		},
	}
}

// withDefaults returns o with its zero fields set to their defaults.
func (o Options) withDefaults() Options {
	if o.LiveSizeLimit == nil {
		q := resource.MustParse(DefaultLiveSizeLimit)
		o.LiveSizeLimit = &q
	}
	if o.Resources == nil {
		r := DefaultResources(*o.LiveSizeLimit)
		o.Resources = &r
	}
	if o.ExchangeURL == "" {
		o.ExchangeURL = contract.DefaultExchangeURL
	}
	if o.HealthPort == 0 {
		o.HealthPort = contract.DefaultHealthPort
	}
	if o.Version == "" {
		o.Version = "unknown"
	}
	return o
}
