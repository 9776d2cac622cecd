package asymjwtredis_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
	asymjwtredis "github.com/asymjwt/asymjwt/redis"
	"github.com/asymjwt/asymjwt/redis/redistest"
	"github.com/redis/rueidis"
)

func rueidisClient(t testing.TB, srv *redistest.Server, configure ...func(*rueidis.ClientOption)) rueidis.Client {
	t.Helper()
	o := rueidis.ClientOption{InitAddress: []string{srv.Addr}, DisableCache: true}
	for _, f := range configure {
		f(&o)
	}
	c, err := rueidis.NewClient(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestNewRueidisStoreRejectsBadArguments(t *testing.T) {
	srv := redistest.Start(t)
	if _, err := asymjwtredis.NewRueidisStore(nil); err == nil {
		t.Error("NewRueidisStore(nil) = nil error")
	}
	if _, err := asymjwtredis.NewRueidisStore(rueidisClient(t, srv), asymjwtredis.WithTimeout(-time.Second)); err == nil {
		t.Error("negative timeout: nil error")
	}
}

// TestRueidisClaim: one SET NX PX per claim (commandstats), with the
// expiry rounded up; first claim true, every later one false, through any
// client; prefixes apart.
func TestRueidisClaim(t *testing.T) {
	srv := redistest.Start(t)
	admin := srv.Client(t)
	s := newRueidisStoreOf(t, rueidisClient(t, srv))
	other := newRueidisStoreOf(t, rueidisClient(t, srv), asymjwtredis.WithPrefix("other:"))
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
		{"same key through another client", newRueidisStoreOf(t, rueidisClient(t, srv)), "a", false},
		{"another key", s, "b", true},
		{"same key under another prefix", other, "a", true},
		{"that one again", other, "a", false},
	}
	for _, st := range steps {
		before := commandCalls(t, admin)
		fresh, err := st.store.Claim(ctx, st.key, exp)
		if err != nil || fresh != st.want {
			t.Fatalf("%s: Claim(%q) = %v, %v; want %v, nil", st.name, st.key, fresh, err, st.want)
		}
		calls := callsSince(before, commandCalls(t, admin))
		delete(calls, "info") // commandCalls's own
		for name := range calls {
			// rueidis may open a connection (HELLO, CLIENT ...) as it goes.
			if name == "hello" || strings.HasPrefix(name, "client") {
				delete(calls, name)
			}
		}
		if len(calls) != 1 || calls["set"] != 1 {
			t.Fatalf("%s: commands run %v; want one SET", st.name, calls)
		}
	}
	assertExpiry(t, admin, "asymjwt:replay:b", exp)
	assertExpiry(t, admin, "other:a", exp)
	if ttl, err := admin.PTTL(ctx, "asymjwt:replay:a").Result(); err != nil || ttl <= 0 {
		t.Fatalf("PTTL = %v, %v; want an expiry", ttl, err)
	}
}

// TestRueidisClaimSendsNothing: no expiry, an expiry already past and a
// context already done are answered without a command.
func TestRueidisClaimSendsNothing(t *testing.T) {
	srv := redistest.Start(t)
	admin := srv.Client(t)
	s := newRueidisStoreOf(t, rueidisClient(t, srv))
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name        string
		ctx         context.Context
		expires     time.Time
		wantErr     bool
		unavailable bool
	}{
		{"zero expiry", context.Background(), time.Time{}, true, false},
		{"expiry past", context.Background(), time.Now().Add(-time.Second), false, false},
		{"context already canceled", canceled, time.Now().Add(time.Minute), true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := commandCalls(t, admin)
			fresh, err := s.Claim(tt.ctx, "k", tt.expires)
			if fresh || (err != nil) != tt.wantErr || errors.Is(err, asymjwt.ErrStoreUnavailable) != tt.unavailable {
				t.Fatalf("Claim = %v, %v; want false, error %v (unavailable %v)", fresh, err, tt.wantErr, tt.unavailable)
			}
			if n := callsSince(before, commandCalls(t, admin))["set"]; n != 0 {
				t.Fatalf("%d SET sent; want none", n)
			}
		})
	}
}

