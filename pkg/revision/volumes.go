package revision

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// serviceAccountVolumePrefix names the volume the API server adds for the pod's
// own token; it projects a configMap (kube-root-ca.crt) but is never reloadable.
const serviceAccountVolumePrefix = "kube-api-access-"

// Reloadable reports whether hotreload can keep a live copy of volume v: a
// configMap or secret volume, or a projected volume with at least one configMap
// or secret source and no source that the kubelet rotates on its own (service
// account tokens, cluster trust bundles, pod certificates), since a copy of those
// would go stale. The API server's kube-api-access-* volume is never reloadable.
func Reloadable(v corev1.Volume) bool {
	if strings.HasPrefix(v.Name, serviceAccountVolumePrefix) {
		return false
	}
	switch {
	case v.ConfigMap != nil, v.Secret != nil:
		return true
	case v.Projected != nil:
		var config bool
		for _, s := range v.Projected.Sources {
			switch {
			case s.ServiceAccountToken != nil, s.ClusterTrustBundle != nil, s.PodCertificate != nil:
				return false
			case s.ConfigMap != nil, s.Secret != nil:
				config = true
			}
		}
		return config
	}
	return false
}
