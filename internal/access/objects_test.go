package access

import (
	"testing"

	"github.com/stretchr/testify/assert"
	rbacv1 "k8s.io/api/rbac/v1"
)

func TestSubjectOf(t *testing.T) {
	sa := func(ns, name string) rbacv1.Subject {
		return rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: name}
	}
	user := func(name string) rbacv1.Subject {
		return rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: name}
	}
	for name, want := range map[string]rbacv1.Subject{
		"system:serviceaccount:hotreload-system:hotreload-webhook": sa("hotreload-system", "hotreload-webhook"),
		"system:serviceaccount:ns:":                                user("system:serviceaccount:ns:"),
		"system:serviceaccount::name":                              user("system:serviceaccount::name"),
		"system:serviceaccount:ns:a:b":                             user("system:serviceaccount:ns:a:b"),
		"system:serviceaccount:ns":                                 user("system:serviceaccount:ns"),
		"admin":                                                    user("admin"),
	} {
		assert.Equal(t, want, subjectOf(name), name)
	}
}
