package annotations

// Prefix starts every label and annotation key hotreload reads or writes.
const Prefix = "hotreload/"

// Keys users set.
const (
	// InjectionLabel is the namespace label that makes the webhook act on the
	// namespace's pods, when set to InjectionEnabled.
	InjectionLabel = "hotreload/injection"
	// InjectionEnabled is the value of InjectionLabel that enables injection.
	InjectionEnabled = "enabled"

	// EnableLabel is the pod label that opts a pod in, when set to EnableValue.
	EnableLabel = "hotreload/enable"
	// EnableValue is the value of EnableLabel that opts a pod in.
	EnableValue = "true"

	// Signal is the pod annotation naming the signal sent to the target process
	// (SIGHUP, SIGUSR1, ...), or SignalNone for apps that watch their files.
	// Per container: "nginx=SIGHUP,php-fpm=SIGUSR2" (see Targets for the
	// rule). Default: SIGHUP.
	Signal = "hotreload/signal"
	// URL is the pod annotation naming a loopback http(s) URL to POST to instead
	// of sending a signal, e.g. http://127.0.0.1:9090/-/reload. Per
	// container: "prometheus=http://127.0.0.1:9090/-/reload" (see Targets).
	URL = "hotreload/url"
	// Container is the pod annotation listing, comma-separated, the containers to
	// reload: app containers, and native sidecars (init containers with
	// restartPolicy Always). Default: the DefaultContainer annotation, else
	// the first container.
	Container = "hotreload/container"
	// Process is the pod annotation holding a regexp on the command line that
	// picks the process to reload inside the container. Per container:
	// "php-fpm=php-fpm: master" (see Targets). Default: the container's main
	// process.
	Process = "hotreload/process"
	// Confirm is the pod annotation saying how the reloader knows the app runs
	// a revision after it was told: process, workers, a loopback URL that
	// answers 2xx, or a loopback URL, a metric name and the value it must
	// have. Per container: "nginx=workers,php-fpm=process" (see Targets).
	// Default: process for a signal, the reload URL's answer for URL.
	Confirm = "hotreload/confirm"
	// Validate is the pod annotation holding the app's own check of a staged
	// revision, a command in exec form (a JSON array, or words separated by
	// spaces) run in the app container's image, at the app's paths, before
	// the swap. Per container: `nginx=["nginx","-t"],php-fpm=php-fpm -t`
	// (see Targets). Default: none.
	Validate = "hotreload/validate"
	// Volumes is the pod annotation listing, comma-separated, the volumes to
	// reload. Default: every reloadable configMap, secret and projected volume.
	Volumes = "hotreload/volumes"
	// SubPath is the pod annotation choosing how subPath mounts are kept live:
	// link (default), dir or keep.
	SubPath = "hotreload/subpath"
	// Rollout holds the canary steps, comma-separated counts or percentages
	// ending at 100%, e.g. "1,25%,100%". On a pod, it overrides the namespace's.
	// Default: 100%.
	Rollout = "hotreload/rollout"
	// RolloutInterval is how long each rollout step must stay healthy before the
	// next, as a Go duration. On a pod, it overrides the namespace's. Default: 30s.
	RolloutInterval = "hotreload/rollout-interval"
	// RevisionHistory is the namespace annotation saying how many recent
	// revisions of each source keep their content for kubectl hotreload
	// history, undo and diff, besides the stable and the candidate: 0 to
	// MaxRevisionHistory. Default: DefaultRevisionHistory.
	RevisionHistory = "hotreload/revision-history"

	// Ignore is the ConfigMap or Secret annotation that, set to "true", makes
	// hotreload leave that source alone: pods admitted after it mount it as
	// written, and it gets no release. Default: false.
	Ignore = "hotreload/ignore"
	// OnHalt is the ConfigMap, Secret or namespace annotation saying what
	// becomes of a candidate a pod halted: HaltHold (it waits for a new
	// revision or a command) or HaltRetry (it is retried from step 1 with
	// backoff, a bounded number of times). On a source, it overrides the
	// namespace's. Default: HaltHold.
	OnHalt = "hotreload/on-halt"
	// Restart is the pod annotation saying whether changes the pod reads in
	// ways that cannot change in place (env, envFrom, mounts left alone) are
	// delivered by replacing it in the release's steps (RestartAuto) or not
	// at all (RestartNever). Default: RestartAuto.
	Restart = "hotreload/restart"
)

// Keys hotreload writes. Users read them and never write them.
const (
	// Injected is the pod annotation the webhook stamps with its version; a pod
	// that carries it is never mutated again.
	Injected = "hotreload/injected"
	// Released is the pod annotation the controller sets to the config revision
	// the pod may apply now.
	Released = "hotreload/released"
	// Applied is the pod label the reloader sets to the revision the process
	// runs with (a label, so `kubectl get pods -L hotreload/applied` and selectors work).
	Applied = "hotreload/applied"
	// AppliedAt is the pod annotation the reloader sets to when Applied was
	// applied, in RFC 3339.
	AppliedAt = "hotreload/applied-at"
	// Failed is the pod annotation the reloader or the controller sets to the
	// revision and reason of a failed reload, as "REVISION: reason".
	Failed = "hotreload/failed"
	// Candidates is the pod annotation the controller sets, with Released, to
	// the candidate revisions the pod holds, one per source that is being
	// released to it: "ConfigMap/app=3f2a9c1b7d4e,Secret/tls=...". A source
	// not listed is at its stable revision.
	Candidates = "hotreload/candidates"
	// Pinned is the pod annotation the webhook sets to the revision each
	// source's env references (and mounts hotreload leaves alone) were
	// pointed at, the source's kept object of that revision:
	// "ConfigMap/app=3f2a9c1b7d4e". Such references read the same bytes at
	// every container start. Same form as Candidates.
	Pinned = "hotreload/pinned"
	// Warnings is the pod annotation the webhook sets, when it injects a
	// pod, to the warnings it returned, one per line (FormatWarnings): for
	// the pods a controller makes, nobody reads the admission's own; the
	// controller says them on the top workload. Absent when there were none.
	Warnings = "hotreload/warnings"
	// ReloaderCredential is the pod annotation the controller sets to the
	// credential IDs of the reloader tokens it issued for the pod, newest first,
	// comma-separated. The admission policy lets a reloader token patch only the
	// pod that lists its ID.
	ReloaderCredential = "hotreload/reloader-credential"
)

// DefaultContainer is Kubernetes' annotation naming a pod's default container
// (kubectl logs and exec use it); hotreload reloads it when Container is absent.
const DefaultContainer = "kubectl.kubernetes.io/default-container"
