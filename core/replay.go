package asymjwt

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/maphash"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// ReplayStore remembers which tokens were used. Implementations must be
// safe for concurrent use and Claim must be atomic: of concurrent Claims of
// one key, exactly one returns true.
type ReplayStore interface {
	// Claim records key until expires; false means it was already recorded.
	// An error means the store could not answer; the verifier then refuses
	// the request (fail closed).
	Claim(ctx context.Context, key string, expires time.Time) (bool, error)
}

// RetainingReplayStore is a ReplayStore that verifiers with different
// tolerances and clocks can share (docs/PROTOCOL.md §1.6): it decides how long an
// entry lives from the token's claimed time, so that every entry outlives
// the window of every verifier on the store, whichever recorded it.
//
// NewVerifier calls Retain once with the verifier's replay lifetime and
// fails (ErrReplayRetention) when the store refuses; the verifier then
// records tokens with ClaimIssued instead of Claim. The memory store
// learns the longest lifetime of the verifiers registered on it; a store
// shared by processes that cannot see each other (Redis) is configured
// with a retention instead, and refuses verifiers that need more.
type RetainingReplayStore interface {
	ReplayStore
	// Retain is called by NewVerifier with lifetime: how long after a
	// token's claimed time, by the verifier's clock, the verifier could
	// still accept it (tolerance + maximum clock skew + 1 s). It returns
	// nil when, from then on, every entry the store records with
	// ClaimIssued lives at least lifetime after the token's claimed time;
	// otherwise an error wrapping ErrReplayRetention.
	Retain(lifetime time.Duration) error
	// ClaimIssued is Claim for a token whose claimed time is issued: the
	// store keeps key at least until issued plus every lifetime it
	// accepted in Retain. Same results as Claim.
	ClaimIssued(ctx context.Context, key string, issued time.Time) (bool, error)
}

// replayKey is the store key for a token: a fixed-size hash of (username,
// time, nonce) — the Python library's uniqueness rule — with the audience
// folded in when present. Fields are length-prefixed so no two tuples
// share an encoding. The result is 32 lowercase hex characters (128 bits).
func replayKey(username string, t int64, nonce string, aud []string) string {
	var stack [512]byte // fits username and nonce at their limits
	b := appendField(stack[:0], username)
	b = binary.BigEndian.AppendUint64(b, uint64(t))
	b = appendField(b, nonce)
	for _, a := range aud {
		b = appendField(b, a)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:replayKeyBytes])
}

func appendField(b []byte, s string) []byte {
	return append(binary.BigEndian.AppendUint64(b, uint64(len(s))), s...)
}

const replayKeyBytes = 16

// DefaultMaxReplayEntries is the memory replay store's default cap: about
// 25,000 tokens a second sustained over the default 41-second replay
// lifetime (tolerance 20 s + clock skew 20 s + 1 s).
const DefaultMaxReplayEntries = 1 << 20

const replayShards = 128

// MemoryReplayStore is the in-process ReplayStore: sharded, O(1) per
// claim, with a hard cap on entries. When full it refuses new tokens
// (ErrReplayStoreFull, so the request is refused with 503) rather than
// evicting live entries, which would re-open the window for replay.
// Expired entries are swept by the Claims themselves, so the store starts
// no goroutine and needs no Close.
//
// It protects one process only: services that run as several instances
// need a shared store (see the redis module).
//
// As a RetainingReplayStore it learns the longest replay lifetime of the
// verifiers registered on it (Retain): every entry recorded by
// ClaimIssued lives that long after the token's claimed time, whichever
// verifier recorded it, so a token accepted by a verifier with a 1 s
// tolerance stays a replay for one with 20 s on the same store. When a
// verifier registers with a longer lifetime, the live entries are
// extended by the difference. Entries that had already expired under the
// shorter lifetime are gone: tokens claimed more than that shorter
// lifetime before the registration are then refused as replays (the store
// cannot tell whether they were used), which only the new verifier, for
// at most its lifetime, could have accepted anyway.
//
// Create it with NewMemoryReplayStore; the zero value is not usable.
type MemoryReplayStore struct {
	clock  func() time.Time
	seed   maphash.Seed // per store, so clients cannot aim tokens at one shard
	shards [replayShards]replayShard

	retainMu  sync.Mutex   // serializes Retain
	retention atomic.Int64 // longest lifetime registered, in whole seconds
	// floor: tokens claimed at or before this Unix second may have had
	// their entries dropped under a shorter retention; ClaimIssued
	// refuses them.
	floor atomic.Int64
	used  atomic.Bool // ClaimIssued recorded some entry
}

// processReplayStore is the default replay store of Verifiers that set none.
var processReplayStore = sync.OnceValue(func() *MemoryReplayStore { return NewMemoryReplayStore() })

type replayShard struct {
	mu        sync.Mutex
	entries   map[[replayKeyBytes]byte]uint32 // key hash -> expiry, Unix seconds
	cap       int
	nextSweep int64
	_         [40]byte // keep shards on separate cache lines
}

// MemoryReplayOption configures NewMemoryReplayStore.
type MemoryReplayOption interface{ applyMemoryReplay(*memoryReplayConfig) }

type memoryReplayConfig struct {
	maxEntries int
	clock      func() time.Time
}

type maxEntriesOption int

func (o maxEntriesOption) applyMemoryReplay(c *memoryReplayConfig) { c.maxEntries = int(o) }

// WithMaxEntries caps the live entries of a MemoryReplayStore (default
// DefaultMaxReplayEntries). Size it above peak requests per second times
// the replay lifetime (tolerance + maximum clock skew + 1 s; 41 s by
// default).
func WithMaxEntries(n int) MemoryReplayOption { return maxEntriesOption(n) }

