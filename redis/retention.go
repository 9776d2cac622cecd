package asymjwtredis

import (
	"context"
	"fmt"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

// RetentionKey, after the store's prefix, names the record of the
// longest retention of the instances sharing the Redis (milliseconds).
const RetentionKey = "retention"

// ErrFleetRetention: another instance sharing the Redis keeps entries
// longer than this store does. Tokens this instance accepts would be
// forgotten while that one, whose window and clock allowance need the
// longer retention, could still accept them. It wraps
// asymjwt.ErrReplayRetention.
var ErrFleetRetention = fmt.Errorf("%w: another instance sharing this Redis keeps entries longer", asymjwt.ErrReplayRetention)

// raiseScript sets KEYS[1] to the number ARGV[1] when that is larger than
// the number stored, atomically, and returns the one stored before (0
// when none): the backends' raise.
const raiseScript = `
local cur = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
local mine = tonumber(ARGV[1])
if mine > cur then redis.call('SET', KEYS[1], ARGV[1]) end
return cur
`

// CheckRetention compares this store's retention (WithRetention) with
// the longest recorded in Redis by the instances that shared it before
// (under the store's prefix + RetentionKey), and records its own when
// longer. The replay guarantee (docs/PROTOCOL.md §1.6) needs every instance to keep
// entries as long as the instance with the widest window needs, which
// no single instance can see: call it at startup.
//
// It returns an error matching ErrFleetRetention when an instance has
// recorded a longer retention: this store would forget entries too soon
// for it. When this store's retention is the longer one, it returns the
// shorter retention recorded before as previous, and nil: instances
// still running with it must be restarted with this one. After a
// deliberate decrease on every instance, delete the key.
func (s *Store) CheckRetention(ctx context.Context) (previous time.Duration, err error) {
	key := s.prefix + RetentionKey
	cur, err := s.backend.raise(ctx, key, s.retention.Milliseconds())
	if err != nil {
		return 0, fmt.Errorf("asymjwtredis: reading the fleet's retention (%s): %w", key, err)
	}
	recorded := time.Duration(cur) * time.Millisecond
	if recorded > s.retention {
		return recorded, fmt.Errorf("%w: %v recorded in %s, this store keeps %v: give every instance the same retention (%v), or delete %s after lowering it on all",
			ErrFleetRetention, recorded, key, s.retention, recorded, key)
	}
	if recorded == s.retention {
		return 0, nil
	}
	return recorded, nil
}
