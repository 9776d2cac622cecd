package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	asymjwtredis "github.com/asymjwt/asymjwt/redis"
	"github.com/redis/go-redis/v9"
)

// OpenRedis connects to Redis and refuses one that may evict replay
// entries (an evicted entry lets its token be replayed), and one whose
// policy cannot be read unless insecureUnchecked. It records nothing:
// CheckRedisRetention, once the verifier has accepted the store, does.
func OpenRedis(ctx context.Context, o *redis.Options, insecureUnchecked bool, logger *slog.Logger, storeOpts ...asymjwtredis.Option) (*redis.Client, *asymjwtredis.Store, error) {
	redisLogOnce.Do(func() { redis.SetLogger(&redisLog) })
	redisLog.logger.Store(logger)
	// Let a deadline end socket I/O, so a stalled Redis costs at most the
	// store's timeout per request.
	o.ContextTimeoutEnabled = true
	client := redis.NewClient(o)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		return nil, nil, fmt.Errorf("redis at %s: %w", o.Addr, err)
	}
	store, err := asymjwtredis.New(client, storeOpts...)
	if err != nil {
		client.Close()
		return nil, nil, err
	}
	switch err := store.Check(ctx); {
	case errors.Is(err, asymjwtredis.ErrEvictionPolicy):
		client.Close()
		return nil, nil, err
	case err != nil && !insecureUnchecked:
		client.Close()
		return nil, nil, fmt.Errorf("%w (it must be noeviction: allow CONFIG GET or INFO, or start with --insecure-redis-unchecked-policy if you are sure)", err)
	case err != nil:
		logger.Warn("asymjwt proxy: could not check Redis's maxmemory-policy; it must be noeviction, or replayed tokens may be accepted (--insecure-redis-unchecked-policy)", "err", err)
	}
	return client, store, nil
}

// CheckRedisRetention refuses store when another instance recorded a
// longer retention than its own (Store.CheckRetention: this one would
// forget tokens that one could still accept), and otherwise records its
// retention as the fleet's when longer. Every instance on the Redis must
// keep entries as long as the one with the widest window needs
// (docs/PROTOCOL.md §1.6). Call it only once the verifier has accepted
// the store: a retention recorded by an instance refused at start, which
// never ran, would make the instances that do run refuse to restart.
func CheckRedisRetention(ctx context.Context, store *asymjwtredis.Store, logger *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	switch previous, err := store.CheckRetention(ctx); {
	case errors.Is(err, asymjwtredis.ErrFleetRetention):
		return fmt.Errorf("%w (--redis-retention)", err)
	case err != nil:
		logger.Warn("asymjwt: could not compare --redis-retention with the other instances sharing the Redis; it must be the same on all, or replayed tokens may be accepted", "err", err)
	case previous > 0:
		logger.Warn("asymjwt: instances sharing the Redis were started with a shorter --redis-retention: restart any still running with this one, or they may forget tokens that this one could accept again",
			"previous", previous.String(), "retention", store.Retention().String())
	}
	return nil
}

// redisLogger routes go-redis's own messages (failed dials, say) into
// the proxy's log, so that --log-format json output stays JSON. go-redis
// has one logger per process; the proxy started last owns it.
type redisLogger struct {
	logger atomic.Pointer[slog.Logger]
}

var (
	redisLog     redisLogger
	redisLogOnce sync.Once
)

func (r *redisLogger) Printf(ctx context.Context, format string, v ...any) {
	if l := r.logger.Load(); l != nil {
		l.WarnContext(ctx, fmt.Sprintf(format, v...))
	}
}
