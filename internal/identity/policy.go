package identity

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ReloaderPolicy names the ValidatingAdmissionPolicy, and its binding, that
// confine a reloader token to its own pod's hotreload/ keys
// (deploy/base/policy.yaml). Without it in force, a reloader token could patch
// any pod of its namespace: the exchange issues none.
const ReloaderPolicy = "hotreload-reloader"

// policyCheckTTL is how long the exchange trusts one look at the policy.
const policyCheckTTL = 10 * time.Second

// policyCheck looks at the policy and its binding, at most once per ttl.
type policyCheck struct {
	reader client.Reader
	ttl    time.Duration

	mu   sync.Mutex
	at   time.Time
	last error
}

// inForce returns nil when the policy ReloaderPolicy exists, fails closed, and
// is bound with the Deny action to every namespace; else why not. An API
// server that does not answer changes nothing of the policy: what was seen
// last holds until it answers (a replica stays ready through an API server
// restart, and issues no token meanwhile anyway: each needs a TokenReview).
func (p *policyCheck) inForce(ctx context.Context, now time.Time) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.at.IsZero() && now.Sub(p.at) < p.ttl {
		return p.last
	}
	noAnswer, err := p.look(ctx)
	if noAnswer && !p.at.IsZero() {
		return p.last // look again at the next call
	}
	p.at, p.last = now, err
	return p.last
}

// unanswered reports whether a read's error says nothing of the object: the
// API server did not answer, or answered that it could not.
func unanswered(err error) bool {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		code := status.Status().Code
		return code >= 500 || code == 429
	}
	return true // no answer: a transport error, a timeout
}

// look returns why the policy is not in force, nil when it is; noAnswer is
// true when the API server did not answer (err then says nothing of the
// policy).
func (p *policyCheck) look(ctx context.Context) (noAnswer bool, err error) {
	var vap admissionregistrationv1.ValidatingAdmissionPolicy
	if err := p.reader.Get(ctx, client.ObjectKey{Name: ReloaderPolicy}, &vap); err != nil {
		return unanswered(err), fmt.Errorf("reading ValidatingAdmissionPolicy %s: %w", ReloaderPolicy, err)
	}
	if fp := vap.Spec.FailurePolicy; fp != nil && *fp != admissionregistrationv1.Fail {
		return false, fmt.Errorf("ValidatingAdmissionPolicy %s has failurePolicy %s, not Fail", ReloaderPolicy, *fp)
	}
	var b admissionregistrationv1.ValidatingAdmissionPolicyBinding
	if err := p.reader.Get(ctx, client.ObjectKey{Name: ReloaderPolicy}, &b); err != nil {
		return unanswered(err), fmt.Errorf("reading ValidatingAdmissionPolicyBinding %s: %w", ReloaderPolicy, err)
	}
	switch {
	case b.Spec.PolicyName != ReloaderPolicy:
		return false, fmt.Errorf("ValidatingAdmissionPolicyBinding %s binds policy %q, not %s", ReloaderPolicy, b.Spec.PolicyName, ReloaderPolicy)
	case !slices.Contains(b.Spec.ValidationActions, admissionregistrationv1.Deny):
		return false, fmt.Errorf("ValidatingAdmissionPolicyBinding %s has actions %v, without Deny", ReloaderPolicy, b.Spec.ValidationActions)
	case narrowed(b.Spec.MatchResources):
		return false, fmt.Errorf("ValidatingAdmissionPolicyBinding %s narrows what it matches: it must apply to every pod", ReloaderPolicy)
	}
	return false, nil
}

// narrowed reports whether a binding's matchResources leaves out some of what
// its policy matches.
func narrowed(m *admissionregistrationv1.MatchResources) bool {
	if m == nil {
		return false
	}
	selects := func(s *metav1.LabelSelector) bool { return s != nil && len(s.MatchLabels)+len(s.MatchExpressions) > 0 }
	return selects(m.NamespaceSelector) || selects(m.ObjectSelector) || len(m.ResourceRules) > 0 || len(m.ExcludeResourceRules) > 0
}
