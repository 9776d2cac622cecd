package asymjwt_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
	"github.com/golang-jwt/jwt/v5"
)

func TestMemoryReplayStore(t *testing.T) {
	clock := time.Unix(now, 0)
	s := asymjwt.NewMemoryReplayStore(asymjwt.WithClock(func() time.Time { return clock }))
	ctx := context.Background()
	exp := clock.Add(21 * time.Second)
	steps := []struct {
		name    string
		advance time.Duration
		key     string
		expires time.Time
		want    bool
	}{
		{"first claim", 0, "k1", exp, true},
		{"second claim", 0, "k1", exp, false},
		{"other key", 0, "k2", exp, true},
		{"still live one second before expiry", 20 * time.Second, "k1", exp, false},
		{"free again at expiry", time.Second, "k1", clock.Add(42 * time.Second), true},
		{"already expired: refused, the store could not remember it", 0, "k3", clock.Add(-time.Second), false},
		{"hex key form", 0, "0123456789abcdef0123456789abcdef", clock.Add(time.Hour), true},
		{"hex key form again", 0, "0123456789abcdef0123456789abcdef", clock.Add(time.Hour), false},
	}
	for _, st := range steps {
		clock = clock.Add(st.advance)
		got, err := s.Claim(ctx, st.key, st.expires)
		if err != nil || got != st.want {
			t.Fatalf("%s: got %v, %v; want %v", st.name, got, err, st.want)
		}
	}
}

func TestMemoryReplayStoreCapRefusesWithoutEvicting(t *testing.T) {
	clock := time.Unix(now, 0)
	s := asymjwt.NewMemoryReplayStore(asymjwt.WithMaxEntries(256), asymjwt.WithClock(func() time.Time { return clock }))
	ctx := context.Background()
	var accepted []string
	var fullErr error
	for i := 0; fullErr == nil && i < 100000; i++ {
		key := fmt.Sprint("k", i)
		ok, err := s.Claim(ctx, key, clock.Add(30*time.Second))
		switch {
		case err != nil:
			fullErr = err
		case ok:
			accepted = append(accepted, key)
		}
	}
	if !errors.Is(fullErr, asymjwt.ErrReplayStoreFull) || !errors.Is(fullErr, asymjwt.ErrStoreUnavailable) {
		t.Fatalf("err = %v, want ErrReplayStoreFull wrapping ErrStoreUnavailable", fullErr)
	}
	if s.Len() > 256 {
		t.Fatalf("%d entries over a cap of 256", s.Len())
	}
	// Nothing accepted was evicted: every one is still a replay.
	for _, key := range accepted {
		if ok, err := s.Claim(ctx, key, clock.Add(30*time.Second)); ok || err != nil {
			t.Fatalf("%s evicted (ok=%v err=%v)", key, ok, err)
		}
	}
	// Once the entries expire they are swept, not counted against the
	// cap: the same keys (which fitted together before) fit again.
	clock = clock.Add(31 * time.Second)
	for _, key := range accepted {
		if ok, err := s.Claim(ctx, key, clock.Add(30*time.Second)); !ok || err != nil {
			t.Fatalf("%s after expiry: %v, %v", key, ok, err)
		}
	}
}

func TestMemoryReplayStoreConcurrent(t *testing.T) {
	s := asymjwt.NewMemoryReplayStore()
	exp := time.Now().Add(time.Minute)
	const keys, workers = 200, 16
	var wins [keys]atomic.Int32
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range keys {
				ok, err := s.Claim(context.Background(), fmt.Sprint("key", k), exp)
				if err != nil {
					t.Error(err)
				}
				if ok {
					wins[k].Add(1)
				}
			}
		}()
	}
	wg.Wait()
	for k := range wins {
		if n := wins[k].Load(); n != 1 {
			t.Fatalf("key %d claimed %d times", k, n)
		}
	}
}

// fleetClock is one clock read by a store and the verifiers on it.
type fleetClock struct{ t time.Time }

