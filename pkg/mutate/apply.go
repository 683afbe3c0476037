package mutate

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// apply makes the changes of p to pod, a copy the caller owns.
func apply(pod *corev1.Pod, p plan, opts Options) {
	for i, mounts := range p.mounts {
		pod.Spec.Containers[i].VolumeMounts = mounts
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
		inits = append(inits, linkContainer(k, l, pod.Spec.Containers[l.container], opts))
	}
	pod.Spec.InitContainers = append(inits, pod.Spec.InitContainers...)

	pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: LiveVolume, VolumeSource: corev1.VolumeSource{
		EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: ptr.To(opts.LiveSizeLimit.DeepCopy())},
	}})
	pod.Spec.Volumes = append(pod.Spec.Volumes, emptyDir(BinVolume))
	for n := range p.linkVolumes {
		pod.Spec.Volumes = append(pod.Spec.Volumes, emptyDir(LinkVolumePrefix+strconv.Itoa(n)))
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

// sourceArgs are the arguments naming the source and live copies, shared by
// install and run.
func sourceArgs(p plan) []string {
	args := []string{"--src-dir", SrcDir, "--live-dir", LiveDir}
	for _, v := range p.volumes {
		args = append(args, "--volume", v)
	}
	return args
}

// sourceMounts mount each reloaded volume under SrcDir, and the live volume.
func sourceMounts(p plan) []corev1.VolumeMount {
	mounts := []corev1.VolumeMount{{Name: LiveVolume, MountPath: LiveDir}}
	for _, v := range p.volumes {
		mounts = append(mounts, corev1.VolumeMount{Name: v, MountPath: SrcDir + "/" + v, ReadOnly: true})
	}
	return mounts
}

// installContainer copies the reloader binary for the link steps and writes
// the first live copy.
func installContainer(p plan, opts Options) corev1.Container {
	args := []string{"install", "--to", BinDir}
	mounts := append(sourceMounts(p), corev1.VolumeMount{Name: BinVolume, MountPath: BinDir})
	return corev1.Container{
		Name:                     InstallName,
		Image:                    opts.ReloaderImage,
		Args:                     append(args, sourceArgs(p)...),
		Resources:                *opts.Resources.DeepCopy(),
		VolumeMounts:             mounts,
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
		SecurityContext:          installSecurity(p.security),
	}
}

// reloaderContainer is the sidecar that keeps the live copies and delivers reloads.
func reloaderContainer(p plan, opts Options) corev1.Container {
	args := append([]string{"run"}, sourceArgs(p)...)
	for _, c := range p.containers {
		args = append(args, "--container", c)
	}
	switch {
	case p.url != "":
		args = append(args, "--url", p.url)
	default:
		args = append(args, "--signal", string(p.signal))
	}
	if p.process != "" {
		args = append(args, "--process", p.process)
	}
	if p.waitRelease {
		args = append(args, "--wait-release")
	}
	args = append(args, "--health-addr", ":"+strconv.Itoa(int(p.healthPort)), "--exchange-url", opts.ExchangeURL)
	mounts := append(sourceMounts(p), corev1.VolumeMount{Name: TokenVolume, MountPath: TokenDir, ReadOnly: true})
	env := []corev1.EnvVar{
		{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.name"}}},
		{Name: "POD_NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}},
	}
	if len(opts.ExchangeCA) > 0 {
		env = append(env, corev1.EnvVar{Name: ExchangeCAEnv, Value: string(opts.ExchangeCA)})
	}
	return corev1.Container{
		Name:         ReloaderName,
		Image:        opts.ReloaderImage,
		Args:         args,
		Env:          env,
		Resources:    *opts.Resources.DeepCopy(),
		VolumeMounts: mounts,
		StartupProbe: &corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Path: ReadyPath, Port: intstr.FromInt32(p.healthPort),
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
	name := LinkName
	if k > 0 {
		name += "-" + strconv.Itoa(k)
	}
	var args []string
	for _, c := range l.copies {
		args = append(args, "--copy", c)
	}
	for _, ln := range l.links {
		args = append(args, "--link", ln)
	}
	mounts := []corev1.VolumeMount{{Name: BinVolume, MountPath: BinDir, ReadOnly: true}}
	for _, n := range l.volumes {
		s := strconv.Itoa(n)
		mounts = append(mounts, corev1.VolumeMount{Name: LinkVolumePrefix + s, MountPath: LinkDir + "/" + s})
	}
	return corev1.Container{
		Name:                     name,
		Image:                    app.Image,
		ImagePullPolicy:          app.ImagePullPolicy,
		Command:                  []string{ReloaderBinary, "link"},
		Args:                     args,
		Resources:                *opts.Resources.DeepCopy(),
		VolumeMounts:             mounts,
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
		SecurityContext:          app.SecurityContext.DeepCopy(),
	}
}
