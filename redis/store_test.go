package asymjwtredis_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
	asymjwtredis "github.com/asymjwt/asymjwt/redis"
	"github.com/asymjwt/asymjwt/redis/redistest"
	"github.com/redis/go-redis/v9"
)

func TestNewRejectsBadArguments(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = c.Close() })
	tests := []struct {
		name   string
		client redis.UniversalClient
		opts   []asymjwtredis.Option
	}{
		{"nil client", nil, nil},
		{"negative timeout", c, []asymjwtredis.Option{asymjwtredis.WithTimeout(-time.Second)}},
		{"zero retention", c, []asymjwtredis.Option{asymjwtredis.WithRetention(0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := asymjwtredis.New(tt.client, tt.opts...)
			if err == nil || s != nil {
				t.Fatalf("New = %v, %v; want an error", s, err)
			}
		})
	}
}

// TestNewRefusesRing: a Ring moves a down shard's keys to the live shards,
// where claimed tokens have no entry, so it would accept replays.
func TestNewRefusesRing(t *testing.T) {
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1", "b": "127.0.0.1:2"}})
	t.Cleanup(func() { _ = ring.Close() })
	// An instrumented wrapper routes just the same.
	type wrapped struct{ *redis.Ring }
	for _, c := range []redis.UniversalClient{ring, wrapped{ring}} {
		s, err := asymjwtredis.New(c)
		if err == nil || s != nil {
			t.Fatalf("New(%T) = %v, %v; want an error", c, s, err)
		}
		if !strings.Contains(err.Error(), "Ring") || !strings.Contains(err.Error(), "Cluster") {
			t.Fatalf("New(%T) error %q; want it to name the Ring and the alternatives", c, err)
		}
	}
}

// TestClaimIsOneSetNX checks the exact command: one SET NX with a relative
// PX expiry (never PXAT/EXAT, which Redis would judge by its own clock),
// the time left by the store's clock rounded up, so that the entry expires
// at expires or a few milliseconds later, never earlier.
func TestClaimIsOneSetNX(t *testing.T) {
	srv := redistest.Start(t)
	admin := srv.Client(t)
	tests := []struct {
		name    string
		opts    []asymjwtredis.Option
		left    time.Duration // expires - now
		wantKey string
	}{
		{"an hour", nil, time.Hour, "asymjwt:replay:k1"},
		{"a whole second is still PX", nil, time.Second, "asymjwt:replay:k2"},
		{"below a millisecond", nil, 21*time.Second + 250*time.Millisecond + time.Nanosecond, "asymjwt:replay:k3"},
		{"custom prefix", []asymjwtredis.Option{asymjwtredis.WithPrefix("svc:")}, time.Minute, "svc:k4"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			c := srv.Client(t)
			if err := c.Ping(context.Background()).Err(); err != nil { // connect first
				t.Fatal(err)
			}
			c.AddHook(rec)
			s := newStore(t, c, tt.opts...)
			before := time.Now()
			expires := before.Add(tt.left)
			fresh, err := s.Claim(context.Background(), fmt.Sprintf("k%d", i+1), expires)
			after := time.Now()
			if err != nil || !fresh {
				t.Fatalf("Claim = %v, %v; want true, nil", fresh, err)
			}
			got := rec.commands()
			if len(got) != 1 || len(got[0]) != 6 {
				t.Fatalf("commands sent = %v; want exactly one SET <key> 1 px <ms> nx", got)
			}
			ms, _ := got[0][4].(int64)
			want := []any{"set", tt.wantKey, "1", "px", ms, "nx"}
			if !reflect.DeepEqual(got[0], want) {
				t.Fatalf("command sent = %v; want %v", got[0], want)
			}
			// The time left when the command was built, rounded up, plus
			// Redis's own truncation to the millisecond.
			lo, hi := ceilMS(expires.Sub(after))+1, ceilMS(expires.Sub(before))+1
			if ms < lo || ms > hi {
				t.Fatalf("px %d; want within [%d, %d]", ms, lo, hi)
			}
			assertExpiry(t, admin, tt.wantKey, expires)
		})
	}
}

