// Package reloadertoken is the sidecar's side of the token exchange: Exchange
// trades the pod's audience-scoped token at the controller for a short-lived
// reloader token; Source caches it until it is due (client-go's caching token
// source, which keeps the old token when an exchange fails); Config makes a
// rest.Config that uses it (client-go's token transport, which drops the
// token on a 401).
//
// It is linked into the sidecar, so it must stay small: it never imports
// controller-runtime, and it never logs a token.
package reloadertoken