func (c *fleetClock) now() time.Time { return c.t }

// edParty registers a fresh Ed25519 key for alice and returns a token maker.
func edParty(t testing.TB, keys *asymjwt.MemoryKeyStore) func(issued int64) string {
	t.Helper()
	p := newParty(t, keys, "alice", "ed25519")
	return func(issued int64) string {
		return forge(t, jwt.SigningMethodEdDSA, p.key, hdr("EdDSA", p.kid), claims("alice", issued, ""))
	}
}

// TestSharedMemoryStoreAcceptsOnceAcrossTolerances: verifiers with
// tolerances 1 s and 20 s on one store. Wherever in time the token is
// first presented, and in whichever order the two try it, stepping
// through every moment of both windows (and past them) it is accepted
// exactly once. With entries living the recording verifier's own window,
// the 1 s verifier's entry expired 2 s after the token's time and the
// 20 s verifier accepted the token again.
func TestSharedMemoryStoreAcceptsOnceAcrossTolerances(t *testing.T) {
	keys := asymjwt.NewMemoryKeyStore()
	token := edParty(t, keys)
	clock := &fleetClock{}
	store := asymjwt.NewMemoryReplayStore(asymjwt.WithClock(clock.now))
	short := newTestVerifier(t, keys, asymjwt.WithClock(clock.now), asymjwt.WithReplayStore(store), asymjwt.WithTolerance(time.Second))
	long := newTestVerifier(t, keys, asymjwt.WithClock(clock.now), asymjwt.WithReplayStore(store))
	assertAcceptedOnce(t, token, clock, []*asymjwt.Verifier{short, long}, time.Second)
}

// assertAcceptedOnce presents one token to every verifier at every step
// from start to past the longest window, for several starts and both
// orders, and requires exactly one acceptance in all.
func assertAcceptedOnce(t *testing.T, token func(int64) string, clock *fleetClock, vs []*asymjwt.Verifier, step time.Duration) {
	t.Helper()
	issued := time.Unix(now, 0)
	starts := []time.Duration{-21 * time.Second, -20 * time.Second, -5 * time.Second, -time.Second,
		0, 500 * time.Millisecond, time.Second, 1500 * time.Millisecond, 3 * time.Second, 19 * time.Second, 20 * time.Second}
	for _, start := range starts {
		for _, reverse := range []bool{false, true} {
			order := slices.Clone(vs)
			if reverse {
				slices.Reverse(order)
			}
			tok := token(now)
			accepted := 0
			var firstAt time.Duration
			for at := start; at <= 43*time.Second; at += step {
				clock.t = issued.Add(at)
				for i, v := range order {
					_, err := v.Verify(context.Background(), tok)
					switch {
					case err == nil:
						accepted++
						if accepted > 1 {
							t.Fatalf("start %v reverse %v: accepted again at %v by verifier %d (replay lifetime %v), first at %v",
								start, reverse, at, i, v.ReplayLifetime(), firstAt)
						}
						firstAt = at
					case !errors.Is(err, asymjwt.ErrReplay) && !errors.Is(err, asymjwt.ErrStale):
						t.Fatalf("start %v reverse %v at %v: %v", start, reverse, at, err)
					}
				}
			}
			if accepted != 1 {
				t.Fatalf("start %v reverse %v: accepted %d times; want once", start, reverse, accepted)
			}
		}
	}
}

