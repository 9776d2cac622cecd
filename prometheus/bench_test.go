package asymjwtprom_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
	asymjwtprom "github.com/asymjwt/asymjwt/prometheus"
	"github.com/prometheus/client_golang/prometheus"
)

// The cost of the metrics on a verification, for BENCHMARKS.md: run the
// variants in one process so the ratios compare like with like.
//
//	go test -run '^$' -bench Verify -benchmem .

// resettable is a memory replay store emptied between batches of
// pre-signed tokens, so every Verify takes the success path.
type resettable struct {
	cur atomic.Pointer[asymjwt.MemoryReplayStore]
}

func (r *resettable) reset() { r.cur.Store(asymjwt.NewMemoryReplayStore()) }

func (r *resettable) Claim(ctx context.Context, key string, exp time.Time) (bool, error) {
	return r.cur.Load().Claim(ctx, key, exp)
}

func BenchmarkVerify(b *testing.B) {
	variants := []struct {
		name    string
		metrics bool
		opts    []asymjwtprom.Option
		store   bool // instrument the replay store too
	}{
		{name: "bare"},
		{name: "observer", metrics: true},
		{name: "observer-no-username", metrics: true, opts: []asymjwtprom.Option{asymjwtprom.WithoutUsernameLabel()}},
		{name: "observer+store", metrics: true, store: true},
	}
	key, err := asymjwt.GenerateKey(asymjwt.KindEd25519)
	if err != nil {
		b.Fatal(err)
	}
	keys := asymjwt.NewMemoryKeyStore()
	keys.Add("client", key.Public())
	signer, err := asymjwt.NewSigner("client", key)
	if err != nil {
		b.Fatal(err)
	}
	tokens := make([]string, 1024)
	sign := func() {
		for i := range tokens {
			if tokens[i], err = signer.Token(); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, vr := range variants {
		b.Run(vr.name, func(b *testing.B) {
			replay := &resettable{}
			replay.reset()
			sign()
			var store asymjwt.ReplayStore = replay
			opts := []asymjwt.VerifierOption{asymjwt.WithLogger(discard)}
			if vr.metrics {
				m, err := asymjwtprom.New(append([]asymjwtprom.Option{asymjwtprom.WithRegisterer(prometheus.NewRegistry())}, vr.opts...)...)
				if err != nil {
					b.Fatal(err)
				}
				opts = append(opts, asymjwt.WithObserver(m.Observe))
				if vr.store {
					store = m.InstrumentReplayStore("memory", store)
				}
			}
			v, err := asymjwt.NewVerifier(keys, append(opts, asymjwt.WithReplayStore(store))...)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if i == len(tokens) {
					b.StopTimer()
					replay.reset()
					sign() // fresh ones: the run may outlast the time window
					b.StartTimer()
					i = 0
				}
				if _, err := v.Verify(ctx, tokens[i]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkObserve is the observer's own cost per outcome, which the
// noise of a shared machine hides in BenchmarkVerify.
func BenchmarkObserve(b *testing.B) {
	id := &asymjwt.Identity{Username: "client"}
	for _, c := range []struct {
		name string
		opts []asymjwtprom.Option
		o    asymjwt.Outcome
	}{
		{"accepted", nil, asymjwt.Outcome{Identity: id, Elapsed: 40 * time.Microsecond}},
		{"accepted-no-username", []asymjwtprom.Option{asymjwtprom.WithoutUsernameLabel()}, asymjwt.Outcome{Identity: id, Elapsed: 40 * time.Microsecond}},
		{"refused-replay", nil, asymjwt.Outcome{Err: asymjwt.ErrReplay, Elapsed: 40 * time.Microsecond}},
		{"refused-other", nil, asymjwt.Outcome{Err: context.Canceled, Elapsed: 40 * time.Microsecond}},
	} {
		b.Run(c.name, func(b *testing.B) {
			m, err := asymjwtprom.New(append([]asymjwtprom.Option{asymjwtprom.WithRegisterer(prometheus.NewRegistry())}, c.opts...)...)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				m.Observe(ctx, c.o)
			}
		})
	}
}
