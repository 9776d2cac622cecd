package bench_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asymjwt/asymjwt/bench"
	asymjwt "github.com/asymjwt/asymjwt/core"
)

// setup returns a case's target, built after its b.N credentials: fresh
// tokens for asymjwt (signed now, before the timer), one token of the
// same shape for the peers. Building the target last starts its verifier's
// clock right before the run.
func setup(b *testing.B, c bench.Case) (bench.Target, []string) {
	b.Helper()
	key, err := bench.ClientKey(c.Alg)
	if err != nil {
		b.Fatal(err)
	}
	creds := make([]string, b.N)
	if c.Fresh {
		toks, err := bench.FreshTokens(c.Alg, c.Bound, b.N)
		if err != nil {
			b.Fatal(err)
		}
		for i, t := range toks {
			creds[i] = c.Credential(t)
		}
	} else {
		tok, err := bench.PeerToken(key, bench.PeerClaims())
		if err != nil {
			b.Fatal(err)
		}
		for i := range creds {
			creds[i] = c.Credential(tok)
		}
	}
	target, err := c.New(key)
	if err != nil {
		b.Fatal(err)
	}
	return target, creds
}

// cpuMeter reports the process CPU time per iteration as cpu-ns/op: on a
// shared machine wall time (ns/op) counts the other tenants' work, CPU
// time does not. Start it right after ResetTimer, stop it before
// StopTimer or the end.
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
	end, ok := processCPU()
	if m.ok && ok {
		m.b.ReportMetric(float64(end-m.start)/float64(m.b.N), "cpu-ns/op")
	}
}

// BenchmarkAuth is the peer table: one authenticated request per
// iteration, every case of bench.Cases. Every iteration must reach the
// handler, so a refusal cannot pass for a fast success.
func BenchmarkAuth(b *testing.B) {
	for _, c := range bench.Cases() {
		b.Run(c.Name(), func(b *testing.B) {
			target, creds := setup(b, c)
			b.ReportAllocs()
			b.ResetTimer()
			cpu := startCPU(b)
			for i := range b.N {
				if got := target.Do(creds[i]); got != bench.Handled {
					b.Fatalf("request %d: status %d", i, got)
				}
			}
			cpu.stop()
		})
	}
}

// BenchmarkBaseline is each framework with the same route and no
// authentication: what the framework costs by itself.
func BenchmarkBaseline(b *testing.B) {
	for _, c := range bench.Baselines() {
		b.Run(c.Framework, func(b *testing.B) {
			target, err := c.New(bench.Key{})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu := startCPU(b)
			for i := range b.N {
				if got := target.Do("Bearer x"); got != bench.Handled {
					b.Fatalf("request %d: status %d", i, got)
				}
			}
			cpu.stop()
		})
	}
}

// BenchmarkParallel is throughput with every P busy, at GOMAXPROCS 1 and
// 2, for the bare RS256 verifiers: contention in asymjwt's stores shows
// as a worse scaling than the floor's.
func BenchmarkParallel(b *testing.B) {
	for _, procs := range []int{1, 2} {
		b.Run(fmt.Sprintf("GOMAXPROCS=%d", procs), func(b *testing.B) {
			for _, c := range bench.Cases() {
				if c.Alg != asymjwt.RS256 || c.Framework != bench.Bare {
					continue
				}
				b.Run(c.Name(), func(b *testing.B) {
					defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
					target, creds := setup(b, c)
					var next atomic.Int64
					b.ReportAllocs()
					b.ResetTimer()
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							i := next.Add(1) - 1
							if got := target.Do(creds[i]); got != bench.Handled {
								b.Errorf("request %d: status %d", i, got)
								return
							}
						}
					})
				})
			}
		})
	}
}

// registry is n registered clients with Ed25519 keys (RSA keys would take
// hours to generate by the 100,000), and a source of tokens each from a
// client picked at random, so the verifier sees traffic from all of them.
type registry struct {
	keys   *asymjwt.MemoryKeyStore
	tokens func(n int) ([]string, error)
	// bytesPerClient is the key store's heap per registered client.
	bytesPerClient float64
}

var (
	registriesMu sync.Mutex
	registries   = map[int]*registry{}
)