func TestMemoryStoreLearnsLongestLifetime(t *testing.T) {
	keys := asymjwt.NewMemoryKeyStore()
	tests := []struct {
		name string
		opts [][]asymjwt.VerifierOption
		want time.Duration
	}{
		{"default: tolerance + skew (= tolerance) + 1 s", [][]asymjwt.VerifierOption{nil}, 41 * time.Second},
		{"short then long", [][]asymjwt.VerifierOption{{asymjwt.WithTolerance(time.Second)}, nil}, 41 * time.Second},
		{"long then short", [][]asymjwt.VerifierOption{nil, {asymjwt.WithTolerance(time.Second)}}, 41 * time.Second},
		{"explicit skew", [][]asymjwt.VerifierOption{{asymjwt.WithTolerance(5 * time.Second), asymjwt.WithMaxClockSkew(30 * time.Second)}}, 36 * time.Second},
		{"no skew", [][]asymjwt.VerifierOption{{asymjwt.WithMaxClockSkew(0)}}, 21 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := asymjwt.NewMemoryReplayStore()
			for _, opts := range tt.opts {
				newTestVerifier(t, keys, append([]asymjwt.VerifierOption{asymjwt.WithReplayStore(store)}, opts...)...)
			}
			if got := store.Retention(); got != tt.want {
				t.Fatalf("retention %v; want %v", got, tt.want)
			}
		})
	}
}

// TestLateLongerVerifier: a verifier with a longer window added to a store
// already in use. Live entries are extended; tokens whose entries may have
// expired under the shorter lifetime are refused rather than accepted a
// second time.
func TestLateLongerVerifier(t *testing.T) {
	keys := asymjwt.NewMemoryKeyStore()
	token := edParty(t, keys)
	clock := &fleetClock{t: time.Unix(now, 0)}
	store := asymjwt.NewMemoryReplayStore(asymjwt.WithClock(clock.now))
	short := newTestVerifier(t, keys, asymjwt.WithClock(clock.now), asymjwt.WithReplayStore(store), asymjwt.WithTolerance(time.Second))
	ctx := context.Background()
	old, recent := token(now), token(now+5)
	if _, err := short.Verify(ctx, old); err != nil {
		t.Fatal(err)
	}
	clock.t = time.Unix(now+5, 0) // old's entry (3 s) has expired
	if _, err := short.Verify(ctx, recent); err != nil {
		t.Fatal(err)
	}
	clock.t = time.Unix(now+6, 0)
	long := newTestVerifier(t, keys, asymjwt.WithClock(clock.now), asymjwt.WithReplayStore(store))
	clock.t = time.Unix(now+12, 0)
	for name, tok := range map[string]string{"live entry, extended": recent, "entry expired under the short lifetime": old, "unused but older than the old lifetime": token(now)} {
		if _, err := long.Verify(ctx, tok); !errors.Is(err, asymjwt.ErrReplay) {
			t.Errorf("%s: %v; want ErrReplay", name, err)
		}
	}
	if _, err := long.Verify(ctx, token(now+4)); err != nil {
		t.Errorf("token newer than the old lifetime: %v; want accepted", err)
	}
}

// fixedRetention is a RetainingReplayStore configured with a retention,
// as a store shared by processes is.
type fixedRetention struct {
	*asymjwt.MemoryReplayStore
	retention time.Duration
}

func (f fixedRetention) Retain(lifetime time.Duration) error {
	if lifetime > f.retention {
		return fmt.Errorf("keeps %v, needs %v", f.retention, lifetime)
	}
	return nil
}

func TestNewVerifierRefusesShortRetention(t *testing.T) {
	keys := asymjwt.NewMemoryKeyStore()
	store := fixedRetention{asymjwt.NewMemoryReplayStore(), 41 * time.Second}
	tests := []struct {
		name string
		opts []asymjwt.VerifierOption
		ok   bool
	}{
		{"defaults fit", nil, true},
		{"tolerance 30 s, skew 10 s fits", []asymjwt.VerifierOption{asymjwt.WithTolerance(30 * time.Second), asymjwt.WithMaxClockSkew(10 * time.Second)}, true},
		{"tolerance 30 s, default skew", []asymjwt.VerifierOption{asymjwt.WithTolerance(30 * time.Second)}, false},
		{"skew 21 s", []asymjwt.VerifierOption{asymjwt.WithMaxClockSkew(21 * time.Second)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := asymjwt.NewVerifier(keys, append([]asymjwt.VerifierOption{asymjwt.WithReplayStore(store)}, tt.opts...)...)
			if tt.ok != (err == nil) || !tt.ok && !errors.Is(err, asymjwt.ErrReplayRetention) {
				t.Fatalf("err = %v; want ok=%v, else ErrReplayRetention", err, tt.ok)
			}
		})
	}
}

