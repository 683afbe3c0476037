package mutate

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/hotreload/hotreload/pkg/contract"
)

// DefaultServiceAccount is named for a pod given the sidecar's token volume
// that names no service account, as the ServiceAccount admission plugin would.
const DefaultServiceAccount = "default"

// apply makes the changes of p to pod, a copy the caller owns.
func apply(pod *corev1.Pod, p plan, opts Options) {
	p.sources = planSources(pod, p.volumes)
	for name, mounts := range p.mounts {
		containerNamed(pod, name).VolumeMounts = mounts
	}
	for _, c := range p.containers {
		if p.validate[c] != nil && p.mounts[c] != nil {
			p.validators = append(p.validators, c)
		}
	}
	var inits []corev1.Container
	inits = append(inits, installContainer(p, opts))
	reloader := reloaderContainer(p, opts)
	if opts.NativeSidecar {
		reloader.RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
		inits = append(inits, reloader)
	} else {
		pod.Spec.Containers = append(pod.Spec.Containers, reloader)
	}
	for k, l := range p.links {
		inits = append(inits, linkContainer(k, l, *containerNamed(pod, l.container), opts))
	}
	var validators []corev1.Container
	scratch := 0
	var kinds map[string]volumeKind
	if len(p.validators) > 0 {
		kinds = volumeKinds(pod)
	}
	for k, name := range p.validators {
		var v corev1.Container
		v, scratch = validatorFor(k, *containerNamed(pod, name), kinds, p, opts, scratch)
		if opts.NativeSidecar {
			v.RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
			inits = append(inits, v)
		} else {
			validators = append(validators, v)
		}
	}
	pod.Spec.Containers = append(pod.Spec.Containers, validators...)
	pod.Spec.InitContainers = append(inits, pod.Spec.InitContainers...)

	pod.Spec.Volumes = append(pod.Spec.Volumes, p.sources.volumes...)
	pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: contract.LiveVolume, VolumeSource: corev1.VolumeSource{
		EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: ptr.To(opts.LiveSizeLimit.DeepCopy())},
	}})
	pod.Spec.Volumes = append(pod.Spec.Volumes, emptyDir(contract.BinVolume))
	for n := range p.linkVolumes {
		pod.Spec.Volumes = append(pod.Spec.Volumes, emptyDir(contract.LinkVolumePrefix+strconv.Itoa(n)))
	}
	if len(p.validators) > 0 {
		pod.Spec.Volumes = append(pod.Spec.Volumes, validatorVolumes(scratch)...)
	}
	pod.Spec.Volumes = append(pod.Spec.Volumes, newTokenVolume())
	// A token projection needs a service account. The ServiceAccount admission
	// plugin names "default" before webhooks run; where it is off, name it
	// here, or the API server would reject the pod.
	if pod.Spec.ServiceAccountName == "" && pod.Spec.DeprecatedServiceAccount == "" {
		pod.Spec.ServiceAccountName = DefaultServiceAccount
	}
	if p.signals() {
		pod.Spec.ShareProcessNamespace = ptr.To(true)
	}
}

func emptyDir(name string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}
}

// sources names the candidates, stable twins and live copies of the reloaded
// volumes, shared by install and run.
func sources(p plan) contract.Sources {
	return contract.Sources{SrcDir: contract.SrcDir, StableDir: contract.StableDir, LiveDir: contract.LiveDir,
		Volumes: p.volumes, Parts: p.sources.parts}
}

// sourceMounts mount the live volume, and each part's candidate and stable twin.
func sourceMounts(p plan) []corev1.VolumeMount {
	return append([]corev1.VolumeMount{{Name: contract.LiveVolume, MountPath: contract.LiveDir}}, p.sources.mounts...)
}

// installContainer copies the reloader binary for the link steps and writes
// the first live copy.
func installContainer(p plan, opts Options) corev1.Container {
	install := contract.Install{Version: contract.Version, To: contract.BinDir, Validator: len(p.validators) > 0, Sources: sources(p)}
	mounts := append(sourceMounts(p), corev1.VolumeMount{Name: contract.BinVolume, MountPath: contract.BinDir})
	return corev1.Container{
		Name:                     contract.InstallName,
		Image:                    opts.ReloaderImage,
		Args:                     install.Args(),
		Resources:                *opts.Resources.DeepCopy(),
		VolumeMounts:             mounts,
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
		SecurityContext:          installSecurity(p.security),
	}
}

// reloaderContainer is the sidecar that keeps the live copies and delivers reloads.
func reloaderContainer(p plan, opts Options) corev1.Container {
	run := contract.Run{
		Version:     contract.Version,
		Sources:     sources(p),
		Containers:  p.containers,
		WaitRelease: true,
		HealthAddr:  ":" + strconv.Itoa(int(p.healthPort)),
		ExchangeURL: opts.ExchangeURL,
	}
	each := make(map[string]contract.Delivery, len(p.deliveries))
	for c, d := range p.deliveries {
		each[c] = contract.Delivery(d)
	}
	run.SetDeliveries(each)
	mounts := append(sourceMounts(p), corev1.VolumeMount{Name: contract.TokenVolume, MountPath: contract.TokenDir, ReadOnly: true})
	if len(p.validators) > 0 {
		run.Validation = p.validation()
		mounts = append(mounts,
			corev1.VolumeMount{Name: contract.StagedVolume, MountPath: contract.StagedDir},
			corev1.VolumeMount{Name: contract.ValidateVolume, MountPath: contract.ValidateDir})
	}
	return corev1.Container{
		Name:         contract.ReloaderName,
		Image:        opts.ReloaderImage,
		Args:         run.Args(),
		Env:          contract.SidecarEnv(opts.ExchangeCA),
		Resources:    *opts.Resources.DeepCopy(),
		VolumeMounts: mounts,
		StartupProbe: &corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Path: contract.ReadyPath, Port: intstr.FromInt32(p.healthPort),
			}},
			PeriodSeconds:    1,
			FailureThreshold: 120,
		},
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
		SecurityContext:          p.security.DeepCopy(),
	}
}

// linkContainer is the k-th link step, in the image of app container app: it
// copies each image directory and links the subPath files into the live copy.
// It runs as the app container does.
func linkContainer(k int, l linkStep, app corev1.Container, opts Options) corev1.Container {
	name := contract.LinkName
	if k > 0 {
		name += "-" + strconv.Itoa(k)
	}
	link := contract.Link{Version: contract.Version, Copies: l.copies, Links: l.links}
	mounts := []corev1.VolumeMount{{Name: contract.BinVolume, MountPath: contract.BinDir, ReadOnly: true}}
	for _, n := range l.volumes {
		s := strconv.Itoa(n)
		mounts = append(mounts, corev1.VolumeMount{Name: contract.LinkVolumePrefix + s, MountPath: contract.LinkDir + "/" + s})
	}
	return corev1.Container{
		Name:                     name,
		Image:                    app.Image,
		ImagePullPolicy:          app.ImagePullPolicy,
		Command:                  contract.LinkCommand(),
		Args:                     link.Args(),
		Resources:                *opts.Resources.DeepCopy(),
		VolumeMounts:             mounts,
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
		SecurityContext:          app.SecurityContext.DeepCopy(),
	}
}
