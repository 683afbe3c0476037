package main

import (
	"fmt"
	"net/http"

	"github.com/hotreload/hotreload/pkg/contract"
)

// readiness is what the health endpoints ask: whether the live copies exist.
type readiness interface{ Ready() bool }

// healthHandler serves GET /healthz (the process answers) and GET /readyz
// (the startup probe: 200 once the live copies exist, 503 before).
func healthHandler(r readiness) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+contract.HealthPath, func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET "+contract.ReadyPath, func(w http.ResponseWriter, _ *http.Request) {
		if !r.Ready() {
			http.Error(w, "live copy not written yet", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	return mux
}
