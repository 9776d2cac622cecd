package asymjwtredis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
	"github.com/redis/go-redis/v9"
)

// DefaultPrefix is prepended to every replay key unless WithPrefix sets
// another.
const DefaultPrefix = "asymjwt:replay:"

// DefaultTimeout bounds each Claim unless WithTimeout sets another.
const DefaultTimeout = time.Second

// DefaultRetention is how long after a token's claimed time the store
// keeps its entry unless WithRetention says otherwise: the replay
// lifetime of a verifier with the default tolerance and clock skew
// (20 s + 20 s + 1 s).
const DefaultRetention = 2*asymjwt.DefaultTolerance + time.Second

// Store is an asymjwt.ReplayStore on Redis, shared by every instance of a
// service. It is safe for concurrent use.
type Store struct {
	// backend is the client library: go-redis (New) or rueidis
	// (NewRueidisStore). Every rule of the store lives here, in Store.
	backend backend
	prefix  string
	// timeout bounds each Claim; 0 leaves only the caller's context.
	timeout time.Duration
	// clock is time.Now; tests replace it to play a verifier whose clock
	// differs from Redis's.
	clock func() time.Time
	// retention: every entry recorded by ClaimIssued lives this long
	// after the token's claimed time.
	retention time.Duration
	// lastDial is the client's latest dial failure, nil once a dial
	// succeeds: the cause behind a Claim that ran out of time.
	lastDial atomic.Pointer[dialFailure]
}

var _ asymjwt.RetainingReplayStore = (*Store)(nil)

// backend is what a Store needs of a Redis client library.
type backend interface {
	// setNX sends SET key 1 PX px NX: true when Redis set the key, false
	// on its nil reply (the key exists), the client's error otherwise.
	setNX(ctx context.Context, key string, px int64) (bool, error)
	// stopsAtDeadline reports whether the client ends socket I/O when
	// ctx ends, so that Claim need not wait for it apart.
	stopsAtDeadline() bool
	// checkPolicies is Check: judgePolicy's findings on every node.
	checkPolicies(ctx context.Context) error
	// serverTime is Redis's TIME (of one node of a cluster).
	serverTime(ctx context.Context) (time.Time, error)
	// raise runs raiseScript on key and n: the number stored before.
	raise(ctx context.Context, key string, n int64) (int64, error)
}

type config struct {
	prefix    string
	timeout   time.Duration
	retention time.Duration
}

// Option configures New.
type Option func(*config)

// WithPrefix sets the prefix of every key the store writes (default
// DefaultPrefix), to fit a Redis's key naming or an ACL key pattern.
// Services that use one prefix on one Redis share their replay state: a
// token used at one of them is refused at every other, even without aud.
func WithPrefix(prefix string) Option {
	return func(c *config) { c.prefix = prefix }
}

// WithTimeout bounds each Claim (default DefaultTimeout), on top of the
// caller's context deadline; a Claim that runs out refuses the request.
// 0 removes the bound: then the context and the client's own read and
// write timeouts are the only limits.
func WithTimeout(d time.Duration) Option {
	return func(c *config) { c.timeout = d }
}

// WithRetention sets how long after a token's claimed time every entry is
// kept (default DefaultRetention, 41 s). The fleet rule (docs/PROTOCOL.md §1.6): give
// every instance sharing the Redis (and prefix) the same retention, at
// least the longest replay lifetime of any verifier among them, that is
// tolerance + maximum clock skew + 1 s (asymjwt.Verifier.ReplayLifetime).
// The instances cannot see each other's settings; each verifier checks
// its own lifetime against the retention and NewVerifier refuses the
// store when it is longer (asymjwt.ErrReplayRetention). Memory: Redis
// holds about one entry per token accepted in the last retention.
func WithRetention(d time.Duration) Option {
	return func(c *config) { c.retention = d }
}

