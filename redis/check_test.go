package asymjwtredis_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	asymjwtredis "github.com/asymjwt/asymjwt/redis"
	"github.com/asymjwt/asymjwt/redis/redistest"
	"github.com/redis/go-redis/v9"
)

func TestCheck(t *testing.T) {
	// Managed services often disable CONFIG; Check then reads INFO.
	noConfig := []string{"--rename-command", "CONFIG", ""}
	single := func(args ...string) func(t *testing.T) redis.UniversalClient {
		return func(t *testing.T) redis.UniversalClient { return redistest.Start(t, args...).Client(t) }
	}
	cluster := func(args ...string) func(t *testing.T) redis.UniversalClient {
		return func(t *testing.T) redis.UniversalClient {
			srv := redistest.StartCluster(t, args...)
			c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{srv.Addr}})
			t.Cleanup(func() { _ = c.Close() })
			return c
		}
	}
	tests := []struct {
		name    string
		client  func(t *testing.T) redis.UniversalClient
		wantErr error // nil: Check passes
		policy  string
	}{
		{name: "noeviction", client: single("--maxmemory-policy", "noeviction")},
		{"allkeys-lru", single("--maxmemory-policy", "allkeys-lru"), asymjwtredis.ErrEvictionPolicy, "allkeys-lru"},
		{"volatile-ttl evicts keys with an expiry, as replay keys are", single("--maxmemory-policy", "volatile-ttl"),
			asymjwtredis.ErrEvictionPolicy, "volatile-ttl"},
		{"volatile-lru without maxmemory", single("--maxmemory-policy", "volatile-lru", "--maxmemory", "0"),
			asymjwtredis.ErrEvictionPolicy, "volatile-lru"},
		{name: "CONFIG disabled, noeviction read from INFO", client: single(append(noConfig, "--maxmemory-policy", "noeviction")...)},
		{"CONFIG disabled, allkeys-lfu read from INFO", single(append(noConfig, "--maxmemory-policy", "allkeys-lfu")...),
			asymjwtredis.ErrEvictionPolicy, "allkeys-lfu"},
		{
			name: "CONFIG and INFO not permitted",
			client: func(t *testing.T) redis.UniversalClient {
				srv := redistest.Start(t, "--maxmemory-policy", "allkeys-lru")
				err := srv.Client(t).ACLSetUser(context.Background(), "app", "on", ">pw", "~*", "+@all", "-config", "-info").Err()
				if err != nil {
					t.Fatal(err)
				}
				return srv.Client(t, func(o *redis.Options) { o.Username, o.Password = "app", "pw" })
			},
			wantErr: asymjwtredis.ErrPolicyUnchecked,
		},
		{
			name: "server down",
			client: func(t *testing.T) redis.UniversalClient {
				srv := redistest.Start(t)
				c := srv.Client(t, func(o *redis.Options) { o.DialerRetries, o.MaxRetries = 1, -1 })
				srv.Stop()
				return c
			},
			wantErr: asymjwtredis.ErrPolicyUnchecked,
		},
		{name: "cluster, noeviction", client: cluster()},
		{"cluster, allkeys-random", cluster("--maxmemory-policy", "allkeys-random"), asymjwtredis.ErrEvictionPolicy, "allkeys-random"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := newStore(t, tt.client(t)).Check(context.Background())
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Check = %v; want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Check = %v; want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), "127.0.0.1:") || !strings.Contains(err.Error(), tt.policy) {
				t.Fatalf("Check = %q; want the node's address and policy %q named", err, tt.policy)
			}
		})
	}
}

// TestCheckClock: the clock offset between instances cannot be enforced,
// only noticed: each instance compares its clock with Redis's, and one
// more than half the maximum skew away is reported.
func TestCheckClock(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv.Client(t))
	tests := []struct {
		name   string
		offset time.Duration
		skew   time.Duration
		want   error
	}{
		{"same clock", 0, 20 * time.Second, nil},
		{"5 s behind, skew 20 s", -5 * time.Second, 20 * time.Second, nil},
		{"15 s ahead, skew 20 s", 15 * time.Second, 20 * time.Second, asymjwtredis.ErrClockSkew},
		{"15 s behind, skew 20 s", -15 * time.Second, 20 * time.Second, asymjwtredis.ErrClockSkew},
		{"15 s ahead, skew 40 s", 15 * time.Second, 40 * time.Second, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			asymjwtredis.SetClock(s, func() time.Time { return time.Now().Add(tt.offset) })
			if err := s.CheckClock(context.Background(), tt.skew); !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("CheckClock = %v; want %v", err, tt.want)
			}
		})
	}
	srv.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := s.CheckClock(ctx, time.Minute); err == nil || errors.Is(err, asymjwtredis.ErrClockSkew) {
		t.Fatalf("CheckClock with Redis down = %v; want an error other than ErrClockSkew", err)
	}
}
