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

// An instrumented store keeps the replay rule of the store it wraps
// (docs/PROTOCOL.md §1.6): verifiers with different tolerances on one
// store accept a token once, and a store that cannot keep entries long
// enough is still refused.
func TestInstrumentedStoreKeepsRetention(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := asymjwtprom.New(asymjwtprom.WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1_800_000_000, 0)
	now := t0
	clock := asymjwt.WithClock(func() time.Time { return now })
	keys := asymjwt.NewMemoryKeyStore()
	alice := newParty(t, keys, "alice", clock)
	store := m.InstrumentReplayStore("memory", asymjwt.NewMemoryReplayStore(clock))
	if _, ok := store.(asymjwt.RetainingReplayStore); !ok {
		t.Fatal("the instrumented memory store is not a RetainingReplayStore")
	}
	quiet := asymjwt.WithLogger(discard)
	short, err := asymjwt.NewVerifier(keys, quiet, clock, asymjwt.WithTolerance(time.Second), asymjwt.WithReplayStore(store))
	if err != nil {
		t.Fatal(err)
	}
	long, err := asymjwt.NewVerifier(keys, quiet, clock, asymjwt.WithReplayStore(store))
	if err != nil {
		t.Fatal(err)
	}
	tok := alice.token(t)
	if _, err := short.Verify(context.Background(), tok); err != nil {
		t.Fatalf("first use: %v", err)
	}
	// Past the short verifier's own lifetime (1 s + 1 s + 1 s), inside
	// the long one's window.
	now = t0.Add(5 * time.Second)
	if _, err := long.Verify(context.Background(), tok); !errors.Is(err, asymjwt.ErrReplay) {
		t.Fatalf("the token used at the 1 s verifier, replayed 5 s later at the 20 s one: %v, want ErrReplay", err)
	}
	want(t, scrape(t, reg), map[string]float64{`asymjwt_replay_store_duration_seconds_count{store="memory"}`: 2})

	brief := m.InstrumentReplayStore("redis", refusingStore{})
	if _, err := asymjwt.NewVerifier(keys, quiet, asymjwt.WithReplayStore(brief)); !errors.Is(err, asymjwt.ErrReplayRetention) {
		t.Fatalf("NewVerifier on an instrumented store that keeps entries too briefly: %v, want ErrReplayRetention", err)
	}
}

// refusingStore is a RetainingReplayStore that keeps entries for less
// than any verifier needs.
type refusingStore struct{ failingStore }

func (refusingStore) Retain(lifetime time.Duration) error {
	return fmt.Errorf("%w: keeps entries 1s, %v needed", asymjwt.ErrReplayRetention, lifetime)
}

func (refusingStore) ClaimIssued(context.Context, string, time.Time) (bool, error) {
	return false, errors.New("not reached")
}
