// Package asymjwtprom exports what an asymjwt verifier sees as Prometheus
// metrics, in a module of its own so that core stays free of the
// Prometheus client.
//
// One [Metrics] per registry collects, for any service:
//   - verifications by outcome: "accepted", or the refusal reason, one
//     label value per sentinel error of core (matched with errors.Is,
//     [Reason]), "other" for the rest: a fixed, bounded set;
//   - accepted verifications by username, taken from the verified
//     identity only, never from what a refused token claimed
//     ([WithoutUsernameLabel] turns it off for large fleets);
//   - the verification latency (from [asymjwt.Outcome].Elapsed);
//   - replay store claim latency and failures, through a store wrapped by
//     [Metrics.InstrumentReplayStore] (memory, Redis, any other);
//   - key source loads and failures, and the time of the last good load,
//     through the reload handlers of the key sources
//     ([asymjwt.WithAuthorizedKeysReloadHandler],
//     [asymjwt.WithJWKSReloadHandler]) fed by [Metrics.KeySourceReloaded];
//   - build info: the program's, core's and Go's versions.
//
// Wiring:
//
//	m, err := asymjwtprom.New(asymjwtprom.WithRegisterer(reg))
//	keys, err := asymjwt.OpenAuthorizedKeysDir(dir,
//		asymjwt.WithAuthorizedKeysReloadHandler(m.KeySourceReloaded("directory")))
//	v, err := asymjwt.NewVerifier(keys,
//		asymjwt.WithObserver(m.Observe),
//		asymjwt.WithReplayStore(m.InstrumentReplayStore("redis", store)))
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// Serve /metrics on a port of its own, not on the authenticated one.
// [Metrics.Observe] runs on the request path: it costs a few atomic adds
// and, per accepted request, one label lookup for the username.
package asymjwtprom
