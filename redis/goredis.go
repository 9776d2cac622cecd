package asymjwtredis

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

var (
	// ErrEvictionPolicy: a Redis node runs with a maxmemory-policy other
	// than noeviction, so under memory pressure it may evict replay
	// entries, and an evicted token can be replayed until its window ends.
	ErrEvictionPolicy = errors.New("asymjwtredis: maxmemory-policy may evict replay entries")
	// ErrPolicyUnchecked: a node's maxmemory-policy could not be read
	// (CONFIG and INFO both refused, or the node unreachable).
	ErrPolicyUnchecked = errors.New("asymjwtredis: maxmemory-policy could not be checked")
	// ErrClockSkew: this process's clock is further from Redis's than
	// half the maximum clock skew, so it may be further than the skew from
	// another instance's: the replay guarantee may not hold.
	ErrClockSkew = errors.New("asymjwtredis: clock too far from Redis's")
)

// CheckClock compares this process's clock with the Redis server's (TIME)
// and returns an error matching ErrClockSkew when they may differ by more
// than maxSkew/2: instances each within maxSkew/2 of Redis are within
// maxSkew of each other, the bound the replay guarantee needs (the
// verifiers' WithMaxClockSkew). The round trip counts against the margin.
// The store itself never uses Redis's clock (see Claim): this is only a
// way to notice, at startup or periodically, a clock offset between
// instances that nothing else can see. Redis's own clock being wrong
// makes every instance report it. A cluster is checked on one node.
func (s *Store) CheckClock(ctx context.Context, maxSkew time.Duration) error {
	before := s.clock()
	server, err := s.backend.serverTime(ctx)
	after := s.clock()
	if err != nil {
		return fmt.Errorf("asymjwtredis: TIME: %w", err)
	}
	rtt := after.Sub(before)
	offset := server.Sub(before.Add(rtt / 2))
	if offset.Abs()+rtt/2 > maxSkew/2 {
		return fmt.Errorf("%w: Redis's clock is %v from this process's (round trip %v), more than half the maximum clock skew %v",
			ErrClockSkew, offset.Round(time.Millisecond), rtt.Round(time.Millisecond), maxSkew)
	}
	return nil
}

// Check reads the maxmemory-policy of every node the store writes to
// (every node of a cluster) and returns nil when all run with noeviction,
// the only policy that never drops a live replay entry: with it a full
// Redis refuses writes, so Claim fails and requests are refused (503)
// rather than replayable.
//
// Otherwise it returns an error matching ErrEvictionPolicy, or
// ErrPolicyUnchecked when a node's policy could not be read. CONFIG GET is
// tried first and, when Redis refuses it (managed services and ACLs often
// disable CONFIG), INFO memory. Call Check at startup; whether a finding
// stops the service or is logged as a warning is the caller's choice. A
// Sentinel client checks the current master only.
func (s *Store) Check(ctx context.Context) error { return s.backend.checkPolicies(ctx) }

// goRedis is the backend on github.com/redis/go-redis (New).
type goRedis struct {
	client redis.UniversalClient
	// ctxAware: the client aborts socket I/O when the context ends
	// (ContextTimeoutEnabled).
	ctxAware bool
}

func (g goRedis) stopsAtDeadline() bool { return g.ctxAware }

func (g goRedis) setNX(ctx context.Context, key string, px int64) (bool, error) {
	// Built by hand so that the expiry is always PX: go-redis's Set would
	// send EX for a whole number of seconds.
	cmd := redis.NewStatusCmd(ctx, "set", key, "1", "px", px, "nx")
	cmd.SetFirstKeyPos(1)
	_ = g.client.Process(ctx, cmd)
	reply, err := cmd.Result()
	switch {
	case errors.Is(err, redis.Nil):
		return false, nil
	case err != nil:
		return false, err
	case reply != "OK":
		return false, fmt.Errorf("unexpected reply %q to SET NX", reply)
	}
	return true, nil
}

var raiseGoRedis = redis.NewScript(raiseScript)

func (g goRedis) raise(ctx context.Context, key string, n int64) (int64, error) {
	return raiseGoRedis.Run(ctx, g.client, []string{key}, n).Int64()
}

func (g goRedis) serverTime(ctx context.Context) (time.Time, error) {
	return g.client.Time(ctx).Result()
}

func (g goRedis) checkPolicies(ctx context.Context) error {
	shards, ok := g.client.(interface {
		ForEachShard(context.Context, func(context.Context, *redis.Client) error) error
	})
	if !ok {
		addr := "redis"
		if c, ok := g.client.(*redis.Client); ok {
			addr = c.Options().Addr
		}
		return checkNode(ctx, g.client, addr)
	}
	var (
		mu       sync.Mutex
		findings []error
	)
	err := shards.ForEachShard(ctx, func(ctx context.Context, node *redis.Client) error {
		if err := checkNode(ctx, node, node.Options().Addr); err != nil {
			mu.Lock()
			findings = append(findings, err)
			mu.Unlock()
		}
		return nil
	})
	if err != nil {
		findings = append(findings, fmt.Errorf("%w: listing nodes: %w", ErrPolicyUnchecked, err))
	}
	return errors.Join(findings...)
}

func checkNode(ctx context.Context, c redis.Cmdable, addr string) error {
	policy, err := maxmemoryPolicy(ctx, c)
	return judgePolicy(addr, policy, err)
}

// judgePolicy turns node addr's maxmemory-policy, or the failure to read
// it, into Check's finding.
func judgePolicy(addr, policy string, err error) error {
	if err != nil {
		return fmt.Errorf("%w on %s: %w", ErrPolicyUnchecked, addr, err)
	}
	if policy != "noeviction" {
		return fmt.Errorf("%w: %s runs with %q; set maxmemory-policy noeviction", ErrEvictionPolicy, addr, policy)
	}
	return nil
}

func maxmemoryPolicy(ctx context.Context, c redis.Cmdable) (string, error) {
	return readPolicy(
		func() (map[string]string, error) { return c.ConfigGet(ctx, "maxmemory-policy").Result() },
		func(err error) bool { return errors.As(err, new(redis.Error)) },
		func() (string, error) { return c.Info(ctx, "memory").Result() })
}

// readPolicy reads a node's maxmemory-policy through either client
// library: configGet (CONFIG GET maxmemory-policy) first and, when Redis
// refused it (refused: an error reply, as managed services and ACLs give
// for CONFIG), info (INFO memory).
func readPolicy(configGet func() (map[string]string, error), refused func(error) bool, info func() (string, error)) (string, error) {
	cfg, configErr := configGet()
	if configErr == nil {
		if p := cfg["maxmemory-policy"]; p != "" {
			return p, nil
		}
		configErr = errors.New("no maxmemory-policy in reply")
	} else if !refused(configErr) {
		// Not a refusal by Redis but no answer at all: INFO would fail alike.
		return "", fmt.Errorf("CONFIG GET: %w", configErr)
	}
	text, infoErr := info()
	if infoErr == nil {
		if p := infoField(text, "maxmemory_policy"); p != "" {
			return p, nil
		}
		infoErr = errors.New("no maxmemory_policy in reply")
	}
	return "", fmt.Errorf("CONFIG GET: %w; INFO memory: %w", configErr, infoErr)
}

// infoField returns the value of a "name:value" line of an INFO reply.
func infoField(info, name string) string {
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
