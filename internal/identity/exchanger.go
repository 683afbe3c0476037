package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/hotreload/hotreload/internal/access"
	"github.com/hotreload/hotreload/internal/ratelimit"
	"github.com/hotreload/hotreload/pkg/annotations"
)

// DefaultTTL is the lifetime of the reloader tokens the Exchanger issues.
// Each token issued costs its pod one patch (Pin), and a sidecar exchanges at
// 80 % of a token's lifetime (reloadertoken.RefreshAt): 8 hours makes it one
// patch per pod every 6.4 hours, 0.16 an hour, while nothing changes. A token
// is only good on its own pod (the policy hotreload-reloader checks it is
// pinned there, among the newest two), and its other rights are reads of the
// namespace's pods and new Events.
const DefaultTTL = 8 * time.Hour

// MaxTokenSize is the largest bearer token hotreload sends to a TokenReview
// (the exchange's, and the metrics port's). A service account token is 1–2
// KiB; a larger one is refused with TokenTooLarge before any review, so that
// no caller makes the API server parse a header of up to 1 MiB.
const MaxTokenSize = 8 << 10

// TokenTooLarge is the answer, 431, to a token over MaxTokenSize.
const TokenTooLarge = "the bearer token is larger than 8 KiB, as no service account token is: refused without review"

// Options configures New.
type Options struct {
	// TTL of issued tokens (default DefaultTTL; the API server's minimum is 10 minutes).
	TTL time.Duration
	// Limits bound what callers make the exchange spend (default DefaultLimits).
	Limits Limits
	// ReloaderImage is the image hotreload injects: a pod's reloader must run
	// one of its repository.
	ReloaderImage string
}

// New returns an Exchanger that talks to mgr's API server. It reads and
// patches pods straight from the API server, never through the manager's
// cache: the exchange runs on every replica, and a cached read would keep a
// copy of every pod of the cluster on each of them.
func New(mgr manager.Manager, o Options) (*Exchanger, error) {
	cs, err := kubernetes.NewForConfig(mgr.GetConfig())
	if err != nil {
		return nil, err
	}
	direct, err := client.New(mgr.GetConfig(), client.Options{Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper(), HTTPClient: mgr.GetHTTPClient()})
	if err != nil {
		return nil, fmt.Errorf("creating the token exchange's client: %w", err)
	}
	return &Exchanger{
		Kube: cs, Pods: direct, Reader: direct, TTL: o.TTL,
		Log: mgr.GetLogger().WithName("identity"), Limits: o.Limits, ReloaderImage: o.ReloaderImage,
	}, nil
}

// Exchanger trades a pod's audience-scoped token for a reloader token pinned to
// that pod. POST Path with "Authorization: Bearer <token>"; the answer is a JSON
// TokenRequestStatus.
type Exchanger struct {
	// Kube sends TokenReviews and TokenRequests.
	Kube kubernetes.Interface
	// Pods patches the pod's CredentialAnnotation; Reader reads it. Neither
	// should be a cached client (see New).
	Pods   client.Client
	Reader client.Reader
	// TTL of issued tokens (default DefaultTTL).
	TTL time.Duration
	// Log records each exchange, never a token.
	Log logr.Logger
	// Limits bound what callers make it spend (default DefaultLimits).
	Limits Limits
	// ReloaderImage is the image hotreload injects; when set, a pod's
	// reloader must run one of its repository (sidecarProblem).
	ReloaderImage string
	// Now is the clock (default time.Now).
	Now func() time.Time

	once   sync.Once
	state  *limits
	policy *policyCheck
}

var _ http.Handler = (*Exchanger)(nil)

// exchangeError is an answer the caller gets, with its HTTP status.
type exchangeError struct {
	status int
	msg    string
}

func (e *exchangeError) Error() string { return e.msg }

func deny(status int, format string, args ...any) error {
	return &exchangeError{status: status, msg: fmt.Sprintf(format, args...)}
}

// ServeHTTP answers one exchange.
func (x *Exchanger) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || token == "" {
		http.Error(w, "a bearer token with audience "+Audience+" is required", http.StatusUnauthorized)
		return
	}
	if err := x.PolicyInForce(r.Context()); err != nil {
		x.Log.Info("token exchange refused: the reloader's admission policy is not in force", "reason", err.Error())
		http.Error(w, "the admission policy "+ReloaderPolicy+" is not in force: no reloader token is issued", http.StatusServiceUnavailable)
		return
	}
	status, err := x.limited(r, token)
	if err != nil {
		var ee *exchangeError
		if !errors.As(err, &ee) {
			x.Log.Error(err, "exchanging a reloader token")
			ee = &exchangeError{status: http.StatusInternalServerError, msg: "internal error"}
		}
		if ee.status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "10")
		}
		http.Error(w, ee.msg, ee.status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(status)
}

// PolicyInForce returns nil when the ValidatingAdmissionPolicy that confines
// reloader tokens to their pods (ReloaderPolicy) is in force, else why not:
// while it is not, the exchange issues no token (and `webhook serve` is not
// ready). It looks at most every 10 seconds.
func (x *Exchanger) PolicyInForce(ctx context.Context) error {
	x.once.Do(x.init)
	return x.policy.inForce(ctx, x.now())
}

func (x *Exchanger) now() time.Time {
	if x.Now != nil {
		return x.Now()
	}
	return time.Now()
}

func (x *Exchanger) init() {
	x.state = newLimits(x.Limits, x.now)
	x.policy = &policyCheck{reader: x.Reader, ttl: policyCheckTTL}
}

