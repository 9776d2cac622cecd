package asymjwt_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

// TestLateLongerVerifierWhileTimePasses: a second boundary passes while
// Retain registers a longer lifetime, and claims on the store meanwhile
// sweep the entries that just expired under the shorter one. A token
// whose entry was swept so must still be refused by the new verifier:
// the old code fixed the cut-off ("floor") from the clock read before
// it extended the live entries, so an entry expiring in between was
// neither extended nor below the floor, and the 20 s verifier accepted
// again a token the 1 s verifier had accepted.
func TestLateLongerVerifierWhileTimePasses(t *testing.T) {
	keys := asymjwt.NewMemoryKeyStore()
	token := edParty(t, keys)
	var (
		sec  atomic.Int64
		hook atomic.Pointer[func()]
	)
	sec.Store(now - 1)
	clock := func() time.Time {
		read := sec.Load()
		if h := hook.Swap(nil); h != nil {
			(*h)() // time passes, and traffic with it, after this read
		}
		return time.Unix(read, 0)
	}
	store := asymjwt.NewMemoryReplayStore(asymjwt.WithClock(clock))
	short := newTestVerifier(t, keys, asymjwt.WithClock(clock), asymjwt.WithReplayStore(store), asymjwt.WithTolerance(time.Second))
	ctx := context.Background()
	used := token(now - 2) // entry until now+1 under the 3 s lifetime
	if _, err := short.Verify(ctx, used); err != nil {
		t.Fatal(err)
	}
	sec.Store(now)
	traffic := func() {
		sec.Store(now + 1)
		sweepAll(t, store, now+2)
	}
	hook.Store(&traffic)
	long := newTestVerifier(t, keys, asymjwt.WithClock(clock), asymjwt.WithReplayStore(store))
	if hook.Load() != nil {
		t.Fatal("Retain did not read the clock")
	}
	if _, err := long.Verify(ctx, used); !errors.Is(err, asymjwt.ErrReplay) {
		t.Fatalf("token accepted by the 1 s verifier, then presented to the 20 s one: %v; want ErrReplay", err)
	}
}

// TestThirdLongerVerifierKeepsFloor: the store grows its retention twice.
// Tokens whose entries expired under the first, shortest lifetime stay
// refused after the second growth: the old code replaced the cut-off
// with now - (the second lifetime), lower than the first cut-off, and a
// 30 s verifier accepted again a token the 1 s verifier had accepted.
func TestThirdLongerVerifierKeepsFloor(t *testing.T) {
	keys := asymjwt.NewMemoryKeyStore()
	token := edParty(t, keys)
	clock := &fleetClock{t: time.Unix(now, 0)}
	store := asymjwt.NewMemoryReplayStore(asymjwt.WithClock(clock.now))
	ctx := context.Background()
	short := newTestVerifier(t, keys, asymjwt.WithClock(clock.now), asymjwt.WithReplayStore(store), asymjwt.WithTolerance(time.Second))
	used := token(now)
	if _, err := short.Verify(ctx, used); err != nil {
		t.Fatal(err)
	}
	clock.t = time.Unix(now+4, 0) // the entry (3 s) has expired
	sweepAll(t, store, now+5)
	newTestVerifier(t, keys, asymjwt.WithClock(clock.now), asymjwt.WithReplayStore(store)) // 41 s
	clock.t = time.Unix(now+10, 0)
	long := newTestVerifier(t, keys, asymjwt.WithClock(clock.now), asymjwt.WithReplayStore(store), asymjwt.WithTolerance(30*time.Second)) // 61 s
	if _, err := long.Verify(ctx, used); !errors.Is(err, asymjwt.ErrReplay) {
		t.Fatalf("token accepted by the 1 s verifier, then presented to the 30 s one: %v; want ErrReplay", err)
	}
}

// sweepAll makes claims on every shard of store (they sweep expired
// entries), with entries that expire at until.
func sweepAll(t *testing.T, store *asymjwt.MemoryReplayStore, until int64) {
	t.Helper()
	for i := range 4096 {
		if _, err := store.Claim(context.Background(), fmt.Sprintf("traffic-%d-%d", until, i), time.Unix(until, 0)); err != nil {
			t.Error(err)
		}
	}
}

// hidingWrapper is a plain ReplayStore around a retaining one: what a
// metrics or tracing wrapper written for ReplayStore alone is.
type hidingWrapper struct{ next asymjwt.ReplayStore }

func (w hidingWrapper) Claim(ctx context.Context, key string, expires time.Time) (bool, error) {
	return w.next.Claim(ctx, key, expires)
}

func (w hidingWrapper) Unwrap() asymjwt.ReplayStore { return w.next }

// TestNewVerifierRefusesWrapperHidingRetention: a plain store wrapping a
// RetainingReplayStore would record entries for the recording verifier's
// window only (the prometheus module's wrapper did so, reopening replay
// across tolerances): NewVerifier refuses it.
func TestNewVerifierRefusesWrapperHidingRetention(t *testing.T) {
	keys := asymjwt.NewMemoryKeyStore()
	tests := []struct {
		name  string
		store asymjwt.ReplayStore
		ok    bool
	}{
		{"memory store", asymjwt.NewMemoryReplayStore(), true},
		{"plain store wrapping nothing retaining", hidingWrapper{&expiryRecorder{}}, true},
		{"wrapping the memory store", hidingWrapper{asymjwt.NewMemoryReplayStore()}, false},
		{"two wrappers deep", hidingWrapper{hidingWrapper{asymjwt.NewMemoryReplayStore()}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := asymjwt.NewVerifier(keys, asymjwt.WithReplayStore(tt.store))
			if tt.ok != (err == nil) || !tt.ok && !errors.Is(err, asymjwt.ErrReplayRetention) {
				t.Fatalf("err = %v; want ok=%v, else ErrReplayRetention", err, tt.ok)
			}
		})
	}
}
