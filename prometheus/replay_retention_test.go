package asymjwtprom_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
	asymjwtprom "github.com/asymjwt/asymjwt/prometheus"
	"github.com/prometheus/client_golang/prometheus"
)

// shortRetention is a RetainingReplayStore that keeps entries 3 s, as a
// Redis store with WithRetention(3 * time.Second) does.
type shortRetention struct{ *asymjwt.MemoryReplayStore }

func (shortRetention) Retain(lifetime time.Duration) error {
	if lifetime > 3*time.Second {
		return fmt.Errorf("%w: keeps 3s, needs %v", asymjwt.ErrReplayRetention, lifetime)
	}
	return nil
}

// TestInstrumentedStoreKeepsRetention: the instrumented store must stay
// a RetainingReplayStore when the store it wraps is one. It was a plain
// ReplayStore: verifiers with tolerances 1 s and 20 s on one
// instrumented store (asymjwt proxy --redis --metrics-listen, two
// instances with different --tolerance) each recorded entries for their
// own window only, and the 20 s verifier accepted again a token the 1 s
// one had accepted; a Redis retention too short for the verifier was no
// longer refused at construction.
func TestInstrumentedStoreKeepsRetention(t *testing.T) {
	m, err := asymjwtprom.New(asymjwtprom.WithRegisterer(prometheus.NewRegistry()))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1_700_000_000, 0)
	clock := t0
	now := func() time.Time { return clock }
	keys := asymjwt.NewMemoryKeyStore()
	alice := newParty(t, keys, "alice", asymjwt.WithClock(now))
	store := m.InstrumentReplayStore("memory", asymjwt.NewMemoryReplayStore(asymjwt.WithClock(now)))
	quiet := asymjwt.WithLogger(discard)
	short, err := asymjwt.NewVerifier(keys, quiet, asymjwt.WithClock(now), asymjwt.WithReplayStore(store), asymjwt.WithTolerance(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	long, err := asymjwt.NewVerifier(keys, quiet, asymjwt.WithClock(now), asymjwt.WithReplayStore(store))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tok := alice.token(t)
	if _, err := short.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	for _, d := range []time.Duration{3, 5, 20} {
		clock = t0.Add(d * time.Second)
		if _, err := long.Verify(ctx, tok); !errors.Is(err, asymjwt.ErrReplay) {
			t.Fatalf("%d s after the 1 s verifier accepted it, the 20 s verifier: %v; want ErrReplay", d, err)
		}
	}

	tight := m.InstrumentReplayStore("redis", shortRetention{asymjwt.NewMemoryReplayStore()})
	if _, err := asymjwt.NewVerifier(keys, quiet, asymjwt.WithReplayStore(tight)); !errors.Is(err, asymjwt.ErrReplayRetention) {
		t.Fatalf("a store keeping entries 3 s, instrumented, for a verifier needing 41 s: %v; want ErrReplayRetention", err)
	}
}
