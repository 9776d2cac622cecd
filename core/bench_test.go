package asymjwt_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
	"github.com/golang-jwt/jwt/v5"
)

// Benchmarks for BENCHMARKS.md. Run them in one process so ratios compare
// like with like:
//
//	go test -run '^$' -bench . -benchmem -count 6 . | tee bench.txt

var benchKinds = []struct{ name, kind string }{
	{"Ed25519", "ed25519"},
	{"RSA2048", "rsa"},
	{"P256", "p256"},
}

// resettableReplay is a MemoryReplayStore the benchmark can swap for an
// empty one between batches of pre-signed tokens, so each Verify runs the
// success path (a new entry) without signing inside the timed loop. It is
// a RetainingReplayStore like the store it wraps, so Verify takes the
// same path (ClaimIssued) as with the default store.
type resettableReplay struct {
	cur      atomic.Pointer[asymjwt.MemoryReplayStore]
	lifetime time.Duration // set by NewVerifier, before any reset
}

var _ asymjwt.RetainingReplayStore = (*resettableReplay)(nil)

func newResettableReplay() *resettableReplay {
	r := &resettableReplay{}
	r.reset()
	return r
}

func (r *resettableReplay) reset() {
	s := asymjwt.NewMemoryReplayStore()
	if r.lifetime > 0 {
		_ = s.Retain(r.lifetime)
	}
	r.cur.Store(s)
}

func (r *resettableReplay) Claim(ctx context.Context, key string, exp time.Time) (bool, error) {
	return r.cur.Load().Claim(ctx, key, exp)
}

func (r *resettableReplay) Retain(lifetime time.Duration) error {
	r.lifetime = max(r.lifetime, lifetime)
	return r.cur.Load().Retain(lifetime)
}

func (r *resettableReplay) ClaimIssued(ctx context.Context, key string, issued time.Time) (bool, error) {
	return r.cur.Load().ClaimIssued(ctx, key, issued)
}

const tokenBatch = 1024

type benchSetup struct {
	signer   *asymjwt.Signer
	key      crypto.Signer
	verifier *asymjwt.Verifier
	replay   *resettableReplay
	tokens   []string
}

func newBenchSetup(b *testing.B, kind string, users int, opts ...asymjwt.SignerOption) *benchSetup {
	b.Helper()
	key, err := asymjwt.GenerateKey(kind)
	if err != nil {
		b.Fatal(err)
	}
	keys := asymjwt.NewMemoryKeyStore()
	keys.Add("client", key.Public())
	if users > 1 {
		other, _ := asymjwt.GenerateKey("ed25519")
		for i := 1; i < users; i++ {
			keys.Add(fmt.Sprint("user-", i), other.Public())
		}
	}
	replay := newResettableReplay()
	v := newTestVerifier(b, keys, asymjwt.WithReplayStore(replay))
	s, err := asymjwt.NewSigner("client", key, opts...)
	if err != nil {
		b.Fatal(err)
	}
	tokens := make([]string, tokenBatch)
	for i := range tokens {
		if tokens[i], err = s.Token(); err != nil {
			b.Fatal(err)
		}
	}
	return &benchSetup{signer: s, key: key, verifier: v, replay: replay, tokens: tokens}
}

// cpuMeter reports the process CPU time per iteration as cpu-ns/op: on a
// shared machine wall time (ns/op) counts the other tenants' work, CPU
// time does not. Start it right after ResetTimer, stop it at the end.
type cpuMeter struct {
	b     *testing.B
	start time.Duration
	ok    bool
}

func startCPU(b *testing.B) cpuMeter {
	start, ok := processCPU()
	return cpuMeter{b: b, start: start, ok: ok}
}

func (m cpuMeter) stop() {
	if end, ok := processCPU(); m.ok && ok {
		m.b.ReportMetric(float64(end-m.start)/float64(m.b.N), "cpu-ns/op")
	}
}

