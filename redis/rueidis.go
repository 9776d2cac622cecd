package asymjwtredis

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/redis/rueidis"
)

// NewRueidisStore returns a Store that records tokens through client, made
// by rueidis.NewClient: a single node, a Redis Cluster (found from
// InitAddress) or a primary found through Sentinel
// (ClientOption.Sentinel). It makes the same claim as New's store, with
// the same options and guarantees; only the client library differs.
// rueidis sends the commands that goroutines issue at the same time over
// one connection, written and read in batches (auto-pipelining): under
// concurrent load a claim costs fewer system calls than with go-redis's
// connection pool (BENCHMARKS.md). rueidis does not retry writes, and
// returns at the context's end even while a command waits in a pipeline.
// The client stays the caller's to close.
func NewRueidisStore(client rueidis.Client, opts ...Option) (*Store, error) {
	if client == nil {
		return nil, errors.New("asymjwtredis: NewRueidisStore needs a client")
	}
	return newStore(rueidisBackend{client}, opts)
}

// rueidisBackend is the backend on github.com/redis/rueidis.
type rueidisBackend struct {
	client rueidis.Client
}

func (rueidisBackend) stopsAtDeadline() bool { return true }

func (b rueidisBackend) setNX(ctx context.Context, key string, px int64) (bool, error) {
	cmd := b.client.B().Set().Key(key).Value("1").Nx().PxMilliseconds(px).Build()
	reply, err := b.client.Do(ctx, cmd).ToString()
	switch {
	case rueidis.IsRedisNil(err):
		return false, nil
	case err != nil:
		return false, err
	case reply != "OK":
		return false, fmt.Errorf("unexpected reply %q to SET NX", reply)
	}
	return true, nil
}

var raiseRueidis = rueidis.NewLuaScript(raiseScript)

func (b rueidisBackend) raise(ctx context.Context, key string, n int64) (int64, error) {
	return raiseRueidis.Exec(ctx, b.client, []string{key}, []string{strconv.FormatInt(n, 10)}).AsInt64()
}

func (b rueidisBackend) serverTime(ctx context.Context) (time.Time, error) {
	parts, err := b.client.Do(ctx, b.client.B().Time().Build()).AsStrSlice()
	if err != nil {
		return time.Time{}, err
	}
	if len(parts) != 2 {
		return time.Time{}, fmt.Errorf("unexpected reply %q to TIME", parts)
	}
	var sec, usec int64
	if _, err := fmt.Sscan(parts[0], &sec); err != nil {
		return time.Time{}, fmt.Errorf("TIME: %w", err)
	}
	if _, err := fmt.Sscan(parts[1], &usec); err != nil {
		return time.Time{}, fmt.Errorf("TIME: %w", err)
	}
	return time.Unix(sec, usec*1000), nil
}

// checkPolicies reads the maxmemory-policy of every node the client knows
// (every node of a cluster; the primary of a Sentinel client).
func (b rueidisBackend) checkPolicies(ctx context.Context) error {
	nodes := b.client.Nodes()
	if len(nodes) == 0 {
		return fmt.Errorf("%w: the client knows no node", ErrPolicyUnchecked)
	}
	var findings []error
	for _, addr := range slices.Sorted(maps.Keys(nodes)) {
		policy, err := rueidisMaxmemoryPolicy(ctx, nodes[addr])
		if err := judgePolicy(addr, policy, err); err != nil {
			findings = append(findings, err)
		}
	}
	return errors.Join(findings...)
}

func rueidisMaxmemoryPolicy(ctx context.Context, c rueidis.Client) (string, error) {
	return readPolicy(
		func() (map[string]string, error) {
			return c.Do(ctx, c.B().ConfigGet().Parameter("maxmemory-policy").Build()).AsStrMap()
		},
		func(err error) bool { _, refused := rueidis.IsRedisErr(err); return refused },
		func() (string, error) { return c.Do(ctx, c.B().Info().Section("memory").Build()).ToString() })
}