func registryOf(b *testing.B, n int) *registry {
	b.Helper()
	registriesMu.Lock()
	defer registriesMu.Unlock()
	if r, ok := registries[n]; ok {
		return r
	}
	signers := make([]*asymjwt.Signer, n)
	pubs := make([]crypto.PublicKey, n)
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	errs := make([]error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				priv, err := asymjwt.GenerateKey(asymjwt.KindEd25519)
				if err != nil {
					errs[w] = err
					return
				}
				s, err := asymjwt.NewSigner(fmt.Sprintf("client-%06d", i), priv,
					asymjwt.WithAudience(bench.Audience),
					asymjwt.WithClock(func() time.Time { return bench.TokenTime }))
				if err != nil {
					errs[w] = err
					return
				}
				signers[i], pubs[i] = s, priv.Public()
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	before := heapInUse()
	keys := asymjwt.NewMemoryKeyStore()
	for i, pub := range pubs {
		if _, err := keys.Add(fmt.Sprintf("client-%06d", i), pub); err != nil {
			b.Fatal(err)
		}
	}
	r := &registry{
		keys:           keys,
		bytesPerClient: float64(heapInUse()-before) / float64(n),
		tokens: bench.NewPool(func() (string, error) {
			return signers[mrand.IntN(n)].Token()
		}),
	}
	registries[n] = r
	return r
}

// heapInUse returns the live heap after a full collection.
func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// BenchmarkScaleClients is asymjwt's full Verify (EdDSA) with 1, 1,000
// and 100,000 registered clients, each request from a client picked at
// random: the key lookup and the verifier's per-key cache at scale.
func BenchmarkScaleClients(b *testing.B) {
	for _, n := range []int{1, 1_000, 100_000} {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) {
			r := registryOf(b, n)
			toks, err := r.tokens(b.N)
			if err != nil {
				b.Fatal(err)
			}
			v, err := asymjwt.NewVerifier(r.keys,
				asymjwt.WithAudience(bench.Audience), asymjwt.RequireAudience(), asymjwt.WithClock(bench.Clock()))
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			cpu := startCPU(b)
			for i := range b.N {
				if _, err := v.Verify(ctx, toks[i]); err != nil {
					b.Fatalf("token %d: %v", i, err)
				}
			}
			cpu.stop()
			b.StopTimer()
			b.ReportMetric(r.bytesPerClient, "B/client")
		})
	}
}

// replayKeys returns n distinct keys in the verifier's own form (32
// lowercase hex digits), which the memory store keeps without hashing.
func replayKeys(n int) []string {
	keys := make([]string, n)
	var k [16]byte
	for i := range keys {
		_, _ = rand.Read(k[:])
		keys[i] = hex.EncodeToString(k[:])
	}
	return keys
}

// BenchmarkReplayStore is one Claim of a new token in the memory replay
// store, empty and holding 1,000,000 live entries. B/entry is the heap per
// live entry: over the prefill for 1,000,000, over the run from empty.
//
// The store sweeps each shard's expired entries once a second, walking
// every live entry. A run of 10,000 claims lasts milliseconds, so whether
// it holds a sweep would be luck: the store's clock stands still during
// the run, and sweep-ns/entry, the cost of those sweeps per live entry, is
// measured apart (CPU time of claims that sweep every shard, less that of
// as many that sweep none).
func BenchmarkReplayStore(b *testing.B) {
	// The default cap (2^20) leaves 1,000,000 entries under 5% headroom,
	// and a shard fills before the whole: give both runs room.
	const (
		maxEntries = 4 << 20
		fill       = 1_000_000
	)
	var (
		offset  atomic.Int64 // the store clock's advance, in ns
		base    = time.Now()
		clock   = func() time.Time { return base.Add(time.Duration(offset.Load())) }
		expires = base.Add(time.Hour)
		ctx     = context.Background()

		full                    *asymjwt.MemoryReplayStore
		fullPerEntry, sweepCost float64
		sweepMeasured           bool
		prefillOnce             sync.Once
	)
	claimAll := func(s *asymjwt.MemoryReplayStore, keys []string) {
		for _, k := range keys {
			if ok, err := s.Claim(ctx, k, expires); !ok || err != nil {
				b.Fatalf("claim: claimed %t, %v", ok, err)
			}
		}
	}
	prefill := func() {
		before := heapInUse()
		full = asymjwt.NewMemoryReplayStore(asymjwt.WithMaxEntries(maxEntries), asymjwt.WithClock(clock))
		const batch = 10_000
		for done := 0; done < fill; done += batch {
			claimAll(full, replayKeys(batch))
		}
		fullPerEntry = float64(heapInUse()-before) / float64(fill)

		// A second later every shard is due: 4,096 claims reach all 128
		// shards (but with odds of 1 in 10^5), and the first claim in each
		// sweeps it. The next 4,096 find nothing due.
		sweeping, plain := replayKeys(4096), replayKeys(4096)
		offset.Add(int64(time.Second))
		t0, ok0 := processCPU()
		claimAll(full, sweeping)
		t1, ok1 := processCPU()
		claimAll(full, plain)
		t2, ok2 := processCPU()
		sweepCost = float64((t1-t0)-(t2-t1)) / float64(fill)
		sweepMeasured = ok0 && ok1 && ok2
	}
	for _, live := range []int{0, fill} {
		b.Run(fmt.Sprintf("live=%d", live), func(b *testing.B) {
			store := asymjwt.NewMemoryReplayStore(asymjwt.WithMaxEntries(maxEntries), asymjwt.WithClock(clock))
			if live > 0 {
				prefillOnce.Do(prefill)
				store = full
			}
			keys := replayKeys(b.N)
			before := heapInUse()
			b.ReportAllocs()
			b.ResetTimer()
			cpu := startCPU(b)
			for i := range b.N {
				if ok, err := store.Claim(ctx, keys[i], expires); !ok || err != nil {
					b.Fatalf("claim %d: claimed %t, %v", i, ok, err)
				}
			}
			cpu.stop()
			b.StopTimer()
			perEntry := fullPerEntry
			if live == 0 {
				perEntry = float64(heapInUse()-before) / float64(b.N)
			} else if sweepMeasured {
				b.ReportMetric(sweepCost, "sweep-ns/entry")
			}
			// Both were live when before was taken: keep them so until after.
			runtime.KeepAlive(keys)
			runtime.KeepAlive(store)
			b.ReportMetric(perEntry, "B/entry")
		})
	}
}