// benchmarkVerify verifies the pre-signed tokens, b.N times in all,
// emptying the replay store between batches outside the timer (but
// inside cpu-ns/op, amortized over a batch of 1,024).
func (st *benchSetup) benchmarkVerify(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	defer startCPU(b).stop()
	for i := 0; i < b.N; i++ {
		if i%tokenBatch == 0 && i > 0 {
			b.StopTimer()
			st.replay.reset()
			b.StartTimer()
		}
		if _, err := st.verifier.Verify(ctx, st.tokens[i%tokenBatch]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify is full verification: parse, key lookup, alg and
// signature, time, and a new replay-store entry.
func BenchmarkVerify(b *testing.B) {
	for _, k := range benchKinds {
		b.Run(k.name, func(b *testing.B) {
			st := newBenchSetup(b, k.kind, 1)
			st.benchmarkVerify(b)
		})
	}
}

// BenchmarkBareSignatureCheck is the floor: golang-jwt's signature check
// on the same token and key, nothing else.
func BenchmarkBareSignatureCheck(b *testing.B) {
	for _, k := range benchKinds {
		b.Run(k.name, func(b *testing.B) {
			st := newBenchSetup(b, k.kind, 1)
			token := st.tokens[0]
			dot := strings.LastIndexByte(token, '.')
			input := token[:dot]
			sig, _ := base64.RawURLEncoding.DecodeString(token[dot+1:])
			method := jwt.GetSigningMethod(st.signer.Algorithm())
			pub := st.key.Public()
			b.ReportAllocs()
			b.ResetTimer()
			defer startCPU(b).stop()
			for i := 0; i < b.N; i++ {
				if err := method.Verify(input, sig, pub); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSign is a whole token: nonce, claims, encoding, signature.
func BenchmarkSign(b *testing.B) {
	for _, k := range benchKinds {
		b.Run(k.name, func(b *testing.B) {
			key, _ := asymjwt.GenerateKey(k.kind)
			s, _ := asymjwt.NewSigner("client", key)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := s.Token(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBareSign is the key's own signature over a token-sized input.
func BenchmarkBareSign(b *testing.B) {
	for _, k := range benchKinds {
		b.Run(k.name, func(b *testing.B) {
			key, _ := asymjwt.GenerateKey(k.kind)
			s, _ := asymjwt.NewSigner("client", key)
			token, _ := s.Token()
			input := []byte(token[:strings.LastIndexByte(token, '.')])
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				var err error
				switch k.kind {
				case "ed25519":
					_, err = key.Sign(rand.Reader, input, crypto.Hash(0))
				case "rsa":
					digest := sha512Sum(input)
					_, err = key.Sign(rand.Reader, digest, crypto.SHA512)
				default:
					digest := sha256.Sum256(input)
					_, err = key.Sign(rand.Reader, digest[:], crypto.SHA256)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func sha512Sum(b []byte) []byte {
	h := crypto.SHA512.New()
	h.Write(b)
	return h.Sum(nil)
}

// BenchmarkVerifyUsers: full verification with 1 and 100,000 registered users.
func BenchmarkVerifyUsers(b *testing.B) {
	for _, users := range []int{1, 100_000} {
		b.Run(fmt.Sprint("users=", users), func(b *testing.B) {
			st := newBenchSetup(b, "ed25519", users)
			st.benchmarkVerify(b)
		})
	}
}

// BenchmarkKeyLookup: MemoryKeyStore.Keys by username and kid with 1,
// 1,000 and 100,000 registered users. "one" asks for the same user every time (the
// store's O(1) cost); "all" cycles through every registered user, so a
// large store also pays the CPU cache misses of touching 100,000 entries.
func BenchmarkKeyLookup(b *testing.B) {
	for _, users := range []int{1, 1_000, 100_000} {
		keys := asymjwt.NewMemoryKeyStore()
		key, _ := asymjwt.GenerateKey("ed25519")
		names := make([]string, users)
		var kid string
		for i := range names {
			names[i] = fmt.Sprint("user-", i)
			kid, _ = keys.Add(names[i], key.Public())
		}
		ctx := context.Background()
		for _, mode := range []string{"one", "all"} {
			if users == 1 && mode == "all" {
				continue
			}
			b.Run(fmt.Sprintf("users=%d/%s", users, mode), func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					name := names[0]
					if mode == "all" {
						name = names[i%users]
					}
					if _, err := keys.Keys(ctx, name, kid); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkReplayClaim(b *testing.B) {
	keys := make([]string, 1<<16)
	for i := range keys {
		keys[i] = fmt.Sprintf("%032x", i)
	}
	exp := time.Now().Add(time.Hour)
	b.Run("single", func(b *testing.B) {
		s := asymjwt.NewMemoryReplayStore(asymjwt.WithMaxEntries(len(keys)))
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if i%len(keys) == 0 {
				b.StopTimer()
				s = asymjwt.NewMemoryReplayStore(asymjwt.WithMaxEntries(len(keys)))
				b.StartTimer()
			}
			s.Claim(ctx, keys[i%len(keys)], exp)
		}
	})
	b.Run("issued", func(b *testing.B) {
		// The verifier's path: expiry from the claimed time + retention.
		newStore := func() *asymjwt.MemoryReplayStore {
			s := asymjwt.NewMemoryReplayStore(asymjwt.WithMaxEntries(len(keys)))
			if err := s.Retain(2*asymjwt.DefaultTolerance + time.Second); err != nil {
				b.Fatal(err)
			}
			return s
		}
		s := newStore()
		issued := time.Now()
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if i%len(keys) == 0 {
				b.StopTimer()
				s = newStore()
				b.StartTimer()
			}
			s.ClaimIssued(ctx, keys[i%len(keys)], issued)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		s := asymjwt.NewMemoryReplayStore(asymjwt.WithMaxEntries(len(keys)))
		var next atomic.Int64
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				s.Claim(ctx, keys[next.Add(1)%int64(len(keys))], exp)
			}
		})
	})
}

// BenchmarkReplayMemory reports the heap bytes per live entry of a
// MemoryReplayStore holding 1,000,000 entries, recorded as a verifier
// with the default replay lifetime (41 s) records them. The entry size
// does not depend on the lifetime; how many entries are live does.
func BenchmarkReplayMemory(b *testing.B) {
	const entries = 1_000_000
	keys := make([]string, entries)
	for i := range keys {
		keys[i] = fmt.Sprintf("%032x", i*7919)
	}
	issued := time.Now()
	ctx := context.Background()
	var perEntry float64
	for i := 0; i < b.N; i++ {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		s := asymjwt.NewMemoryReplayStore(asymjwt.WithMaxEntries(2 * entries))
		if err := s.Retain(2*asymjwt.DefaultTolerance + time.Second); err != nil {
			b.Fatal(err)
		}
		for _, k := range keys {
			if ok, err := s.ClaimIssued(ctx, k, issued); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perEntry = float64(after.HeapAlloc-before.HeapAlloc) / entries
		runtime.KeepAlive(s)
	}
	b.ReportMetric(perEntry, "bytes/entry")
}