// New returns a Store that records tokens through client: a *redis.Client
// (single node, or Sentinel with redis.NewFailoverClient) or a
// *redis.ClusterClient. The client stays the caller's to close.
//
// New refuses a *redis.Ring, and any client that embeds one. A Ring marks a
// shard down after failed heartbeats (a stall is enough, no data need be
// lost) and sends that shard's keys to the live ones, where the tokens
// already claimed have no entry: SET NX answers OK and a replay is
// accepted. Shard-list changes, and instances that disagree on which
// shards are up, do the same. Use a single node with replicas and
// Sentinel, or Cluster, whose slots do not move when a node fails.
//
// New adds a dial hook to client (a *redis.Client or Sentinel client;
// Cluster clients do not run dial hooks) that keeps the latest dial
// failure, so that a Claim that runs out of time while Redis is
// unreachable reports why (say, connection refused) rather than only
// the deadline.
func New(client redis.UniversalClient, opts ...Option) (*Store, error) {
	if client == nil {
		return nil, errors.New("asymjwtredis: New needs a client")
	}
	// SetAddrs is the Ring's alone; checking for it also catches a wrapper
	// that embeds a *redis.Ring.
	if _, ring := client.(interface{ SetAddrs(map[string]string) }); ring {
		return nil, errors.New("asymjwtredis: a *redis.Ring cannot hold replay entries: " +
			"it moves a down shard's keys to other shards, which forgets claimed tokens; " +
			"use a single node (with replicas and Sentinel) or Cluster")
	}
	s, err := newStore(goRedis{client: client, ctxAware: honoursContext(client)}, opts)
	if err != nil {
		return nil, err
	}
	client.AddHook(dialRecorder{s})
	return s, nil
}

// newStore applies opts to a Store on b.
func newStore(b backend, opts []Option) (*Store, error) {
	cfg := config{prefix: DefaultPrefix, timeout: DefaultTimeout, retention: DefaultRetention}
	for _, o := range opts {
		o(&cfg)
	}
	switch {
	case cfg.timeout < 0:
		return nil, errors.New("asymjwtredis: timeout must not be negative")
	case cfg.retention <= 0:
		return nil, errors.New("asymjwtredis: retention must be positive")
	}
	return &Store{
		backend:   b,
		prefix:    cfg.prefix,
		timeout:   cfg.timeout,
		clock:     time.Now,
		retention: cfg.retention,
	}, nil
}

// Retain implements asymjwt.RetainingReplayStore: it accepts a verifier
// whose replay lifetime fits in the store's retention, and refuses one
// that needs more with an error wrapping asymjwt.ErrReplayRetention. The
// retention cannot grow to fit: other processes sharing the Redis would
// still write shorter entries.
func (s *Store) Retain(lifetime time.Duration) error {
	if lifetime > s.retention {
		return fmt.Errorf("%w: the Redis store keeps entries %v after a token's time, this verifier needs %v "+
			"(tolerance + maximum clock skew + 1 s): give every instance sharing this Redis asymjwtredis.WithRetention(%v) or more",
			asymjwt.ErrReplayRetention, s.retention, lifetime, lifetime)
	}
	return nil
}

// Retention is how long after a token's claimed time the store keeps
// its entry (WithRetention).
func (s *Store) Retention() time.Duration { return s.retention }

// ClaimIssued implements asymjwt.RetainingReplayStore: Claim with an
// expiry of issued + the retention, sent as the time left by this
// process's clock (see Claim).
func (s *Store) ClaimIssued(ctx context.Context, key string, issued time.Time) (bool, error) {
	return s.Claim(ctx, key, issued.Add(s.retention))
}

// honoursContext reports whether client ends socket I/O when the context
// ends. go-redis does so only with ContextTimeoutEnabled; otherwise it
// waits for its own read timeout whatever the context says.
func honoursContext(client redis.UniversalClient) bool {
	switch c := client.(type) {
	case *redis.Client:
		return c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		return c.Options().ContextTimeoutEnabled
	}
	return false
}

