package main

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestHealthHandler(t *testing.T) {
	type answer struct {
		Code int
		Body string
	}
	var ready atomic.Bool
	h := healthHandler(readyFunc(ready.Load))
	get := func(method, target string) answer {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
		return answer{rec.Code, rec.Body.String()}
	}
	tests := []struct {
		name           string
		ready          bool
		method, target string
		want           answer
	}{
		{"answers /healthz before the live copy exists", false, http.MethodGet, "/healthz", answer{200, "ok\n"}},
		{"answers /healthz after the live copy exists", true, http.MethodGet, "/healthz", answer{200, "ok\n"}},
		{"is not ready before the live copy exists", false, http.MethodGet, "/readyz", answer{503, "live copy not written yet\n"}},
		{"is ready once the live copy exists", true, http.MethodGet, "/readyz", answer{200, "ok\n"}},
		{"answers HEAD (the server drops the body)", true, http.MethodHead, "/readyz", answer{200, "ok\n"}},
		{"refuses other methods", true, http.MethodPost, "/readyz", answer{405, "Method Not Allowed\n"}},
		{"serves nothing else", true, http.MethodGet, "/metrics", answer{404, "404 page not found\n"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ready.Store(tc.ready)
			assert.Equal(t, tc.want, get(tc.method, tc.target))
		})
	}
}
