package asymjwtredis

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

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
)

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
func (s *Store) Check(ctx context.Context) error {
	shards, ok := s.client.(interface {
		ForEachShard(context.Context, func(context.Context, *redis.Client) error) error
	})
	if !ok {
		addr := "redis"
		if c, ok := s.client.(*redis.Client); ok {
			addr = c.Options().Addr
		}
		return checkNode(ctx, s.client, addr)
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
	cfg, configErr := c.ConfigGet(ctx, "maxmemory-policy").Result()
	if configErr == nil {
		if p := cfg["maxmemory-policy"]; p != "" {
			return p, nil
		}
		configErr = errors.New("no maxmemory-policy in reply")
	} else if !errors.As(configErr, new(redis.Error)) {
		// Not a refusal by Redis but no answer at all: INFO would fail alike.
		return "", fmt.Errorf("CONFIG GET: %w", configErr)
	}
	info, infoErr := c.Info(ctx, "memory").Result()
	if infoErr == nil {
		if p := infoField(info, "maxmemory_policy"); p != "" {
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
