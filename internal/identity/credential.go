package identity

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/contract"
)

const (
	// Audience is the audience of the pod token the sidecar presents: no API
	// server accepts it.
	Audience = contract.TokenAudience
	// Path is where the Exchanger is served.
	Path = "/reloader-token"
	// CredentialAnnotation lists, comma-separated and newest first, the credential
	// IDs of the reloader tokens issued for the pod. Written by the controller only.
	CredentialAnnotation = annotations.ReloaderCredential
	// KeepCredentials is how many credential IDs a pod keeps: the current token's
	// and the previous one's, still in use while the sidecar switches.
	KeepCredentials = 2

	// Keys of the token reviewer's user extra.
	PodNameExtra      = "authentication.kubernetes.io/pod-name"
	PodUIDExtra       = "authentication.kubernetes.io/pod-uid"
	CredentialIDExtra = "authentication.kubernetes.io/credential-id"
)

// CredentialID returns the credential ID the API server reports for a
// service-account token in its user's extra: "JTI=" and the token's jti claim.
// It reads the claim without verifying the token: use it on tokens the API server
// just issued.
func CredentialID(token string) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", errors.New("not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", fmt.Errorf("decoding the JWT payload: %w", err)
	}
	var claims struct {
		JTI string `json:"jti"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return "", fmt.Errorf("decoding the JWT claims: %w", err)
	}
	if claims.JTI == "" {
		return "", errors.New("the token has no jti claim")
	}
	return "JTI=" + claims.JTI, nil
}

// Pin lists id first in the pod's CredentialAnnotation, keeping the newest
// KeepCredentials, with an optimistic lock (retried on conflict). It fails if the
// pod is gone or was replaced by one of another UID.
func Pin(ctx context.Context, c client.Client, pod *corev1.Pod, id string) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur := &corev1.Pod{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(pod), cur); err != nil {
			return err
		}
		if cur.UID != pod.UID {
			return fmt.Errorf("pod %s/%s was replaced", pod.Namespace, pod.Name)
		}
		patch := client.MergeFromWithOptions(cur.DeepCopy(), client.MergeFromWithOptimisticLock{})
		if cur.Annotations == nil {
			cur.Annotations = map[string]string{}
		}
		cur.Annotations[CredentialAnnotation] = pinned(cur.Annotations[CredentialAnnotation], id)
		return c.Patch(ctx, cur, patch)
	})
}

// pinned puts id first in the list, dropping duplicates and the oldest.
func pinned(list, id string) string {
	ids := []string{id}
	for _, s := range strings.Split(list, ",") {
		if s != "" && !slices.Contains(ids, s) {
			ids = append(ids, s)
		}
	}
	return strings.Join(ids[:min(len(ids), KeepCredentials)], ",")
}
