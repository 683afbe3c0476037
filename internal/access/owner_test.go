package access

import (
	"testing"

	"github.com/stretchr/testify/assert"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestWithOwner(t *testing.T) {
	install := &metav1.OwnerReference{APIVersion: "v1", Kind: "Namespace", Name: "hotreload-system", UID: "new"}
	earlier := metav1.OwnerReference{APIVersion: "v1", Kind: "Namespace", Name: "hotreload-system", UID: "old"}
	other := metav1.OwnerReference{APIVersion: "v1", Kind: "Namespace", Name: "team-a", UID: "a"}
	app := metav1.OwnerReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "hotreload-system", UID: "d"}
	for _, tc := range []struct {
		name  string
		refs  []metav1.OwnerReference
		owner *metav1.OwnerReference
		want  []metav1.OwnerReference
		owned bool
	}{
		{"no owners: the install's added", nil, install, []metav1.OwnerReference{*install}, false},
		{"owned already", []metav1.OwnerReference{*install}, install, []metav1.OwnerReference{*install}, true},
		{"an earlier install's namespace is replaced", []metav1.OwnerReference{earlier}, install, []metav1.OwnerReference{*install}, false},
		{"other owners are kept, a Deployment of the same name too",
			[]metav1.OwnerReference{other, earlier, app}, install, []metav1.OwnerReference{*install, other, app}, false},
		{"no install namespace: nothing changes", []metav1.OwnerReference{other}, nil, []metav1.OwnerReference{other}, true},
	} {
		o := &metav1.ObjectMeta{OwnerReferences: tc.refs}
		assert.Equal(t, tc.owned, ownedBy(o, tc.owner), tc.name)
		assert.Equal(t, tc.want, withOwner(tc.refs, tc.owner), tc.name)
	}
}
