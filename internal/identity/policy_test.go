package identity

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func TestNarrowed(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    *admissionregistrationv1.MatchResources
		want bool
	}{
		{"none", nil, false},
		{"empty selectors match everything", &admissionregistrationv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{}, ObjectSelector: &metav1.LabelSelector{}}, false},
		{"a namespace selector", &admissionregistrationv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "a"}}}, true},
		{"an object selector", &admissionregistrationv1.MatchResources{ObjectSelector: &metav1.LabelSelector{
			MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "x", Operator: metav1.LabelSelectorOpExists}}}}, true},
		{"excluded resources", &admissionregistrationv1.MatchResources{ExcludeResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{}}}, true},
	} {
		assert.Equal(t, tc.want, narrowed(tc.m), tc.name)
	}
}

// reader answers every Get with err, or with the policy and its binding,
// its actions warn only when warn is set, else in force.
type reader struct {
	err  error
	warn bool
}

func (r *reader) Get(_ context.Context, _ client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	if r.err != nil {
		return r.err
	}
	switch o := obj.(type) {
	case *admissionregistrationv1.ValidatingAdmissionPolicy:
		fail := admissionregistrationv1.Fail
		o.Spec.FailurePolicy = &fail
	case *admissionregistrationv1.ValidatingAdmissionPolicyBinding:
		o.Spec.PolicyName, o.Spec.ValidationActions = ReloaderPolicy, []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny}
		if r.warn {
			o.Spec.ValidationActions = []admissionregistrationv1.ValidationAction{admissionregistrationv1.Warn}
		}
	}
	return nil
}

func (r *reader) List(context.Context, client.ObjectList, ...client.ListOption) error { return nil }

// An API server that does not answer, or cannot, leaves the last verdict as
// it was; an answer that the policy is gone changes it.
func TestPolicyCheckKeepsItsVerdictWhileTheAPIServerIsAway(t *testing.T) {
	r := &reader{}
	p := &policyCheck{reader: r, ttl: time.Second}
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	var got []string
	look := func(err error) {
		r.err = err
		now = now.Add(2 * time.Second)
		if e := p.inForce(context.Background(), now); e != nil {
			got = append(got, e.Error())
		} else {
			got = append(got, "in force")
		}
	}
	gone := apierrors.NewNotFound(schema.GroupResource{Group: "admissionregistration.k8s.io", Resource: "validatingadmissionpolicies"}, ReloaderPolicy)
	look(nil)
	look(errors.New(`Get "https://10.96.0.1:443/...": dial tcp 10.96.0.1:443: connect: connection refused`))
	look(apierrors.NewServiceUnavailable("etcd is away"))
	look(gone)
	look(errors.New("connection refused"))
	look(nil)
	r.warn = true
	look(nil)
	look(errors.New("connection refused"))
	notFound := "reading ValidatingAdmissionPolicy hotreload-reloader: " + gone.Error()
	warns := "ValidatingAdmissionPolicyBinding hotreload-reloader has actions [Warn], without Deny"
	assert.Equal(t, []string{"in force", "in force", "in force", notFound, notFound, "in force", warns, warns}, got)
}
