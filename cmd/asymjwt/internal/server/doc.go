// Package server holds the long-running servers of the asymjwt command:
// the authenticating reverse proxy (NewProxy), with what every server
// shares — the run loop with graceful shutdown (Serve), the access log
// and health endpoint, the slog logger, and the Redis replay store
// opening with its eviction-policy check.
//
// Operations: Prometheus metrics on a listener of their own (NewMetrics,
// ProxyConfig.Metrics) and TLS certificates read again when their files
// change (CertReloader).
//
// Package cli parses flags and calls into this package; all key and
// token work is core's (package asymjwt).
package server
