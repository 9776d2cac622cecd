package asymjwtredis_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"testing"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
	asymjwtredis "github.com/asymjwt/asymjwt/redis"
	"github.com/asymjwt/asymjwt/redis/redistest"
	"github.com/redis/go-redis/v9"
)

// instance is one replica of a service: its own verifier, store and
// connection pool, sharing only the Redis server with the others.
func instance(t testing.TB, keys asymjwt.KeyStore, c redis.UniversalClient, opts ...asymjwt.VerifierOption) *asymjwt.Verifier {
	t.Helper()
	return newVerifier(t, keys, newStore(t, c), opts...)
}

func TestInstancesShareReplayState(t *testing.T) {
	srv := redistest.Start(t)
	keys := asymjwt.NewMemoryKeyStore()
	signer := newSigner(t, keys, "billing", asymjwt.WithAudience("orders"))
	a := instance(t, keys, srv.Client(t), asymjwt.WithAudience("orders"))
	b := instance(t, keys, srv.Client(t), asymjwt.WithAudience("orders"))
	ctx := context.Background()
	tests := []struct {
		name    string
		first   *asymjwt.Verifier
		replays []*asymjwt.Verifier
	}{
		{"accepted by A", a, []*asymjwt.Verifier{b, a}},
		{"accepted by B", b, []*asymjwt.Verifier{a, b}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := newToken(t, signer)
			if _, err := tt.first.Verify(ctx, tok); err != nil {
				t.Fatalf("first use refused: %v", err)
			}
			for i, v := range tt.replays {
				if id, err := v.Verify(ctx, tok); !errors.Is(err, asymjwt.ErrReplay) {
					t.Fatalf("replay %d = %v, %v; want ErrReplay", i, id, err)
				}
			}
		})
	}
}

// TestConcurrentSubmissions sends one token 200 times at once, spread over
// two instances: exactly one submission may succeed, in every round.
func TestConcurrentSubmissions(t *testing.T) {
	srv := redistest.Start(t)
	keys := asymjwt.NewMemoryKeyStore()
	signer := newSigner(t, keys, "billing")
	instances := []*asymjwt.Verifier{
		instance(t, keys, srv.Client(t, func(o *redis.Options) { o.PoolSize = 50 })),
		instance(t, keys, srv.Client(t, func(o *redis.Options) { o.PoolSize = 50 })),
	}
	const submissions = 200
	for round := range 5 {
		tok := newToken(t, signer)
		var (
			start   = make(chan struct{})
			wg      sync.WaitGroup
			mu      sync.Mutex
			ok      int
			replays int
			other   []error
		)
		for i := range submissions {
			wg.Go(func() {
				<-start
				_, err := instances[i%2].Verify(context.Background(), tok)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
				case errors.Is(err, asymjwt.ErrReplay):
					replays++
				default:
					other = append(other, err)
				}
			})
		}
		close(start)
		wg.Wait()
		if ok != 1 || replays != submissions-1 || len(other) != 0 {
			t.Fatalf("round %d: %d accepted, %d replays, other errors %v; want 1, %d, none",
				round, ok, replays, other, submissions-1)
		}
	}
}

// TestOutage stops Redis mid-test: every request is refused with
// ErrStoreUnavailable (503) while it is down, fresh tokens are accepted
// again once it is back, and no token is ever accepted twice.
func TestOutage(t *testing.T) {
	srv := redistest.Start(t)
	keys := asymjwt.NewMemoryKeyStore()
	signer := newSigner(t, keys, "billing")
	client := func() *redis.Client {
		return srv.Client(t, func(o *redis.Options) {
			// Fail fast while Redis is down, as the README advises.
			o.DialTimeout = 200 * time.Millisecond
			o.DialerRetries = 1
			o.MaxRetries = 1
		})
	}
	instances := []*asymjwt.Verifier{instance(t, keys, client()), instance(t, keys, client())}
	ctx := context.Background()
	accepted := map[string]int{}
	submit := func(tok string) error {
		var firstErr error
		for _, v := range instances {
			_, err := v.Verify(ctx, tok)
			if err == nil {
				accepted[tok]++
			} else if firstErr == nil {
				firstErr = err
			}
		}
		return firstErr
	}

	before := newToken(t, signer)
	if err := submit(before); !errors.Is(err, asymjwt.ErrReplay) || accepted[before] != 1 {
		t.Fatalf("before the outage: accepted %d times, then %v; want once, then ErrReplay", accepted[before], err)
	}

	srv.StopAndSave()
	during := newToken(t, signer)
	for _, tok := range []string{before, during} {
		for i, v := range instances {
			id, err := v.Verify(ctx, tok)
			if !errors.Is(err, asymjwt.ErrStoreUnavailable) || asymjwt.StatusCode(err) != http.StatusServiceUnavailable {
				t.Fatalf("instance %d during the outage: %v, %v; want ErrStoreUnavailable (503)", i, id, err)
			}
		}
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Authorization", signer.AuthorizationValue(newToken(t, signer)))
	instances[0].Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		t.Error("handler reached during the outage")
	})).ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("middleware during the outage answered %d; want 503", rec.Code)
	}

	srv.Restart()
	// The token refused during the outage was never recorded: it is
	// accepted now, once. The one used before is still recorded.
	if err := submit(during); !errors.Is(err, asymjwt.ErrReplay) {
		t.Fatalf("token refused during the outage, after the restart: %v; want accepted once, then ErrReplay", err)
	}
	if err := submit(before); !errors.Is(err, asymjwt.ErrReplay) {
		t.Fatalf("token used before the outage, after the restart: %v; want ErrReplay", err)
	}
	after := newToken(t, signer)
	if err := submit(after); !errors.Is(err, asymjwt.ErrReplay) {
		t.Fatalf("fresh token after the restart: %v; want accepted once, then ErrReplay", err)
	}
	want := map[string]int{before: 1, during: 1, after: 1}
	if !reflect.DeepEqual(accepted, want) {
		t.Fatalf("acceptances per token = %v; want each exactly once", accepted)
	}
}

