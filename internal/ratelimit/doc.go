// Package ratelimit bounds what one caller can make hotreload ask the API
// server: a token bucket per key (a client address, a pod's UID), from
// golang.org/x/time/rate, kept for the most recently seen keys only
// (k8s.io/utils/lru). It keeps the keys and their buckets, never anything a
// caller sent.
package ratelimit
