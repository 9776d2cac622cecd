package asymjwtredis_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
	"github.com/asymjwt/asymjwt/redis/redistest"
	"github.com/redis/go-redis/v9"
)

// BenchmarkVerify compares a verification with the Redis replay store,
// against a local redis-server, with the in-memory store, one call at a
// time and in parallel. Tokens are made before the timer starts.
//
// "redis" is the client the README advises (ContextTimeoutEnabled), which
// the store calls directly; "redis-ctxoff" is go-redis's default, for which
// the store waits for each command apart so that it can return at the
// deadline.
func BenchmarkVerify(b *testing.B) {
	srv := redistest.Start(b)
	keys := asymjwt.NewMemoryKeyStore()
	signer := newSigner(b, keys, "billing")
	stores := []struct {
		name  string
		store func(b *testing.B) asymjwt.ReplayStore
	}{
		{"memory", func(*testing.B) asymjwt.ReplayStore { return asymjwt.NewMemoryReplayStore() }},
		{"redis", func(b *testing.B) asymjwt.ReplayStore { return newStore(b, benchClient(b, srv, true)) }},
		{"redis-ctxoff", func(b *testing.B) asymjwt.ReplayStore { return newStore(b, benchClient(b, srv, false)) }},
	}
	for _, st := range stores {
		v := newVerifier(b, keys, st.store(b))
		verify := func(b *testing.B, tokens []string, next *atomic.Int64) {
			// b.Error, not b.Fatal: this also runs on RunParallel's goroutines.
			if _, err := v.Verify(context.Background(), tokens[next.Add(1)-1]); err != nil {
				b.Error(err)
			}
		}
		b.Run(st.name+"/sequential", func(b *testing.B) {
			tokens, next := benchTokens(b, signer)
			for range b.N {
				verify(b, tokens, next)
			}
		})
		b.Run(st.name+"/parallel", func(b *testing.B) {
			tokens, next := benchTokens(b, signer)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					verify(b, tokens, next)
				}
			})
		})
	}
}

func benchTokens(b *testing.B, signer *asymjwt.Signer) ([]string, *atomic.Int64) {
	tokens := make([]string, b.N)
	for i := range tokens {
		tokens[i] = newToken(b, signer)
	}
	b.ReportAllocs()
	b.ResetTimer()
	return tokens, new(atomic.Int64)
}

// BenchmarkClaim is the replay store alone: the cost Redis adds to each
// verification.
func BenchmarkClaim(b *testing.B) {
	srv := redistest.Start(b)
	rdb, rdbCtxOff := benchClient(b, srv, true), benchClient(b, srv, false)
	stores := []struct {
		name  string
		store func(b *testing.B) asymjwt.ReplayStore
	}{
		{"memory", func(b *testing.B) asymjwt.ReplayStore {
			// Room for every key of this run, so the cap never refuses.
			return asymjwt.NewMemoryReplayStore(asymjwt.WithMaxEntries(2*b.N + 1<<20))
		}},
		{"redis", func(b *testing.B) asymjwt.ReplayStore { return newStore(b, rdb) }},
		{"redis-ctxoff", func(b *testing.B) asymjwt.ReplayStore { return newStore(b, rdbCtxOff) }},
	}
	var seq atomic.Int64
	claim := func(b *testing.B, s asymjwt.ReplayStore) {
		// The verifier's key format: 32 lowercase hex digits, uniformly
		// spread like the hash it is.
		n := uint64(seq.Add(1))
		key := fmt.Sprintf("%016x%016x", mix(n), mix(^n))
		if fresh, err := s.Claim(context.Background(), key, time.Now().Add(time.Minute)); !fresh || err != nil {
			b.Errorf("Claim = %v, %v", fresh, err)
		}
	}
	for _, st := range stores {
		b.Run(st.name+"/sequential", func(b *testing.B) {
			s := st.store(b)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				claim(b, s)
			}
		})
		b.Run(st.name+"/parallel", func(b *testing.B) {
			s := st.store(b)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					claim(b, s)
				}
			})
		})
	}
}

// mix is splitmix64's finalizer: distinct inputs, well-spread outputs.
func mix(x uint64) uint64 {
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

func benchClient(b *testing.B, srv *redistest.Server, contextTimeout bool) *redis.Client {
	return srv.Client(b, func(o *redis.Options) {
		o.PoolSize = 32
		o.ContextTimeoutEnabled = contextTimeout
	})
}