// NewMemoryReplayStore returns an empty in-memory replay store.
func NewMemoryReplayStore(opts ...MemoryReplayOption) *MemoryReplayStore {
	cfg := memoryReplayConfig{maxEntries: DefaultMaxReplayEntries, clock: time.Now}
	for _, o := range opts {
		o.applyMemoryReplay(&cfg)
	}
	perShard := max(1, (cfg.maxEntries+replayShards-1)/replayShards)
	s := &MemoryReplayStore{clock: cfg.clock, seed: maphash.MakeSeed()}
	s.floor.Store(math.MinInt64)
	for i := range s.shards {
		s.shards[i].entries = make(map[[replayKeyBytes]byte]uint32)
		s.shards[i].cap = perShard
	}
	return s
}

// Claim implements ReplayStore: key lives until expires, whatever the
// retention.
func (s *MemoryReplayStore) Claim(_ context.Context, key string, expires time.Time) (bool, error) {
	return s.claim(key, expires, false)
}

// ClaimIssued implements RetainingReplayStore: key lives until issued +
// the longest lifetime registered with Retain (before any, the entry
// would already be expired, and the token is refused).
func (s *MemoryReplayStore) ClaimIssued(_ context.Context, key string, issued time.Time) (bool, error) {
	if issued.Unix() <= s.floor.Load() {
		return false, nil
	}
	return s.claim(key, issued, true)
}

// Retain implements RetainingReplayStore; it never refuses. A lifetime
// longer than any registered before extends the live entries by the
// difference (a walk over all entries, under each shard's lock in turn).
func (s *MemoryReplayStore) Retain(lifetime time.Duration) error {
	if lifetime <= 0 {
		return fmt.Errorf("%w: lifetime %v", ErrReplayRetention, lifetime)
	}
	secs := int64((lifetime + time.Second - 1) / time.Second)
	s.retainMu.Lock()
	defer s.retainMu.Unlock()
	old := s.retention.Load()
	if secs <= old {
		return nil
	}
	used := s.used.Load()
	// Published before the walk: a claim on a shard the walk has passed
	// reads the new retention, one before it is extended by the walk.
	s.retention.Store(secs)
	delta := secs - old
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for k, exp := range sh.entries {
			sh.entries[k] = uint32(min(int64(exp)+delta, math.MaxUint32))
		}
		sh.mu.Unlock()
	}
	if used {
		// Entries of tokens claimed at or before now - old may have been
		// swept before the walk reached them: those tokens can no longer
		// be told fresh from used. The clock is read after the walk: an
		// entry still live then was extended, whereas one read before
		// could have been swept while the walk was on its way.
		s.floor.Store(s.clock().Unix() - old)
	}
	return nil
}

// Retention is the longest lifetime registered with Retain, in whole
// seconds (0 before any).
func (s *MemoryReplayStore) Retention() time.Duration {
	return time.Duration(s.retention.Load()) * time.Second
}

// claim records k until t, or until t + the retention when fromIssued.
func (s *MemoryReplayStore) claim(key string, t time.Time, fromIssued bool) (bool, error) {
	k := memoryKey(key)
	now := s.clock().Unix()
	sh := &s.shards[maphash.Bytes(s.seed, k[:])%replayShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	exp := t.Unix()
	if t.Nanosecond() != 0 {
		exp++ // never expire early
	}
	if fromIssued {
		// Read under the shard lock: see Retain.
		exp += s.retention.Load()
	}
	if exp > math.MaxUint32 {
		return false, fmt.Errorf("%w: expiry %d out of range", ErrStoreUnavailable, exp)
	}
	if old, ok := sh.entries[k]; ok && int64(old) > now {
		return false, nil
	}
	if exp <= now {
		// An entry that would already be expired cannot guard anything:
		// refuse rather than accept a token the store cannot remember.
		return false, nil
	}
	if now >= sh.nextSweep {
		sh.sweep(now)
	}
	if len(sh.entries) >= sh.cap {
		return false, fmt.Errorf("%w (shard holds %d live entries)", ErrReplayStoreFull, len(sh.entries))
	}
	if fromIssued && !s.used.Load() {
		s.used.Store(true)
	}
	sh.entries[k] = uint32(exp)
	return true, nil
}

// sweep drops expired entries; it runs at most about once a second per
// shard, so its cost is spread over the Claims of that second.
func (sh *replayShard) sweep(now int64) {
	for k, exp := range sh.entries {
		if int64(exp) <= now {
			delete(sh.entries, k)
		}
	}
	sh.nextSweep = now + 1
}

var _ RetainingReplayStore = (*MemoryReplayStore)(nil)

// Len returns the number of entries held, expired ones not yet swept included.
func (s *MemoryReplayStore) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += len(sh.entries)
		sh.mu.Unlock()
	}
	return n
}

// memoryKey maps a store key to 16 bytes: the key itself when it is the
// verifier's 32-hex-digit form, otherwise its SHA-256 prefix.
func memoryKey(key string) [replayKeyBytes]byte {
	var k [replayKeyBytes]byte
	if len(key) == 2*replayKeyBytes && decodeLowerHex(k[:], key) {
		return k
	}
	sum := sha256.Sum256([]byte(key))
	copy(k[:], sum[:])
	return k
}

// decodeLowerHex decodes src into dst (len(src) == 2*len(dst)) without
// allocating; false if src is not lowercase hex.
func decodeLowerHex(dst []byte, src string) bool {
	nibble := func(c byte) (byte, bool) {
		switch {
		case '0' <= c && c <= '9':
			return c - '0', true
		case 'a' <= c && c <= 'f':
			return c - 'a' + 10, true
		}
		return 0, false
	}
	for i := range dst {
		hi, ok1 := nibble(src[2*i])
		lo, ok2 := nibble(src[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}