// TestEntriesExpireAtRetentionEnd: a token's key lives until its claimed
// time + the store's retention (docs/PROTOCOL.md §1.6), computed from the token's
// time, and is gone after.
func TestEntriesExpireAtRetentionEnd(t *testing.T) {
	srv := redistest.Start(t)
	admin := srv.Client(t)
	keys := asymjwt.NewMemoryKeyStore()
	signer := newSigner(t, keys, "billing")
	const retention = 3 * time.Second
	var key string
	c := srv.Client(t)
	c.AddHook(&keyCatcher{key: &key})
	// Lifetime 1 s + 1 s + 1 s: exactly the retention.
	v := newVerifier(t, keys, newStore(t, c, asymjwtredis.WithRetention(retention)),
		asymjwt.WithTolerance(time.Second), asymjwt.WithMaxClockSkew(time.Second))
	ctx := context.Background()
	id, err := v.Verify(ctx, newToken(t, signer))
	if err != nil {
		t.Fatal(err)
	}
	wantExpiry := id.Time.Add(retention)

	// The store sends the time left as PX, so Redis's expiry lands a few
	// milliseconds after token time + retention, never before.
	assertExpiry(t, admin, key, wantExpiry)
	ttl, err := admin.PTTL(ctx, key).Result()
	if err != nil || ttl <= 0 || ttl > retention {
		t.Fatalf("PTTL %s = %v, %v; want within (0, %v]", key, ttl, err, retention)
	}
	time.Sleep(time.Until(wantExpiry) + 50*time.Millisecond)
	if n, err := admin.Exists(ctx, key).Result(); err != nil || n != 0 {
		t.Fatalf("EXISTS %s after its retention = %d, %v; want 0", key, n, err)
	}
}

// keyCatcher records the key of the client's SET.
type keyCatcher struct{ key *string }

func (keyCatcher) DialHook(next redis.DialHook) redis.DialHook { return next }

func (k keyCatcher) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "set" {
			*k.key = cmd.Args()[1].(string)
		}
		return next(ctx, cmd)
	}
}

func (keyCatcher) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestOneCommandPerVerification counts what the server executed (INFO
// commandstats): one SET per verification that reaches the replay check,
// accepted or replayed, and nothing at all for tokens refused before it,
// so unauthenticated traffic never touches Redis.
func TestOneCommandPerVerification(t *testing.T) {
	srv := redistest.Start(t)
	admin := srv.Client(t)
	keys := asymjwt.NewMemoryKeyStore()
	signer := newSigner(t, keys, "billing")
	c := srv.Client(t)
	ctx := context.Background()
	if err := c.Ping(ctx).Err(); err != nil { // open the connection outside the count
		t.Fatal(err)
	}
	v := instance(t, keys, c, asymjwt.WithAudience("orders"))

	stranger := newSigner(t, asymjwt.NewMemoryKeyStore(), "billing") // key not registered
	wrongAud := newSigner(t, keys, "billing", asymjwt.WithAudience("payroll"))
	used := newToken(t, signer)
	if _, err := v.Verify(ctx, used); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		token    string
		wantErr  error
		wantSets int
	}{
		{"accepted", newToken(t, signer), nil, 1},
		{"replayed", used, asymjwt.ErrReplay, 1},
		{"malformed", "not.a.token", asymjwt.ErrMalformed, 0},
		{"unknown key", newToken(t, stranger), asymjwt.ErrUnknownKey, 0},
		{"wrong audience", newToken(t, wrongAud), asymjwt.ErrAudience, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := commandCalls(t, admin)
			_, err := v.Verify(ctx, tt.token)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("Verify = %v; want %v", err, tt.wantErr)
			}
			got := callsSince(before, commandCalls(t, admin))
			// The INFO of the first snapshot is counted once it has run.
			want := map[string]int{"info": 1}
			if tt.wantSets > 0 {
				want["set"] = tt.wantSets
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("server executed %v; want %v", got, want)
			}
		})
	}
}

// TestCluster runs the store on a *redis.ClusterClient.
func TestCluster(t *testing.T) {
	srv := redistest.StartCluster(t)
	keys := asymjwt.NewMemoryKeyStore()
	signer := newSigner(t, keys, "billing")
	newCluster := func() *redis.ClusterClient {
		c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{srv.Addr}})
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	a, b := instance(t, keys, newCluster()), instance(t, keys, newCluster())
	ctx := context.Background()
	for range 20 { // keys land in many slots
		tok := newToken(t, signer)
		if _, err := a.Verify(ctx, tok); err != nil {
			t.Fatalf("first use refused: %v", err)
		}
		if _, err := b.Verify(ctx, tok); !errors.Is(err, asymjwt.ErrReplay) {
			t.Fatalf("replay on the other instance: %v; want ErrReplay", err)
		}
	}
}