func ceilMS(d time.Duration) int64 { return int64((d + time.Millisecond - 1) / time.Millisecond) }

// assertExpiry checks that key expires at expires or at most 50 ms later:
// never early, and not kept for long after.
func assertExpiry(t *testing.T, admin *redis.Client, key string, expires time.Time) {
	t.Helper()
	exp, err := admin.Do(context.Background(), "PEXPIRETIME", key).Int64()
	if err != nil {
		t.Fatalf("PEXPIRETIME %s: %v", key, err)
	}
	if got := time.UnixMilli(exp); got.Before(expires) || got.After(expires.Add(50*time.Millisecond)) {
		t.Fatalf("PEXPIRETIME %s = %v; want within [%v, +50 ms]", key, got, expires)
	}
}

// TestTTLMillis: the PX value rounds up, adds the millisecond Redis may
// lose truncating its own clock, and is never below 1.
func TestTTLMillis(t *testing.T) {
	tests := []struct {
		left time.Duration
		want int64
	}{
		{-time.Hour, 1},
		{0, 1},
		{time.Nanosecond, 2},
		{time.Millisecond, 2},
		{time.Millisecond + time.Nanosecond, 3},
		{21*time.Second + 250*time.Millisecond, 21251},
		{time.Hour, 3600001},
	}
	for _, tt := range tests {
		if got := asymjwtredis.TTLMillis(tt.left); got != tt.want {
			t.Errorf("TTLMillis(%v) = %d; want %d", tt.left, got, tt.want)
		}
	}
}

// TestClaimIgnoresRedisClock: when Redis's clock runs ahead of the
// verifier's by more than a token's remaining window, the entry must still
// be kept for that window. An absolute expiry would already be past for
// Redis, which then answers OK to every SET NX and stores nothing.
func TestClaimIgnoresRedisClock(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv.Client(t))
	const skew = 10 * time.Second // Redis ahead of the verifier
	verifierNow := func() time.Time { return time.Now().Add(-skew) }
	asymjwtredis.SetClock(s, verifierNow)
	ctx := context.Background()
	expires := verifierNow().Add(3 * time.Second) // time + tolerance + 1 s, as the verifier sees it
	for i, want := range []bool{true, false, false} {
		fresh, err := s.Claim(ctx, "k", expires)
		if err != nil || fresh != want {
			t.Fatalf("claim %d = %v, %v; want %v, nil (a replay accepted)", i+1, fresh, err, want)
		}
	}
	// Kept for the time left by the verifier's clock, whatever Redis's says.
	ttl, err := srv.Client(t).PTTL(ctx, asymjwtredis.DefaultPrefix+"k").Result()
	if err != nil || ttl <= 2*time.Second || ttl > 3*time.Second+50*time.Millisecond {
		t.Fatalf("PTTL = %v, %v; want about 3 s", ttl, err)
	}
}

func TestClaim(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv.Client(t))
	other := newStore(t, srv.Client(t), asymjwtredis.WithPrefix("other:"))
	ctx := context.Background()
	exp := time.Now().Add(time.Minute)
	steps := []struct {
		name  string
		store *asymjwtredis.Store
		key   string
		want  bool
	}{
		{"first claim", s, "a", true},
		{"same key again", s, "a", false},
		{"same key through another client", newStore(t, srv.Client(t)), "a", false},
		{"another key", s, "b", true},
		{"same key under another prefix", other, "a", true},
		{"that one again", other, "a", false},
	}
	for _, st := range steps {
		fresh, err := st.store.Claim(ctx, st.key, exp)
		if err != nil || fresh != st.want {
			t.Fatalf("%s: Claim(%q) = %v, %v; want %v, nil", st.name, st.key, fresh, err, st.want)
		}
	}
}

