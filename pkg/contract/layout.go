package contract

// Names and paths of an injected pod (docs/design/2026-11-24-pod-layout.md).
// hotreload owns every container and volume whose name starts with
// ReservedPrefix and every path under Root.
const (
	// ReservedPrefix starts the name of every container and volume hotreload adds.
	ReservedPrefix = "hotreload-"

	// InstallName is the init container that copies the reloader binary into
	// BinVolume and writes the first live copy.
	InstallName = "hotreload-install"
	// ReloaderName is the sidecar: a native sidecar, or a plain container on
	// API servers older than 1.29.
	ReloaderName = "hotreload-reloader"
	// LinkName is the init container, in the app's image, that makes subPath
	// files links into the live copy. The k-th further one is LinkName-k.
	LinkName = "hotreload-link"

	// ValidatorName is the native sidecar, in an app container's image, that
	// runs the app's own check of a staged revision (hotreload/validate). The
	// k-th further one is ValidatorName-k.
	ValidatorName = "hotreload-validate"

	// BinVolume is the emptyDir holding the reloader binary for the link step.
	BinVolume = "hotreload-bin"
	// LiveVolume is the in-memory emptyDir holding the live copies.
	LiveVolume = "hotreload-live"
	// LinkVolumePrefix names the emptyDirs holding copies of image directories:
	// LinkVolumePrefix + N, N from 0.
	LinkVolumePrefix = "hotreload-link-"
	// StableVolumePrefix names the stable twins of the config parts:
	// StableVolumePrefix + N, N from 0 in pod order.
	StableVolumePrefix = "hotreload-stable-"
	// PartVolumePrefix names the candidates of the parts of a volume of
	// several parts: PartVolumePrefix + N, N from 0 in pod order.
	PartVolumePrefix = "hotreload-part-"
	// StagedVolume is the emptyDir in which the reloader shows the validators
	// a staged revision: StagedDir/V links to the staged copy of volume V.
	StagedVolume = "hotreload-staged"
	// ValidateVolume is the emptyDir holding the validators' sockets, mounted
	// in the reloader and the validators only.
	ValidateVolume = "hotreload-validate"
	// ScratchVolume is the validators' own emptyDir, mounted (by subPath)
	// where their app container mounts an emptyDir: a check may write there
	// without touching the app's files.
	ScratchVolume = "hotreload-scratch"
	// TokenVolume is the sidecar's own projected token: the pod's service
	// account, for TokenAudience only.
	TokenVolume = "hotreload-token"
	// TokenAudience is the audience of the sidecar's pod token. The controller's
	// token exchange accepts it; no API server does.
	TokenAudience = "hotreload"

	// Root is the directory under which every hotreload path lives.
	Root = "/var/run/hotreload"
	// BinDir is where BinVolume is mounted.
	BinDir = Root + "/bin"
	// ReloaderBinary is the reloader as copied by the install step.
	ReloaderBinary = BinDir + "/" + BinaryName
	// BinaryName is the file name install gives the reloader binary.
	BinaryName = "reloader"
	// ValidatorBinary is the validator as copied by the install step.
	ValidatorBinary = BinDir + "/" + ValidatorBinaryName
	// ValidatorBinaryName is the validator's file name, in the reloader's
	// image beside the reloader and in BinDir.
	ValidatorBinaryName = "validator"
	// ValidateDir is where ValidateVolume is mounted.
	ValidateDir = Root + "/validate"
	// StagedDir is where the reloader mounts StagedVolume.
	StagedDir = Root + "/staged"
	// CandidateDir is where a validator mounts the live copy of each volume
	// V its app container mounts: CandidateDir/V, which holds the staged copy
	// that StagedDir/V links to.
	CandidateDir = Root + "/candidate"
	// LiveDir is where LiveVolume is mounted; the live copy of volume V is LiveDir/V.
	LiveDir = Root + "/live"
	// SrcDir is where the sidecar mounts the kubelet-managed candidates:
	// SrcDir/V/i for part i of volume V (SrcDir/V in contract version 1).
	SrcDir = Root + "/src"
	// StableDir is where the sidecar mounts the stable twins: StableDir/V/i.
	StableDir = Root + "/stable"
	// LinkDir is where the link step mounts the link emptyDirs: LinkDir/N.
	LinkDir = Root + "/link"
	// TokenDir is where the sidecar mounts TokenVolume: the path of
	// kube-api-access, which it shadows.
	TokenDir = "/var/run/secrets/kubernetes.io/serviceaccount"
	// TokenFile is the sidecar's pod token in TokenDir.
	TokenFile = TokenDir + "/token"
	// ExchangeCAFile is the CA bundle of the token exchange in TokenDir,
	// projected from ExchangeCAConfigMap: it follows a rotation of the
	// webhook's CA, holding the old and the new CA while both are in use. The
	// sidecar reads it at each exchange; ExchangeCAEnv is its fallback.
	ExchangeCAFile = TokenDir + "/exchange-ca.crt"
	// ExchangeCAConfigMap is the ConfigMap the controller keeps in each
	// enabled namespace with the exchange's CA bundle, key ExchangeCAKey.
	ExchangeCAConfigMap = "hotreload-exchange-ca"
	ExchangeCAKey       = "ca.crt"

	// ReadyPath is the sidecar's startup probe path: ready once the live copies exist.
	ReadyPath = "/readyz"
	// HealthPath answers as long as the sidecar's process does.
	HealthPath = "/healthz"
	// DefaultHealthPort is the sidecar's health port unless a container of the
	// pod declares it; the next free port is used then.
	DefaultHealthPort int32 = 9440

	// DefaultExchangeURL is the controller's token exchange, behind the
	// webhook's Service of deploy/base: its port exchange (9444), which only
	// enabled namespaces reach. Pods injected before it existed name the
	// Service's port 443 (admission), which also serves the exchange.
	DefaultExchangeURL = "https://hotreload-webhook.hotreload-system.svc:9444/reloader-token"
)

// The sidecar's environment, set by the webhook.
const (
	// PodNameEnv and PodNamespaceEnv name the sidecar's own pod, from the
	// downward API.
	PodNameEnv      = "POD_NAME"
	PodNamespaceEnv = "POD_NAMESPACE"
	// ExchangeCAEnv carries the PEM CA bundle the sidecar trusts for the
	// controller's token exchange.
	ExchangeCAEnv = "HOTRELOAD_EXCHANGE_CA"
)