// TestRueidisClaimFailsClosed: every way Redis can fail gives an error
// wrapping ErrStoreUnavailable and never true, within the timeout.
func TestRueidisClaimFailsClosed(t *testing.T) {
	exp := time.Now().Add(time.Minute)
	tests := []struct {
		name  string
		store func(t *testing.T) *asymjwtredis.Store
	}{
		{"server stopped", func(t *testing.T) *asymjwtredis.Store {
			srv := redistest.Start(t)
			s := newRueidisStoreOf(t, rueidisClient(t, srv), asymjwtredis.WithTimeout(200*time.Millisecond))
			srv.Stop()
			return s
		}},
		{"server out of memory", func(t *testing.T) *asymjwtredis.Store {
			srv := redistest.Start(t, "--maxmemory", "1", "--maxmemory-policy", "noeviction")
			return newRueidisStoreOf(t, rueidisClient(t, srv))
		}},
		{"SET not permitted", func(t *testing.T) *asymjwtredis.Store {
			srv := redistest.Start(t)
			err := srv.Client(t).ACLSetUser(context.Background(), "noset", "on", ">pw", "~*", "+@all", "-set").Err()
			if err != nil {
				t.Fatal(err)
			}
			return newRueidisStoreOf(t, rueidisClient(t, srv, func(o *rueidis.ClientOption) { o.Username, o.Password = "noset", "pw" }))
		}},
		{"read-only replica", func(t *testing.T) *asymjwtredis.Store {
			srv := redistest.Start(t)
			if err := srv.Client(t).Do(context.Background(), "REPLICAOF", "127.0.0.1", "1").Err(); err != nil {
				t.Fatal(err)
			}
			return newRueidisStoreOf(t, rueidisClient(t, srv))
		}},
		{"server stalls past the timeout", func(t *testing.T) *asymjwtredis.Store {
			srv := redistest.Start(t)
			s := newRueidisStoreOf(t, rueidisClient(t, srv), asymjwtredis.WithTimeout(100*time.Millisecond))
			if err := srv.Client(t).Do(context.Background(), "CLIENT", "PAUSE", 5000, "WRITE").Err(); err != nil {
				t.Fatal(err)
			}
			return s
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.store(t)
			start := time.Now()
			fresh, err := s.Claim(context.Background(), "k", exp)
			if fresh || !errors.Is(err, asymjwt.ErrStoreUnavailable) {
				t.Fatalf("Claim = %v, %v; want false, ErrStoreUnavailable", fresh, err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("Claim took %v; want it bounded by the timeout", d)
			}
		})
	}
}

// TestRueidisCheck: the same findings as Store.Check, through rueidis.
func TestRueidisCheck(t *testing.T) {
	noConfig := []string{"--rename-command", "CONFIG", ""}
	single := func(args ...string) func(t *testing.T) rueidis.Client {
		return func(t *testing.T) rueidis.Client { return rueidisClient(t, redistest.Start(t, args...)) }
	}
	tests := []struct {
		name    string
		client  func(t *testing.T) rueidis.Client
		wantErr error // nil: Check passes
	}{
		{"noeviction", single("--maxmemory-policy", "noeviction"), nil},
		{"allkeys-lru", single("--maxmemory-policy", "allkeys-lru"), asymjwtredis.ErrEvictionPolicy},
		{"CONFIG disabled, noeviction read from INFO", single(append(noConfig, "--maxmemory-policy", "noeviction")...), nil},
		{"CONFIG disabled, volatile-ttl read from INFO", single(append(noConfig, "--maxmemory-policy", "volatile-ttl")...), asymjwtredis.ErrEvictionPolicy},
		{"CONFIG and INFO not permitted", func(t *testing.T) rueidis.Client {
			srv := redistest.Start(t, "--maxmemory-policy", "allkeys-lru")
			err := srv.Client(t).ACLSetUser(context.Background(), "app", "on", ">pw", "~*", "+@all", "-config", "-info").Err()
			if err != nil {
				t.Fatal(err)
			}
			return rueidisClient(t, srv, func(o *rueidis.ClientOption) { o.Username, o.Password = "app", "pw" })
		}, asymjwtredis.ErrPolicyUnchecked},
		{"server down", func(t *testing.T) rueidis.Client {
			srv := redistest.Start(t)
			c := rueidisClient(t, srv)
			srv.Stop()
			return c
		}, asymjwtredis.ErrPolicyUnchecked},
		{"cluster, every master checked", func(t *testing.T) rueidis.Client {
			cl := redistest.StartClusterOf(t, 3, "--maxmemory-policy", "noeviction")
			if err := cl.Masters[2].Client(t).ConfigSet(context.Background(), "maxmemory-policy", "allkeys-random").Err(); err != nil {
				t.Fatal(err)
			}
			c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: cl.Addrs()[:1], DisableCache: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.Close)
			return c
		}, asymjwtredis.ErrEvictionPolicy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := asymjwtredis.NewRueidisStore(tt.client(t))
			if err != nil {
				t.Fatal(err)
			}
			err = s.Check(context.Background())
			if (tt.wantErr == nil) != (err == nil) || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
				t.Fatalf("Check = %v; want %v", err, tt.wantErr)
			}
		})
	}
}
