package plugin

import (
	"context"
	"fmt"
	"os"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	authv1client "k8s.io/client-go/kubernetes/typed/authentication/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/internal/version"
)

// fieldOwner is the field manager of every write of the plugin, so a
// source's managedFields show that undo wrote it.
const fieldOwner = client.FieldOwner("kubectl-hotreload")

// session is a connection to the cluster, in the namespace the flags or the
// kubeconfig's context name.
type session struct {
	client    client.WithWatch
	namespace string
	// whoAmI returns the requesting user's name.
	whoAmI func(context.Context) (string, error)
}

// connect opens a session with kubectl's connection flags k.
func connect(k *genericclioptions.ConfigFlags) (*session, error) {
	cfg, err := k.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("reading the kubeconfig: %w", err)
	}
	// Where no kubeconfig, --server, KUBERNETES_MASTER nor in-cluster config
	// names a cluster, cli-runtime's defaults name http://localhost:8080, which
	// would fail later as a refused connection: say what is missing instead.
	fallback := clientcmd.ClientConfigLoadingRules{DefaultClientConfig: &clientcmd.DefaultClientConfig}
	if *k.APIServer == "" && os.Getenv("KUBERNETES_MASTER") == "" && fallback.IsDefaultConfig(cfg) {
		return nil, fmt.Errorf("reading the kubeconfig: %w", clientcmd.ErrEmptyConfig)
	}
	ns, _, err := k.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return nil, fmt.Errorf("reading the namespace of the kubeconfig's context: %w", err)
	}
	cfg.UserAgent = "kubectl-hotreload/" + version.Version
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", cfg.Host, err)
	}
	auth, err := authv1client.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", cfg.Host, err)
	}
	whoAmI := func(ctx context.Context) (string, error) {
		r, err := auth.SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
		if err != nil {
			return "", fmt.Errorf("finding who you are with a SelfSubjectReview (Kubernetes 1.28 or later): %w", err)
		}
		return r.Status.UserInfo.Username, nil
	}
	return &session{client: c, namespace: ns, whoAmI: whoAmI}, nil
}
