// Package identity gives the reloader sidecar its API identity: short-lived tokens of
// the ServiceAccount hotreload-reloader, each pinned to the one pod it was issued for.
//
// The Exchanger (served by `webhook serve` at Path, on its own port) takes a
// token of the pod's own ServiceAccount with audience Audience, authenticates it with
// a TokenReview, checks the pod it is bound to is injected, mints a reloader token
// with TokenRequest, lists the token's credential ID in the pod's CredentialAnnotation
// (which the admission policy hotreload-reloader checks) and returns the token.
// The sidecar's side is package reloadertoken.
//
// It never issues a token for a pod other than the one the caller's own token is
// bound to, never accepts a token without the hotreload audience, and never logs a
// token. docs/design/2026-11-24-reloader-identity.md explains why.
package identity