// TestClaimSendsNothing: a Claim that cannot be right fails before any
// command is sent.
func TestClaimSendsNothing(t *testing.T) {
	srv := redistest.Start(t)
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		expires time.Time
		wantErr error
	}{
		// A SET without expiry would keep the key forever.
		{"zero expiry", context.Background(), time.Time{}, nil},
		{"context already canceled", canceled, time.Now().Add(time.Minute), context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			c := srv.Client(t)
			c.AddHook(rec)
			fresh, err := newStore(t, c).Claim(tt.ctx, "k", tt.expires)
			if err == nil || fresh {
				t.Fatalf("Claim = %v, %v; want an error", fresh, err)
			}
			if tt.wantErr != nil && (!errors.Is(err, tt.wantErr) || !errors.Is(err, asymjwt.ErrStoreUnavailable)) {
				t.Fatalf("Claim error %v; want %v and ErrStoreUnavailable", err, tt.wantErr)
			}
			if cmds := rec.commands(); len(cmds) != 0 {
				t.Fatalf("sent %v; want nothing", cmds)
			}
		})
	}
}

// TestClaimRefusesPastExpiry: an entry that would already be expired
// cannot guard its token, so it is refused, and nothing is sent.
func TestClaimRefusesPastExpiry(t *testing.T) {
	srv := redistest.Start(t)
	rec := &recorder{}
	c := srv.Client(t)
	c.AddHook(rec)
	fresh, err := newStore(t, c).Claim(context.Background(), "k", time.Now().Add(-time.Second))
	if fresh || err != nil {
		t.Fatalf("Claim = %v, %v; want false, nil", fresh, err)
	}
	if cmds := rec.commands(); len(cmds) != 0 {
		t.Fatalf("sent %v; want nothing", cmds)
	}
}

// replyRewriter makes every status reply read as reply, for a server or
// proxy that answers SET with something other than OK or nil.
type replyRewriter string

func (replyRewriter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r replyRewriter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if sc, ok := cmd.(*redis.StatusCmd); ok && err == nil {
			sc.SetVal(string(r))
		}
		return err
	}
}