// expiryRecorder is a plain ReplayStore: it keeps the expiry it is given.
type expiryRecorder struct{ expires time.Time }

func (r *expiryRecorder) Claim(_ context.Context, _ string, expires time.Time) (bool, error) {
	r.expires = expires
	return true, nil
}

func TestPlainStoreGetsLifetimeFromClaimedTime(t *testing.T) {
	keys := asymjwt.NewMemoryKeyStore()
	token := edParty(t, keys)
	clock := &fleetClock{t: time.Unix(now+3, 0)}
	tests := []struct {
		name string
		opts []asymjwt.VerifierOption
		want time.Duration
	}{
		{"defaults", nil, 41 * time.Second},
		{"tolerance 5 s, skew 3 s", []asymjwt.VerifierOption{asymjwt.WithTolerance(5 * time.Second), asymjwt.WithMaxClockSkew(3 * time.Second)}, 9 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &expiryRecorder{}
			v := newTestVerifier(t, keys, append([]asymjwt.VerifierOption{asymjwt.WithClock(clock.now), asymjwt.WithReplayStore(rec)}, tt.opts...)...)
			if _, err := v.Verify(context.Background(), token(now)); err != nil {
				t.Fatal(err)
			}
			if want := time.Unix(now, 0).Add(tt.want); !rec.expires.Equal(want) || v.ReplayLifetime() != tt.want {
				t.Fatalf("expires %v, lifetime %v; want %v, %v", rec.expires, v.ReplayLifetime(), want, tt.want)
			}
		})
	}
}

// TestLateLongerVerifierRacesSweep: a sweep that runs between the moment
// Retain reads the clock and its walk over the entries must not drop an
// entry the walk was about to extend: the token is then refused by the
// longer verifier, not accepted a second time. The store's clock plays
// the race: the call Retain makes runs claims (which sweep every shard)
// one second later before it answers.
func TestLateLongerVerifierRacesSweep(t *testing.T) {
	keys := asymjwt.NewMemoryKeyStore()
	token := edParty(t, keys)
	var (
		sec  int64 = now
		hook func()
	)
	storeClock := func() time.Time {
		if h := hook; h != nil {
			hook = nil
			h()
		}
		return time.Unix(sec, 0)
	}
	verifierClock := func() time.Time { return time.Unix(sec, 0) }
	store := asymjwt.NewMemoryReplayStore(asymjwt.WithClock(storeClock))
	short := newTestVerifier(t, keys, asymjwt.WithClock(verifierClock), asymjwt.WithReplayStore(store), asymjwt.WithTolerance(time.Second))
	ctx := context.Background()
	tok := token(now)
	if _, err := short.Verify(ctx, tok); err != nil { // its entry lives until now+3
		t.Fatal(err)
	}
	sec = now + 2
	hook = func() {
		saved := sec
		sec = now + 3         // the entry's last second has passed
		for i := range 4096 { // claims in every shard, each sweeping it
			if _, err := store.ClaimIssued(ctx, fmt.Sprintf("%032x", i), time.Unix(sec, 0)); err != nil {
				t.Fatal(err)
			}
		}
		sec = saved
	}
	long := newTestVerifier(t, keys, asymjwt.WithClock(verifierClock), asymjwt.WithReplayStore(store))
	if hook != nil {
		t.Fatal("Retain did not read the store's clock")
	}
	sec = now + 5
	if _, err := long.Verify(ctx, tok); !errors.Is(err, asymjwt.ErrReplay) {
		t.Fatalf("token used at the 1 s verifier, at the 20 s one 5 s later: %v; want ErrReplay", err)
	}
}
