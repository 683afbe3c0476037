package identity

import (
	"encoding/base64"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPinnedKeepsTheNewestTwo(t *testing.T) {
	for _, tc := range []struct{ name, list, id, want string }{
		{"starts a list", "", "JTI=a", "JTI=a"},
		{"puts the new one first", "JTI=a", "JTI=b", "JTI=b,JTI=a"},
		{"drops the oldest", "JTI=b,JTI=a", "JTI=c", "JTI=c,JTI=b"},
		{"does not repeat an ID", "JTI=a,JTI=b", "JTI=a", "JTI=a,JTI=b"},
	} {
		t.Run(tc.name, func(t *testing.T) { require.Equal(t, tc.want, pinned(tc.list, tc.id)) })
	}
}

func TestCredentialID(t *testing.T) {
	jwt := func(claims string) string {
		return "e30." + base64.RawURLEncoding.EncodeToString([]byte(claims)) + ".sig"
	}
	id, err := CredentialID(jwt(`{"jti":"5f1c","sub":"system:serviceaccount:a:b"}`))
	require.NoError(t, err)
	require.Equal(t, "JTI=5f1c", id)
	_, err = CredentialID(jwt(`{"sub":"x"}`))
	require.EqualError(t, err, "the token has no jti claim")
	_, err = CredentialID("opaque")
	require.EqualError(t, err, "not a JWT")
}