func (replyRewriter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestClaimFailsClosed: every way Redis can fail gives an error wrapping
// ErrStoreUnavailable and never true, within the deadline.
func TestClaimFailsClosed(t *testing.T) {
	exp := time.Now().Add(time.Minute)
	// pause makes the server hold every write for longer than any test
	// deadline and longer than go-redis's default 3 s read timeout.
	pause := func(t *testing.T, srv *redistest.Server) {
		if err := srv.Client(t).Do(context.Background(), "CLIENT", "PAUSE", 5000, "WRITE").Err(); err != nil {
			t.Fatal(err)
		}
	}
	withTimeout := func(d time.Duration) context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		t.Cleanup(cancel)
		return ctx
	}
	tests := []struct {
		name string
		// setup returns the store and the context to claim with.
		setup func(t *testing.T) (*asymjwtredis.Store, context.Context)
		// wantErr, if set, must also be in the chain.
		wantErr error
	}{
		{
			name: "server stopped",
			setup: func(t *testing.T) (*asymjwtredis.Store, context.Context) {
				srv := redistest.Start(t)
				s := newStore(t, srv.Client(t))
				srv.Stop()
				return s, context.Background()
			},
		},
		{
			name: "server out of memory",
			setup: func(t *testing.T) (*asymjwtredis.Store, context.Context) {
				srv := redistest.Start(t, "--maxmemory", "1", "--maxmemory-policy", "noeviction")
				return newStore(t, srv.Client(t)), context.Background()
			},
		},
		{
			name: "SET not permitted",
			setup: func(t *testing.T) (*asymjwtredis.Store, context.Context) {
				srv := redistest.Start(t)
				err := srv.Client(t).ACLSetUser(context.Background(), "noset", "on", ">pw", "~*", "+@all", "-set").Err()
				if err != nil {
					t.Fatal(err)
				}
				c := srv.Client(t, func(o *redis.Options) { o.Username, o.Password = "noset", "pw" })
				return newStore(t, c), context.Background()
			},
		},
		{
			name: "read-only replica",
			setup: func(t *testing.T) (*asymjwtredis.Store, context.Context) {
				srv := redistest.Start(t)
				// A master that never answers: the server stays a read-only replica.
				if err := srv.Client(t).Do(context.Background(), "REPLICAOF", "127.0.0.1", "1").Err(); err != nil {
					t.Fatal(err)
				}
				return newStore(t, srv.Client(t)), context.Background()
			},
		},
		{
			name: "reply neither OK nor nil",
			setup: func(t *testing.T) (*asymjwtredis.Store, context.Context) {
				c := redistest.Start(t).Client(t)
				c.AddHook(replyRewriter("QUEUED"))
				return newStore(t, c), context.Background()
			},
		},
		{
			name: "context deadline, client ignores contexts",
			setup: func(t *testing.T) (*asymjwtredis.Store, context.Context) {
				srv := redistest.Start(t)
				s := newStore(t, srv.Client(t), asymjwtredis.WithTimeout(0))
				pause(t, srv)
				return s, withTimeout(100 * time.Millisecond)
			},
			wantErr: context.DeadlineExceeded,
		},
		{
			name: "context deadline, client honours contexts",
			setup: func(t *testing.T) (*asymjwtredis.Store, context.Context) {
				srv := redistest.Start(t)
				c := srv.Client(t, func(o *redis.Options) { o.ContextTimeoutEnabled = true })
				s := newStore(t, c, asymjwtredis.WithTimeout(0))
				pause(t, srv)
				return s, withTimeout(100 * time.Millisecond)
			},
			wantErr: context.DeadlineExceeded,
		},
		{
			name: "per-call timeout",
			setup: func(t *testing.T) (*asymjwtredis.Store, context.Context) {
				srv := redistest.Start(t)
				s := newStore(t, srv.Client(t), asymjwtredis.WithTimeout(100*time.Millisecond))
				pause(t, srv)
				return s, context.Background()
			},
			wantErr: context.DeadlineExceeded,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, ctx := tt.setup(t)
			start := time.Now()
			fresh, err := s.Claim(ctx, "k", exp)
			elapsed := time.Since(start)
			if fresh || !errors.Is(err, asymjwt.ErrStoreUnavailable) {
				t.Fatalf("Claim = %v, %v; want false and ErrStoreUnavailable", fresh, err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("Claim error %v; want %v in the chain", err, tt.wantErr)
			}
			if elapsed > 2*time.Second {
				t.Fatalf("Claim took %v; the deadline was not honoured", elapsed)
			}
		})
	}
}

// TestStoppedServerReportsCause: with Redis down and go-redis's default
// retries, a claim runs out of time; the error must say why (the dial's
// "connection refused"), not only "context deadline exceeded".
func TestStoppedServerReportsCause(t *testing.T) {
	for _, ctxAware := range []bool{false, true} {
		t.Run(fmt.Sprint("ContextTimeoutEnabled=", ctxAware), func(t *testing.T) {
			t.Parallel()
			srv := redistest.Start(t)
			c := srv.Client(t, func(o *redis.Options) { o.ContextTimeoutEnabled = ctxAware })
			if err := c.Ping(context.Background()).Err(); err != nil {
				t.Fatal(err)
			}
			keys := asymjwt.NewMemoryKeyStore()
			signer := newSigner(t, keys, "billing")
			v := newVerifier(t, keys, newStore(t, c, asymjwtredis.WithTimeout(500*time.Millisecond)))
			srv.Stop()
			_, err := v.Verify(context.Background(), newToken(t, signer))
			if !errors.Is(err, asymjwt.ErrStoreUnavailable) || !strings.Contains(err.Error(), "connection refused") {
				t.Fatalf("err = %v; want ErrStoreUnavailable naming the cause, connection refused", err)
			}
		})
	}
}
