//go:build integration

package rollout

import (
	"fmt"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// requestCounts counts API requests by "verb resource" (verb as RBAC names
// it: get, list, watch, create, update, patch, delete).
type requestCounts struct {
	mu sync.Mutex
	m  map[string]int
	// refused counts the requests the API server answered with an error
	// status (4xx or 5xx), by the same key and the status code.
	refused map[string]int
	// namespaces counts the requests by the namespace they name, "" for a
	// cluster-wide one; clusterWide counts those by kind.
	namespaces  map[string]int
	clusterWide map[string]int
}

func newRequestCounts() *requestCounts {
	return &requestCounts{m: map[string]int{}, refused: map[string]int{}, namespaces: map[string]int{}, clusterWide: map[string]int{}}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// wrap counts each request rt sends.
func (c *requestCounts) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		kind, ns := requestKind(r), requestNamespace(r)
		c.mu.Lock()
		c.m[kind]++
		c.namespaces[ns]++
		if ns == "" {
			c.clusterWide[kind]++
		}
		c.mu.Unlock()
		resp, err := rt.RoundTrip(r)
		if err == nil && resp.StatusCode >= 400 {
			c.mu.Lock()
			c.refused[fmt.Sprintf("%s %d", kind, resp.StatusCode)]++
			c.mu.Unlock()
		}
		return resp, err
	})
}

// refusals returns how many requests of kind the API server refused so
// far with status code.
func (c *requestCounts) refusals(kind string, code int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.refused[fmt.Sprintf("%s %d", kind, code)]
}

// snapshot returns the counts so far.
func (c *requestCounts) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.m)
}

// in returns how many requests named namespace ns so far, and the
// cluster-wide ones by kind.
func (c *requestCounts) in(ns string) (int, map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.namespaces[ns], maps.Clone(c.clusterWide)
}

// requestNamespace is the namespace a request's path names, "" for none.
func requestNamespace(r *http.Request) string {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	for i := 0; i+2 < len(parts); i++ {
		if parts[i] == "namespaces" {
			return parts[i+1]
		}
	}
	return ""
}

// requestKind is "verb resource[/subresource]" of a request to the API
// server, from its method and path (/api/v1/namespaces/ns/pods/name/status).
func requestKind(r *http.Request) string {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		parts = parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		parts = parts[3:]
	default:
		return strings.ToLower(r.Method) + " " + r.URL.Path
	}
	if len(parts) >= 3 && parts[0] == "namespaces" {
		parts = parts[2:] // a namespaced resource, not a namespace
	}
	resource, named := "", false
	if len(parts) > 0 {
		resource = parts[0]
	}
	if len(parts) > 1 {
		named = true
	}
	if len(parts) > 2 {
		resource += "/" + parts[2]
	}
	verb := map[string]string{http.MethodPost: "create", http.MethodPut: "update", http.MethodPatch: "patch", http.MethodDelete: "delete"}[r.Method]
	switch {
	case r.Method != http.MethodGet:
	case r.URL.Query().Get("watch") == "true":
		verb = "watch"
	case named:
		verb = "get"
	default:
		verb = "list"
	}
	return verb + " " + resource
}

// perPod returns, of the counts in after that are not in before, those of
// every kind but the leader's Lease and watches, divided by pods: writes
// (create, update, patch, delete) and reads (get, list); and the whole
// difference, by kind.
func perPod(before, after map[string]int, pods int) (writes, reads float64, diff map[string]int) {
	diff = map[string]int{}
	for k, n := range after {
		if d := n - before[k]; d > 0 {
			diff[k] = d
		}
	}
	for k, d := range diff {
		if strings.HasSuffix(k, " leases") || strings.HasPrefix(k, "watch ") {
			continue
		}
		switch verb, _, _ := strings.Cut(k, " "); verb {
		case "get", "list":
			reads += float64(d)
		default:
			writes += float64(d)
		}
	}
	return writes / float64(pods), reads / float64(pods), diff
}

func TestRequestKind(t *testing.T) {
	for _, tc := range []struct{ method, url, want string }{
		{"PATCH", "/api/v1/namespaces/shop/pods/web-0", "patch pods"},
		{"GET", "/api/v1/namespaces/shop/pods/web-0", "get pods"},
		{"GET", "/api/v1/namespaces/shop/pods?labelSelector=a", "list pods"},
		{"GET", "/api/v1/pods?watch=true&resourceVersion=5", "watch pods"},
		{"GET", "/api/v1/namespaces", "list namespaces"},
		{"GET", "/api/v1/namespaces/shop", "get namespaces"},
		{"PUT", "/apis/hotreload.dev/v1alpha1/namespaces/shop/configreleases/configmap-app/status", "update configreleases/status"},
		{"POST", "/apis/events.k8s.io/v1/namespaces/shop/events", "create events"},
		{"PUT", "/apis/coordination.k8s.io/v1/namespaces/hotreload-system/leases/hotreload-controller", "update leases"},
	} {
		r, err := http.NewRequest(tc.method, "https://127.0.0.1:6443"+tc.url, nil)
		require.NoError(t, err)
		assert.Equal(t, tc.want, requestKind(r), tc.method+" "+tc.url)
	}
}
