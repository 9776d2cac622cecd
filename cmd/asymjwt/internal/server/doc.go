// Package server holds the long-running servers of the asymjwt command:
// the authenticating reverse proxy (NewProxy), forward auth for existing
// gateways (NewForwardAuth), and the signing proxy for clients in any
// language (NewSignProxy, with SignerFile for key rotation), with what
// they share — the run loop with graceful shutdown (Serve), the access
// log and health endpoint, the slog logger, the refusal of protocol
// upgrades and CONNECT (nothing passes unverified through a tunnel), and
// the Redis replay store opening with its eviction-policy check.
//
// Operations: Prometheus metrics on a listener of their own (NewMetrics,
// ProxyConfig.Metrics) and TLS certificates read again when their files
// change (CertReloader).
//
// Package cli parses flags and calls into this package; all key and
// token work is core's (package asymjwt).
package server
