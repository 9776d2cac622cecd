package asymjwtredis_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
	asymjwtredis "github.com/asymjwt/asymjwt/redis"
	"github.com/asymjwt/asymjwt/redis/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
)

// clusterStores are the two ways to reach a Redis Cluster: go-redis's
// ClusterClient under New, and rueidis (which finds the cluster from its
// seed addresses) under NewRueidisStore. Each call makes a new client: one
// service instance.
var clusterStores = []struct {
	name  string
	store func(t *testing.T, c *redistest.Cluster, opts ...asymjwtredis.Option) asymjwt.ReplayStore
}{
	{"go-redis", func(t *testing.T, c *redistest.Cluster, opts ...asymjwtredis.Option) asymjwt.ReplayStore {
		return newStore(t, c.Client(t, func(o *redis.ClusterOptions) { o.ContextTimeoutEnabled = true }), opts...)
	}},
	{"rueidis", func(t *testing.T, c *redistest.Cluster, opts ...asymjwtredis.Option) asymjwt.ReplayStore {
		return newRueidisStore(t, rueidis.ClientOption{InitAddress: c.Addrs()}, opts...)
	}},
}

func newRueidisStore(t testing.TB, o rueidis.ClientOption, opts ...asymjwtredis.Option) *asymjwtredis.Store {
	t.Helper()
	o.DisableCache = true
	c, err := rueidis.NewClient(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return newRueidisStoreOf(t, c, opts...)
}

func newRueidisStoreOf(t testing.TB, c rueidis.Client, opts ...asymjwtredis.Option) *asymjwtredis.Store {
	t.Helper()
	s, err := asymjwtredis.NewRueidisStore(c, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestClusterExactlyOnce submits every token to two instances at once,
// each with its own client of a 3-master cluster: exactly one accepts it,
// the other refuses it as a replay; and the replay entries land on every
// master, in many slots.
func TestClusterExactlyOnce(t *testing.T) {
	cluster := redistest.StartClusterOf(t, 3)
	keys := asymjwt.NewMemoryKeyStore()
	signer := newSigner(t, keys, "billing")
	ctx := context.Background()
	const tokens = 150
	for _, cs := range clusterStores {
		t.Run(cs.name, func(t *testing.T) {
			prefix := "cluster-" + cs.name + ":"
			a := newVerifier(t, keys, cs.store(t, cluster, asymjwtredis.WithPrefix(prefix)))
			b := newVerifier(t, keys, cs.store(t, cluster, asymjwtredis.WithPrefix(prefix)))
			for range tokens {
				tok := newToken(t, signer)
				var wg sync.WaitGroup
				errs := make([]error, 2)
				for i, v := range []*asymjwt.Verifier{a, b} {
					wg.Go(func() { _, errs[i] = v.Verify(ctx, tok) })
				}
				wg.Wait()
				accepted := 0
				for _, err := range errs {
					switch {
					case err == nil:
						accepted++
					case !errors.Is(err, asymjwt.ErrReplay):
						t.Fatalf("refused other than as a replay: %v", err)
					}
				}
				if accepted != 1 {
					t.Fatalf("token accepted %d times across two instances, want 1 (%v)", accepted, errs)
				}
			}
			slots := map[int64]bool{}
			for i, m := range cluster.Masters {
				mc := m.Client(t)
				ks, err := mc.Keys(ctx, prefix+"*").Result()
				if err != nil {
					t.Fatal(err)
				}
				if len(ks) == 0 {
					t.Errorf("master %d (%s) holds no replay entry: keys not spread over the cluster", i, m.Addr)
				}
				for _, k := range ks {
					slot, err := mc.ClusterKeySlot(ctx, k).Result()
					if err != nil {
						t.Fatal(err)
					}
					if owner := cluster.Owner(int(slot)); owner != i {
						t.Errorf("key %q of slot %d on master %d, owned by %d", k, slot, i, owner)
					}
					slots[slot] = true
				}
			}
			// 150 random keys over 16,384 slots: nearly all distinct.
			if len(slots) < tokens*9/10 {
				t.Errorf("replay entries in %d slots, want ≥ %d", len(slots), tokens*9/10)
			}
		})
	}
}

// TestClusterMasterDown stops one master of three (no replica can take
// its slots): every claim of a key in its slots fails closed with
// ErrStoreUnavailable, the other masters keep accepting theirs, each once;
// through the middleware, a token whose entry belongs to the stopped
// master gets 503 and no token is ever accepted twice. (go-redis makes
// each such claim wait for the store's timeout, retrying its dial;
// rueidis fails at once. The timeout is short here to keep the test so.)
func TestClusterMasterDown(t *testing.T) {
	cluster := redistest.StartClusterOf(t, 3)
	keys := asymjwt.NewMemoryKeyStore()
	signer := newSigner(t, keys, "billing")
	ctx := context.Background()
	live := cluster.Masters[0].Client(t)
	// The instances run before the master stops, as in production: their
	// clients know the cluster's slots.
	type instance struct {
		name   string
		prefix string
		store  asymjwt.ReplayStore
		v      *asymjwt.Verifier
	}
	var instances []instance
	for _, cs := range clusterStores {
		in := instance{name: cs.name, prefix: "down-" + cs.name + ":"}
		in.store = cs.store(t, cluster, asymjwtredis.WithPrefix(in.prefix), asymjwtredis.WithTimeout(100*time.Millisecond))
		in.v = newVerifier(t, keys, cs.store(t, cluster, asymjwtredis.WithTimeout(100*time.Millisecond)))
		if _, err := in.v.Verify(ctx, newToken(t, signer)); err != nil {
			t.Fatal(err)
		}
		for i := range 10 {
			if _, err := in.store.Claim(ctx, "warm"+strconv.Itoa(i), time.Now().Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		instances = append(instances, in)
	}
	down := 1
	cluster.Masters[down].Stop()
	for _, in := range instances {
		t.Run(in.name, func(t *testing.T) {
			refused, accepted := 0, 0
			// Fixed keys, so fixed slots; the check after the loop makes sure
			// some are on the stopped master and some are not.
			for i := range 15 {
				key := strconv.Itoa(i)
				slot, err := live.ClusterKeySlot(ctx, in.prefix+key).Result()
				if err != nil {
					t.Fatal(err)
				}
				onDown := cluster.Owner(int(slot)) == down
				for attempt := range 2 {
					fresh, err := in.store.Claim(ctx, key, time.Now().Add(time.Minute))
					switch {
					case onDown && (fresh || !errors.Is(err, asymjwt.ErrStoreUnavailable)):
						t.Fatalf("key of slot %d (stopped master), claim %d = %v, %v; want ErrStoreUnavailable", slot, attempt, fresh, err)
					case !onDown && err != nil:
						t.Fatalf("key of slot %d (live master), claim %d: %v", slot, attempt, err)
					case !onDown && fresh != (attempt == 0):
						t.Fatalf("key of slot %d (live master), claim %d = %v; want %v", slot, attempt, fresh, attempt == 0)
					}
				}
				if onDown {
					refused++
				} else {
					accepted++
				}
			}
			if refused == 0 || accepted == 0 {
				t.Fatalf("%d keys on the stopped master, %d on live ones: the test needs both", refused, accepted)
			}

			h := in.v.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			status := func(tok string) int {
				req := httptest.NewRequest(http.MethodGet, "/", nil)
				req.Header.Set("Authorization", signer.AuthorizationValue(tok))
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				return rec.Code
			}
			counts := map[int]int{}
			for range 30 {
				tok := newToken(t, signer)
				first := status(tok)
				counts[first]++
				switch first {
				case http.StatusOK:
					if again := status(tok); again != http.StatusUnauthorized {
						t.Fatalf("accepted token replayed: %d, want 401", again)
					}
				case http.StatusServiceUnavailable:
					if again := status(tok); again != http.StatusServiceUnavailable {
						t.Fatalf("token refused with 503, then %d; want 503 while the master is down", again)
					}
				default:
					t.Fatalf("status %d, want 200 or 503", first)
				}
			}
			if counts[http.StatusOK] == 0 || counts[http.StatusServiceUnavailable] == 0 {
				t.Fatalf("statuses %v: want both 200 (live masters) and 503 (stopped master)", counts)
			}
		})
	}
}