// limited answers an exchange within the Exchanger's Limits: a pod token
// seen before gets its reloader token again, unless the request says
// "Cache-Control: no-cache"; a caller or a pod over its rate gets 429 before
// the API server is asked anything more.
func (x *Exchanger) limited(r *http.Request, podToken string) (*authenticationv1.TokenRequestStatus, error) {
	x.once.Do(x.init)
	now := x.now()
	if !noCache(r.Header) {
		if st, ok := x.state.reused(podToken); ok {
			return st, nil
		}
	}
	if caller := ratelimit.Caller(r); !x.state.callers.Allow(caller) {
		return nil, deny(http.StatusTooManyRequests, "too many token exchanges from %s; try again later", caller)
	}
	st, err := x.exchange(r.Context(), podToken, x.state.pods.Allow)
	if err != nil {
		return nil, err
	}
	x.state.remember(podToken, st, now)
	return st, nil
}

// noCache reports whether h asks, in Cache-Control, for no answer from a
// cache: the token the caller had was refused, and must not be handed back.
func noCache(h http.Header) bool {
	for _, v := range h.Values("Cache-Control") {
		for d := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(d), "no-cache") {
				return true
			}
		}
	}
	return false
}

// Exchange authenticates podToken and returns a reloader token pinned to its pod.
func (x *Exchanger) Exchange(ctx context.Context, podToken string) (*authenticationv1.TokenRequestStatus, error) {
	return x.exchange(ctx, podToken, func(string) bool { return true })
}

// exchange is Exchange, asking allowPod, once the pod token is reviewed,
// whether its pod may have another reloader token now.
func (x *Exchanger) exchange(ctx context.Context, podToken string, allowPod func(uid string) bool) (*authenticationv1.TokenRequestStatus, error) {
	if len(podToken) > MaxTokenSize {
		return nil, &exchangeError{status: http.StatusRequestHeaderFieldsTooLarge, msg: TokenTooLarge}
	}
	review, err := x.Kube.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{
		Spec: authenticationv1.TokenReviewSpec{Token: podToken, Audiences: []string{Audience}},
	}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("reviewing the token: %w", err)
	}
	st := review.Status
	if !st.Authenticated || !slices.Contains(st.Audiences, Audience) {
		return nil, deny(http.StatusUnauthorized, "the token is not a valid token with audience %s", Audience)
	}
	namespace, _, isSA := splitServiceAccount(st.User.Username)
	podName, podUID := one(st.User.Extra[PodNameExtra]), one(st.User.Extra[PodUIDExtra])
	if !isSA || podName == "" || podUID == "" {
		return nil, deny(http.StatusForbidden, "the token is not bound to a pod")
	}
	log := x.Log.WithValues("namespace", namespace, "pod", podName)
	if !allowPod(podUID) {
		log.Info("token exchange refused: too many for this pod")
		return nil, deny(http.StatusTooManyRequests, "too many token exchanges for pod %s/%s; try again later", namespace, podName)
	}

	pod := &corev1.Pod{}
	err = x.Reader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: podName}, pod)
	if apierrors.IsNotFound(err) {
		return nil, deny(http.StatusForbidden, "pod %s/%s does not exist", namespace, podName)
	}
	if err != nil {
		return nil, fmt.Errorf("reading pod %s/%s: %w", namespace, podName, err)
	}
	switch {
	case string(pod.UID) != podUID:
		return nil, deny(http.StatusForbidden, "pod %s/%s was replaced", namespace, podName)
	case pod.DeletionTimestamp != nil:
		return nil, deny(http.StatusForbidden, "pod %s/%s is terminating", namespace, podName)
	case pod.Annotations[annotations.Injected] == "":
		return nil, deny(http.StatusForbidden, "pod %s/%s was not injected by hotreload", namespace, podName)
	}
	if why := sidecarProblem(pod, x.ReloaderImage); why != "" {
		log.Info("token exchange refused: the pod is not as hotreload injects it", "reason", why)
		return nil, deny(http.StatusForbidden, "pod %s/%s is not as hotreload injects it: %s", namespace, podName, why)
	}

	ttl := x.TTL
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	seconds := int64(ttl / time.Second)
	tr, err := x.Kube.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, access.ReloaderName, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &seconds},
	}, metav1.CreateOptions{})
	if apierrors.IsNotFound(err) {
		return nil, deny(http.StatusForbidden, "namespace %s is not enabled for hotreload (no ServiceAccount %s)", namespace, access.ReloaderName)
	}
	if err != nil {
		return nil, fmt.Errorf("requesting a %s token in %s: %w", access.ReloaderName, namespace, err)
	}
	id, err := CredentialID(tr.Status.Token)
	if err != nil {
		return nil, fmt.Errorf("reading the issued token's ID: %w", err)
	}
	if err := Pin(ctx, x.Pods, pod, id); err != nil {
		return nil, fmt.Errorf("pinning the token to pod %s/%s: %w", namespace, podName, err)
	}
	log.Info("issued a reloader token", "credential", id, "expires", tr.Status.ExpirationTimestamp.Time)
	return &tr.Status, nil
}

// splitServiceAccount parses system:serviceaccount:<namespace>:<name>.
func splitServiceAccount(user string) (namespace, name string, ok bool) {
	rest, ok := strings.CutPrefix(user, "system:serviceaccount:")
	if !ok {
		return "", "", false
	}
	namespace, name, ok = strings.Cut(rest, ":")
	return namespace, name, ok && namespace != "" && name != ""
}

func one(v authenticationv1.ExtraValue) string {
	if len(v) != 1 {
		return ""
	}
	return v[0]
}
