package asymjwtredis_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
	asymjwtredis "github.com/asymjwt/asymjwt/redis"
	"github.com/asymjwt/asymjwt/redis/internal/redistest"
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

// TestClaimIsOneSetNX checks the exact command: one SET NX with the
// absolute expiry, rounded up to Redis's millisecond, never down.
func TestClaimIsOneSetNX(t *testing.T) {
	srv := redistest.Start(t)
	admin := srv.Client(t)
	base := time.Now().Add(time.Hour).Truncate(time.Second)
	tests := []struct {
		name    string
		opts    []asymjwtredis.Option
		expires time.Time
		want    []any
		wantMS  int64 // PEXPIRETIME afterwards
	}{
		{
			name:    "whole second as EXAT",
			expires: base,
			want:    []any{"set", "asymjwt:replay:k1", "1", "exat", base.Unix(), "NX"},
			wantMS:  base.UnixMilli(),
		},
		{
			name:    "milliseconds as PXAT",
			expires: base.Add(250 * time.Millisecond),
			want:    []any{"set", "asymjwt:replay:k2", "1", "pxat", base.UnixMilli() + 250, "NX"},
			wantMS:  base.UnixMilli() + 250,
		},
		{
			name:    "below a millisecond rounds up",
			expires: base.Add(250*time.Millisecond + time.Nanosecond),
			want:    []any{"set", "asymjwt:replay:k3", "1", "pxat", base.UnixMilli() + 251, "NX"},
			wantMS:  base.UnixMilli() + 251,
		},
		{
			name:    "below a millisecond past a whole second rounds up",
			expires: base.Add(time.Microsecond),
			want:    []any{"set", "asymjwt:replay:k4", "1", "pxat", base.UnixMilli() + 1, "NX"},
			wantMS:  base.UnixMilli() + 1,
		},
		{
			name:    "custom prefix",
			opts:    []asymjwtredis.Option{asymjwtredis.WithPrefix("svc:")},
			expires: base,
			want:    []any{"set", "svc:k5", "1", "exat", base.Unix(), "NX"},
			wantMS:  base.UnixMilli(),
		},
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
			fresh, err := s.Claim(context.Background(), fmt.Sprintf("k%d", i+1), tt.expires)
			if err != nil || !fresh {
				t.Fatalf("Claim = %v, %v; want true, nil", fresh, err)
			}
			if got := rec.commands(); len(got) != 1 || !reflect.DeepEqual(got[0], tt.want) {
				t.Fatalf("commands sent = %v; want exactly [%v]", got, tt.want)
			}
			key := tt.want[1].(string)
			exp, err := admin.Do(context.Background(), "PEXPIRETIME", key).Int64()
			if err != nil || exp != tt.wantMS {
				t.Fatalf("PEXPIRETIME %s = %d, %v; want %d", key, exp, err, tt.wantMS)
			}
		})
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