// Claim implements asymjwt.ReplayStore with one command,
// SET <prefix><key> 1 PX <ms> NX: Redis sets the key only if it is absent,
// atomically, so of all instances claiming one token exactly one gets
// true. A nil reply is a replay. Every failure to get that answer (a Redis
// error, a reply other than OK or nil, the context's end or the timeout)
// returns an error wrapping asymjwt.ErrStoreUnavailable, never true: the
// verifier then refuses the request. A zero expires is an error too, and
// an expiry already past is refused (false); in both cases nothing is
// sent.
//
// The expiry is sent relative, deliberately not as an absolute PXAT/EXAT:
// ms is the time left until expires (the token's time + the retention,
// for ClaimIssued) by this process's
// clock as the command is built, rounded up. Redis would judge an absolute
// expiry by its own clock, and one running ahead by more than the token's
// remaining window would answer OK to every SET NX and keep nothing: the
// token could be replayed until the verifier's window closed. A relative
// expiry makes Redis's clock offset irrelevant (only its rate matters),
// and the expiry still derives from the token's claimed time.
//
// When Claim gives up at a deadline the command may still reach Redis and
// record the token, which is then refused ever after: that errs on the
// safe side.
func (s *Store) Claim(ctx context.Context, key string, expires time.Time) (bool, error) {
	if expires.IsZero() {
		// go-redis would send SET without an expiry: a key kept forever.
		return false, errors.New("asymjwtredis: Claim needs an expiry")
	}
	if !expires.After(s.clock()) {
		// Redis would take the key and drop it at once: an entry that is
		// already expired guards nothing, so the token is refused.
		return false, nil
	}
	start := time.Now()
	if s.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
	}
	if ctx.Err() != nil {
		return false, s.unavailable(context.Cause(ctx), start)
	}
	if s.backend.stopsAtDeadline() || ctx.Done() == nil {
		return s.set(ctx, key, expires, start)
	}
	// The client would not stop at the deadline: wait for it apart, and
	// leave it to finish within its own read timeout.
	type result struct {
		fresh bool
		err   error
	}
	done := make(chan result, 1)
	go func() {
		fresh, err := s.set(ctx, key, expires, start)
		done <- result{fresh, err}
	}()
	select {
	case r := <-done:
		return r.fresh, r.err
	case <-ctx.Done():
		return false, s.unavailable(context.Cause(ctx), start)
	}
}

func (s *Store) set(ctx context.Context, key string, expires, start time.Time) (bool, error) {
	fresh, err := s.backend.setNX(ctx, s.prefix+key, ttlMillis(expires.Sub(s.clock())))
	if err != nil {
		return false, s.unavailable(err, start)
	}
	return fresh, nil
}

// dialCauseAge bounds how much older than a Claim a dial failure may be
// to be reported as its cause: go-redis probes an unreachable server
// about once a second.
const dialCauseAge = 2 * time.Second

// unavailable wraps err with asymjwt.ErrStoreUnavailable. When err is the
// end of the context (the claim ran out of time) and the client's latest
// dial failed, recently and with no success since, that failure is the
// cause and is reported first: "dial tcp ...: connection refused" says
// more than "context deadline exceeded".
func (s *Store) unavailable(err error, start time.Time) error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		if f := s.lastDial.Load(); f != nil && !f.at.Before(start.Add(-dialCauseAge)) {
			return fmt.Errorf("%w: redis: %w (gave up: %w)", asymjwt.ErrStoreUnavailable, f.err, err)
		}
	}
	return fmt.Errorf("%w: redis: %w", asymjwt.ErrStoreUnavailable, err)
}

// dialFailure is one failed dial of the store's client.
type dialFailure struct {
	err error
	at  time.Time
}

// dialRecorder is the go-redis hook that keeps the latest dial failure.
type dialRecorder struct{ s *Store }

func (h dialRecorder) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := next(ctx, network, addr)
		switch {
		case err == nil:
			if h.s.lastDial.Load() != nil {
				h.s.lastDial.Store(nil)
			}
		default:
			h.s.lastDial.Store(&dialFailure{err: err, at: time.Now()})
		}
		return conn, err
	}
}

func (dialRecorder) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (dialRecorder) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// ttlMillis turns the time left into PX milliseconds so that the entry
// never expires early: rounded up, plus one because Redis adds it to its
// own clock truncated to the millisecond, which can be up to 1 ms behind.
// At least 1 however late the command leaves: the caller already refused
// expiries that had passed, and PX must be positive.
func ttlMillis(left time.Duration) int64 {
	ms := (left + time.Millisecond - 1) / time.Millisecond
	return max(int64(ms), 0) + 1
}
