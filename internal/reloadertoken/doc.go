// Package reloadertoken is the sidecar's side of the token exchange: Source
// trades the pod's audience-scoped token at the controller for a short-lived
// reloader token and refreshes it before it expires; Config makes a rest.Config
// that uses it.
//
// It is linked into the sidecar, so it must stay small: it never imports
// controller-runtime, and it never logs a token.
package reloadertoken
