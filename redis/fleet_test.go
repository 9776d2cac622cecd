package asymjwtredis_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
	asymjwtredis "github.com/asymjwt/asymjwt/redis"
	"github.com/asymjwt/asymjwt/redis/redistest"
	"github.com/redis/go-redis/v9"
)

// timeMachine is a fake true time for verifiers and stores, and makes
// Redis's entries age with it: advancing it shortens every key's TTL by
// the same amount (deleting those that run out), as real time would.
type timeMachine struct {
	t     *testing.T
	now   time.Time
	admin *redis.Client
}

func (m *timeMachine) clock(offset time.Duration) func() time.Time {
	return func() time.Time { return m.now.Add(offset) }
}

func (m *timeMachine) set(at time.Time) {
	m.t.Helper()
	d := at.Sub(m.now)
	m.now = at
	if d <= 0 {
		return
	}
	ctx := context.Background()
	keys, err := m.admin.Keys(ctx, asymjwtredis.DefaultPrefix+"*").Result()
	if err != nil {
		m.t.Fatal(err)
	}
	for _, k := range keys {
		ttl, err := m.admin.PTTL(ctx, k).Result()
		switch {
		case err != nil:
			m.t.Fatal(err)
		case ttl < 0: // gone meanwhile, or no expiry (the store never writes one)
			continue
		case ttl <= d:
			err = m.admin.Del(ctx, k).Err()
		default:
			err = m.admin.PExpire(ctx, k, ttl-d).Err()
		}
		if err != nil {
			m.t.Fatal(err)
		}
	}
}

// fleetMember is one instance: a verifier and its store, on its clock.
func fleetMember(t *testing.T, srv *redistest.Server, keys asymjwt.KeyStore, clock func() time.Time, opts ...asymjwt.VerifierOption) *asymjwt.Verifier {
	t.Helper()
	s := newStore(t, srv.Client(t))
	asymjwtredis.SetClock(s, clock)
	return newVerifier(t, keys, s, append([]asymjwt.VerifierOption{asymjwt.WithClock(clock)}, opts...)...)
}

// assertAcceptedOnce presents one token (claimed at issued) to every
// verifier at every second from start to past every window, for several
// starts and both orders: exactly one acceptance in all.
func assertAcceptedOnce(t *testing.T, m *timeMachine, signer *asymjwt.Signer, issued time.Time, vs []*asymjwt.Verifier, from, to time.Duration) {
	t.Helper()
	ctx := context.Background()
	for _, start := range []time.Duration{from, from + 500*time.Millisecond, -time.Second, 0, time.Second, 1500 * time.Millisecond, 3 * time.Second, 11 * time.Second, 19 * time.Second} {
		for _, reverse := range []bool{false, true} {
			if err := m.admin.FlushAll(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			m.now = issued.Add(start)
			order := slices.Clone(vs)
			if reverse {
				slices.Reverse(order)
			}
			tok := newToken(t, signer)
			accepted := 0
			var firstAt time.Duration
			for at := start; at <= to; at += time.Second {
				m.set(issued.Add(at))
				for i, v := range order {
					_, err := v.Verify(ctx, tok)
					switch {
					case err == nil:
						accepted++
						if accepted > 1 {
							t.Fatalf("start %v reverse %v: accepted again at %v by verifier %d, first at %v", start, reverse, at, i, firstAt)
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

// TestFleetDifferentTolerances: instances with tolerances 1 s and 20 s on
// one Redis (two proxies with different --tolerance, say). Entries living
// the recording verifier's window let the 20 s instance accept, about 3 s
// later, a token the 1 s instance had accepted.
func TestFleetDifferentTolerances(t *testing.T) {
	srv := redistest.Start(t)
	keys := asymjwt.NewMemoryKeyStore()
	issued := time.Unix(1_700_000_000, 0)
	signer := newSigner(t, keys, "billing", asymjwt.WithClock(func() time.Time { return issued }))
	m := &timeMachine{t: t, now: issued, admin: srv.Client(t)}
	short := fleetMember(t, srv, keys, m.clock(0), asymjwt.WithTolerance(time.Second))
	long := fleetMember(t, srv, keys, m.clock(0))
	assertAcceptedOnce(t, m, signer, issued, []*asymjwt.Verifier{short, long}, -21*time.Second, 43*time.Second)
}

// TestFleetClocksApart: two instances whose clocks are 10 s apart, inside
// the default bound (maximum clock skew = tolerance = 20 s). With entries
// living token time + tolerance + 1 s by the recording instance's clock,
// the one running ahead recorded entries that expired while the one
// running behind still accepted the token.
func TestFleetClocksApart(t *testing.T) {
	srv := redistest.Start(t)
	keys := asymjwt.NewMemoryKeyStore()
	issued := time.Unix(1_700_000_000, 0)
	signer := newSigner(t, keys, "billing", asymjwt.WithClock(func() time.Time { return issued }))
	m := &timeMachine{t: t, now: issued, admin: srv.Client(t)}
	behind := fleetMember(t, srv, keys, m.clock(0))
	ahead := fleetMember(t, srv, keys, m.clock(10*time.Second))
	assertAcceptedOnce(t, m, signer, issued, []*asymjwt.Verifier{behind, ahead}, -31*time.Second, 43*time.Second)
}

// TestFleetRetentionEnforced: a verifier whose replay lifetime (tolerance
// + maximum clock skew + 1 s) exceeds the store's retention is refused at
// construction; the message says what to configure.
func TestFleetRetentionEnforced(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never contacted
	t.Cleanup(func() { _ = c.Close() })
	keys := asymjwt.NewMemoryKeyStore()
	tests := []struct {
		name  string
		store []asymjwtredis.Option
		opts  []asymjwt.VerifierOption
		ok    bool
	}{
		{"defaults", nil, nil, true},
		{"tolerance 1 s", nil, []asymjwt.VerifierOption{asymjwt.WithTolerance(time.Second)}, true},
		{"tolerance 30 s", nil, []asymjwt.VerifierOption{asymjwt.WithTolerance(30 * time.Second)}, false},
		{"tolerance 30 s, skew 10 s", nil, []asymjwt.VerifierOption{asymjwt.WithTolerance(30 * time.Second), asymjwt.WithMaxClockSkew(10 * time.Second)}, true},
		{"skew 30 s", nil, []asymjwt.VerifierOption{asymjwt.WithMaxClockSkew(30 * time.Second)}, false},
		{"tolerance 30 s, retention 61 s", []asymjwtredis.Option{asymjwtredis.WithRetention(61 * time.Second)}, []asymjwt.VerifierOption{asymjwt.WithTolerance(30 * time.Second)}, true},
		{"retention below the default lifetime", []asymjwtredis.Option{asymjwtredis.WithRetention(40 * time.Second)}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t, c, tt.store...)
			_, err := asymjwt.NewVerifier(keys, append([]asymjwt.VerifierOption{asymjwt.WithReplayStore(s), asymjwt.WithLogger(discardLogger)}, tt.opts...)...)
			if tt.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, asymjwt.ErrReplayRetention) || !strings.Contains(err.Error(), "WithRetention(") {
				t.Fatalf("err = %v; want ErrReplayRetention naming WithRetention", err)
			}
		})
	}
}
