// Package asymjwtredis is an asymjwt replay store on Redis, for services
// that run as several instances.
//
// Each instance's in-memory replay store sees only its own traffic, so a
// token accepted by one instance could be replayed to another. A [Store]
// shared by every instance records each token with one atomic command,
//
//	SET <prefix><key> 1 PX <ms until time + retention> NX
//
// so of all instances that see a token, exactly one accepts it. The entry
// expires on its own a retention after the token's claimed time (default
// [DefaultRetention], 41 s; [WithRetention]), which must cover the window
// of every verifier sharing the Redis plus the clock offset between
// instances: each verifier refuses at construction a store whose
// retention is shorter than its tolerance + maximum clock skew + 1 s
// (asymjwt.ErrReplayRetention). Give every instance the same retention.
// The expiry is
// sent as the time left by the verifier's clock, not as an absolute time
// (PXAT/EXAT) that Redis would judge by its own clock: a Redis clock ahead
// of the verifier's would otherwise store nothing and let tokens be
// replayed. Any Redis failure refuses the request
// (asymjwt.ErrStoreUnavailable: HTTP 503, gRPC Unavailable); it never lets
// a token through.
//
// It takes a [redis.UniversalClient], so a single node, Sentinel
// (redis.NewFailoverClient) and Cluster all work. [New] refuses a
// *redis.Ring: it moves a down shard's keys to other shards, which forgets
// the tokens claimed there.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "redis:6379", ContextTimeoutEnabled: true})
//	store, err := asymjwtredis.New(rdb)
//	if err != nil { ... }
//	if err := store.Check(ctx); err != nil {
//		// maxmemory-policy may evict replay entries, or could not be read:
//		// stop, or log a warning.
//	}
//	v, err := asymjwt.NewVerifier(keys, asymjwt.WithReplayStore(store))
//
// [NewRueidisStore] is the same store on github.com/redis/rueidis, whose
// auto-pipelining batches concurrent claims (single node, Cluster and
// Sentinel alike).
//
// Redis must run with maxmemory-policy noeviction ([Store.Check] reports
// otherwise): an evicted entry can be replayed. An entry written just
// before a failover or a restart without persistence can be lost the same
// way; the README explains the bounds and what to do.
package asymjwtredis
