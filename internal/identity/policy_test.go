package identity

import (
	"testing"

	"github.com/stretchr/testify/assert"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
