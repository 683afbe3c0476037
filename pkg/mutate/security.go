package mutate

import (
	"fmt"
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/hotreload/hotreload/pkg/contract"
)

// FallbackUID runs the reloader when the target's UID is unknown and no
// signal needs that UID (distroless images' nonroot user).
const FallbackUID int64 = 65532

// reloaderSecurity returns the sidecar's security context. It runs as the
// reloaded containers' UID when the pod or the containers state one, so that
// it may signal them and Pod Security restricted holds. Otherwise, to deliver
// a signal it runs as root with only CAP_KILL (baseline), unless the pod
// demands non-root users; without a signal it runs as FallbackUID.
func reloaderSecurity(pod *corev1.Pod, s settings) (*corev1.SecurityContext, []string) {
	sc := &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false),
		ReadOnlyRootFilesystem:   ptr.To(true),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
	uid, gid, unknown := targetIDs(pod, s.containers)
	switch {
	case unknown == "":
		sc.RunAsUser = ptr.To(uid)
		sc.RunAsNonRoot = ptr.To(uid != 0)
		sc.RunAsGroup = gid
		return sc, nil
	case !s.signals():
		sc.RunAsUser = ptr.To(FallbackUID)
		sc.RunAsNonRoot = ptr.To(true)
		return sc, nil
	case demandsNonRoot(pod, s.containers):
		sc.RunAsUser = ptr.To(FallbackUID)
		sc.RunAsNonRoot = ptr.To(true)
		return sc, []string{fmt.Sprintf("%s and the pod requires non-root users: the reloader runs as UID %d and can signal only processes of that user; set runAsUser", unknown, FallbackUID)}
	default:
		sc.RunAsUser = ptr.To(int64(0))
		sc.Capabilities.Add = []corev1.Capability{"KILL"}
		return sc, []string{fmt.Sprintf("%s: the reloader runs as root with only the KILL capability (Pod Security baseline); set runAsUser to run it as that user (restricted)", unknown)}
	}
}

// targetIDs returns the UID all the reloaded containers run as, and their GID
// if they state the same one. unknown says what prevents a single UID, "" when
// there is one.
func targetIDs(pod *corev1.Pod, containers []string) (uid int64, gid *int64, unknown string) {
	var psc corev1.PodSecurityContext
	if pod.Spec.SecurityContext != nil {
		psc = *pod.Spec.SecurityContext
	}
	var uids, gids []*int64
	var missing []string
	for _, c := range reloaded(pod, containers) {
		u, g := psc.RunAsUser, psc.RunAsGroup
		if c.SecurityContext != nil {
			if c.SecurityContext.RunAsUser != nil {
				u = c.SecurityContext.RunAsUser
			}
			if c.SecurityContext.RunAsGroup != nil {
				g = c.SecurityContext.RunAsGroup
			}
		}
		if u == nil {
			missing = append(missing, fmt.Sprintf("container %q", c.Name))
		}
		uids, gids = append(uids, u), append(gids, g)
	}
	if len(missing) > 0 {
		return 0, nil, "the user of " + strings.Join(missing, ", ") + " is unknown"
	}
	if len(uids) == 0 {
		return 0, nil, "no container is reloaded"
	}
	for _, u := range uids[1:] {
		if *u != *uids[0] {
			return 0, nil, "the reloaded containers run as different users"
		}
	}
	gid = gids[0]
	for _, g := range gids[1:] {
		if g == nil || gid == nil || *g != *gid {
			gid = nil
		}
	}
	if gid != nil {
		gid = ptr.To(*gid)
	}
	return *uids[0], gid, ""
}

// demandsNonRoot reports whether runAsNonRoot is true for the pod or one of
// the reloaded containers.
func demandsNonRoot(pod *corev1.Pod, containers []string) bool {
	if sc := pod.Spec.SecurityContext; sc != nil && sc.RunAsNonRoot != nil && *sc.RunAsNonRoot {
		return true
	}
	for _, c := range reloaded(pod, containers) {
		if c.SecurityContext != nil && c.SecurityContext.RunAsNonRoot != nil && *c.SecurityContext.RunAsNonRoot {
			return true
		}
	}
	return false
}

// installSecurity is the install step's security context: the sidecar's,
// without any capability.
func installSecurity(reloader *corev1.SecurityContext) *corev1.SecurityContext {
	sc := reloader.DeepCopy()
	sc.Capabilities.Add = nil
	return sc
}

// tokenExpirationSeconds is the lifetime of the sidecar's pod token; the
// kubelet renews it at 80%.
const tokenExpirationSeconds = 3600

// newTokenVolume returns the sidecar's own token volume, laid out as
// kube-api-access is (token, ca.crt, namespace) so that it also keeps the
// ServiceAccount admission plugin from mounting the app's API token into the
// sidecar. The token is the pod's, for TokenAudience only: no API server
// accepts it. The sidecar trades it at the controller for a token of the
// reloader's own identity (docs/design/2026-11-24-reloader-identity.md).
func newTokenVolume() corev1.Volume {
	return corev1.Volume{Name: contract.TokenVolume, VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		DefaultMode: ptr.To(int32(0o644)),
		Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", Audience: contract.TokenAudience, ExpirationSeconds: ptr.To(int64(tokenExpirationSeconds))}},
			{ConfigMap: &corev1.ConfigMapProjection{
				LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"},
				Items:                []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}},
			}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{
				{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}},
			}}},
			// The exchange's CA bundle, which follows its rotation; optional,
			// so that a pod starts before the controller wrote it.
			{ConfigMap: &corev1.ConfigMapProjection{
				LocalObjectReference: corev1.LocalObjectReference{Name: contract.ExchangeCAConfigMap},
				Items:                []corev1.KeyToPath{{Key: contract.ExchangeCAKey, Path: path.Base(contract.ExchangeCAFile)}},
				Optional:             ptr.To(true),
			}},
		},
	}}}
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}
