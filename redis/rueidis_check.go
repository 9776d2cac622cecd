package asymjwtredis

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/redis/rueidis"
)

// Check reads the maxmemory-policy of every node the client knows (every
// node of a cluster; the primary of a Sentinel client) and judges it as
// Store.Check does: nil when all run with noeviction, otherwise an error
// matching ErrEvictionPolicy or ErrPolicyUnchecked. CONFIG GET is tried
// first and, when Redis refuses it, INFO memory.
func (s *RueidisStore) Check(ctx context.Context) error {
	nodes := s.client.Nodes()
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
	cfg, configErr := c.Do(ctx, c.B().ConfigGet().Parameter("maxmemory-policy").Build()).AsStrMap()
	if configErr == nil {
		if p := cfg["maxmemory-policy"]; p != "" {
			return p, nil
		}
		configErr = errors.New("no maxmemory-policy in reply")
	} else if _, refused := rueidis.IsRedisErr(configErr); !refused {
		// Not a refusal by Redis but no answer at all: INFO would fail alike.
		return "", fmt.Errorf("CONFIG GET: %w", configErr)
	}
	info, infoErr := c.Do(ctx, c.B().Info().Section("memory").Build()).ToString()
	if infoErr == nil {
		if p := infoField(info, "maxmemory_policy"); p != "" {
			return p, nil
		}
		infoErr = errors.New("no maxmemory_policy in reply")
	}
	return "", fmt.Errorf("CONFIG GET: %w; INFO memory: %w", configErr, infoErr)
}
