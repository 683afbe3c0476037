package mutate

import (
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	"github.com/hotreload/hotreload/pkg/contract"
	"github.com/hotreload/hotreload/pkg/validate"
)

// A pod with hotreload/validate gets a validator per reloaded app container
// that mounts a live copy: a native sidecar in that container's image, as
// its user, with no added capability, that runs the app's own check when the
// reloader asks (docs/design/2026-12-07-verified-apply.md). It sees the
// staged revision at the app's own paths:
//
//   - where the app mounts the live copy of V (LiveVolume, subPath V: a
//     directory mount, the dir strategy's, and the LiveDir/V that link
//     symlinks resolve through), the validator mounts StagedVolume, subPath V:
//     the reloader's view of the staged copy, whose ..data links to
//     CandidateDir/V/<copy>;
//   - at CandidateDir/V it mounts the live copy of V, which holds the staged
//     copy beside the live one: the view resolves there;
//   - the app's other mounts are mounted read-only at the same paths (the
//     link directories among them), except the app's emptyDirs, for which it
//     gets directories of its own (ScratchVolume), so that a check that
//     writes (a temp or log directory) touches nothing of the app's, and the
//     API token, which a check does not need.
//
// Its socket directory (ValidateVolume) is mounted in the reloader and the
// validators, never in an app container.

// validatorFor returns the k-th validator, for app container app as redirected
// (kinds sorts the pod's volumes: volumeKinds), and how many scratch
// directories it uses from scratch on.
func validatorFor(k int, app corev1.Container, kinds map[string]volumeKind, p plan, opts Options, scratch int) (corev1.Container, int) {
	name := contract.ValidatorName
	if k > 0 {
		name += "-" + strconv.Itoa(k)
	}
	var mounts, candidates []corev1.VolumeMount
	for _, m := range app.VolumeMounts {
		switch {
		case m.Name == contract.LiveVolume:
			mounts = append(mounts, corev1.VolumeMount{Name: contract.StagedVolume, MountPath: m.MountPath, SubPath: m.SubPath, ReadOnly: true})
			if !slices.ContainsFunc(candidates, func(c corev1.VolumeMount) bool { return c.SubPath == m.SubPath }) {
				candidates = append(candidates, corev1.VolumeMount{Name: contract.LiveVolume,
					MountPath: contract.CandidateDir + "/" + m.SubPath, SubPath: m.SubPath, ReadOnly: true})
			}
		case kinds[m.Name] == volumeToken:
		case kinds[m.Name] == volumeEmptyDir:
			mounts = append(mounts, corev1.VolumeMount{Name: contract.ScratchVolume, MountPath: m.MountPath, SubPath: strconv.Itoa(scratch)})
			scratch++
		default:
			mounts = append(mounts, corev1.VolumeMount{Name: m.Name, MountPath: m.MountPath, SubPath: m.SubPath, SubPathExpr: m.SubPathExpr, ReadOnly: true})
		}
	}
	mounts = append(mounts, candidates...)
	mounts = append(mounts,
		corev1.VolumeMount{Name: contract.ValidateVolume, MountPath: contract.ValidateDir},
		corev1.VolumeMount{Name: contract.BinVolume, MountPath: contract.BinDir, ReadOnly: true})
	cmd := validate.CommandLine{Version: contract.Version, Socket: p.validation().Socket(app.Name), Command: p.validate[app.Name]}
	own := app.DeepCopy() // env, envFrom and security context as the app's
	return corev1.Container{
		Name:                     name,
		Image:                    app.Image,
		ImagePullPolicy:          app.ImagePullPolicy,
		Command:                  []string{contract.ValidatorBinary},
		Args:                     cmd.Args(),
		WorkingDir:               app.WorkingDir,
		Env:                      own.Env,
		EnvFrom:                  own.EnvFrom,
		Resources:                validatorResources(app, opts),
		VolumeMounts:             mounts,
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
		SecurityContext:          own.SecurityContext,
	}, scratch
}

// validatorResources requests what the other hotreload containers request,
// and limits the check as the app is limited: the check is the app's own
// binary, reading the app's config.
func validatorResources(app corev1.Container, opts Options) corev1.ResourceRequirements {
	r := corev1.ResourceRequirements{Requests: opts.Resources.Requests.DeepCopy()}
	if len(app.Resources.Limits) > 0 {
		r.Limits = app.Resources.Limits.DeepCopy()
		for name, req := range r.Requests {
			if lim, ok := r.Limits[name]; ok && lim.Cmp(req) < 0 {
				r.Requests[name] = lim.DeepCopy() // a request above its limit is invalid
			}
		}
	}
	return r
}

// validation is the reloader's side of the validators.
func (p plan) validation() contract.Validation {
	return contract.Validation{Containers: p.validators, SocketDir: contract.ValidateDir,
		StagedDir: contract.StagedDir, CandidateDir: contract.CandidateDir}
}

type volumeKind int

const (
	volumeOther volumeKind = iota
	volumeEmptyDir
	volumeToken
)

// volumeKinds sorts the pod's volumes for the validators' mounts.
func volumeKinds(pod *corev1.Pod) map[string]volumeKind {
	kinds := map[string]volumeKind{}
	for _, v := range pod.Spec.Volumes {
		switch {
		case v.EmptyDir != nil:
			kinds[v.Name] = volumeEmptyDir
		case v.Projected != nil:
			for _, s := range v.Projected.Sources {
				if s.ServiceAccountToken != nil {
					kinds[v.Name] = volumeToken
				}
			}
		}
	}
	return kinds
}

// validatorVolumes are the emptyDirs the validators need: the staged view
// (links only), the sockets, and their scratch directories when they use any.
func validatorVolumes(scratch int) []corev1.Volume {
	small := func(name string) corev1.Volume {
		return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{
			Medium: corev1.StorageMediumMemory, SizeLimit: ptr.To(resource.MustParse("1Mi"))}}}
	}
	vs := []corev1.Volume{small(contract.StagedVolume), small(contract.ValidateVolume)}
	if scratch > 0 {
		vs = append(vs, emptyDir(contract.ScratchVolume))
	}
	return vs
}
