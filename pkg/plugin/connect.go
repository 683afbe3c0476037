package plugin

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
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

// kubeFlags are kubectl's connection flags: --kubeconfig, -n, --context,
// --cluster, --user, --server, --token and the others of clientcmd.
type kubeFlags struct {
	rules     *clientcmd.ClientConfigLoadingRules
	overrides clientcmd.ConfigOverrides
	fs        *pflag.FlagSet
}

func newKubeFlags() *kubeFlags {
	k := &kubeFlags{rules: clientcmd.NewDefaultClientConfigLoadingRules()}
	k.fs = pflag.NewFlagSet("connection", pflag.ContinueOnError)
	k.fs.SortFlags = false
	k.fs.StringVar(&k.rules.ExplicitPath, clientcmd.RecommendedConfigPathFlag, "", "Path to the kubeconfig file to use for CLI requests")
	clientcmd.BindOverrideFlags(&k.overrides, k.fs, clientcmd.RecommendedConfigOverrideFlags(""))
	return k
}

// session is a connection to the cluster, in the namespace the flags or the
// kubeconfig's context name.
type session struct {
	client    client.WithWatch
	namespace string
	// whoAmI returns the requesting user's name.
	whoAmI func(context.Context) (string, error)
}

// connect opens a session with the connection flags k.
func connect(k *kubeFlags) (*session, error) {
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(k.rules, &k.overrides)
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("reading the kubeconfig: %w", err)
	}
	ns, _, err := cc.Namespace()
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
