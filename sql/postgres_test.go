package asymjwtsql_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
	asymjwtsql "github.com/asymjwt/asymjwt/sql"
	"github.com/asymjwt/asymjwt/sql/pgtest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// listeners is how many sessions LISTEN on the store's channel.
func listeners(t *testing.T, db *sql.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM pg_stat_activity WHERE query = 'LISTEN asymjwt_keys' AND datname = current_database()`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPostgres runs the PostgreSQL-only cases on one server, a database
// each.
func TestPostgres(t *testing.T) {
	pg := pgtest.Start(t)
	t.Run("Notify", func(t *testing.T) { testNotify(t, migrated(t, pg.NewDatabase(t))) })
	t.Run("ListenerKilled", func(t *testing.T) { testListenerKilled(t, migrated(t, pg.NewDatabase(t))) })
	t.Run("100kUsers", func(t *testing.T) { test100kUsers(t, migrated(t, pg.NewDatabase(t))) })
}

// With the periodic reload an hour away, changes arrive by NOTIFY alone.
func testNotify(t *testing.T, url string) {
	db := open(t, url)
	ctx := context.Background()
	store := newStore(t, url, asymjwtsql.WithReloadInterval(time.Hour))
	k := newKey(t)
	if _, err := asymjwtsql.AddKey(ctx, db, "alice", k.text, ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, bound, "key added, seen by NOTIFY", func() bool { return has(store, "alice", k.kid) })
	if _, err := asymjwtsql.RemoveKey(ctx, db, "alice", k.kid); err != nil {
		t.Fatal(err)
	}
	eventually(t, bound, "key removed, seen by NOTIFY", func() bool { return refuses(store, "alice", k.kid) })
}

// Notifications lost (the LISTEN connection killed, and kept away): the
// periodic reload still converges.
func testListenerKilled(t *testing.T, url string) {
	db := open(t, url)
	ctx := context.Background()
	var reported errorLog
	store := newStore(t, url, asymjwtsql.WithReloadInterval(300*time.Millisecond),
		asymjwtsql.WithListenRetry(time.Hour), asymjwtsql.WithErrorHandler(reported.add))
	if n := listeners(t, db); n != 1 {
		t.Fatalf("%d listening sessions, want 1", n)
	}
	if _, err := db.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = 'LISTEN asymjwt_keys' AND datname = current_database()`); err != nil {
		t.Fatal(err)
	}
	eventually(t, bound, "listener gone", func() bool { return listeners(t, db) == 0 })
	eventually(t, bound, "lost listener reported", func() bool { return len(reported.all()) > 0 })
	k := newKey(t)
	if _, err := asymjwtsql.AddKey(ctx, db, "alice", k.text, ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, bound, "key added, seen by the periodic reload", func() bool { return has(store, "alice", k.kid) })
	if _, err := asymjwtsql.RemoveKey(ctx, db, "alice", k.kid); err != nil {
		t.Fatal(err)
	}
	eventually(t, bound, "key removed, seen by the periodic reload", func() bool { return refuses(store, "alice", k.kid) })
}

// The database stops: the last keys keep serving up to the max
// staleness, then lookups fail as a store error (503), never as unknown;
// a store cannot start; the database back, the store recovers.
func TestPostgresDatabaseStopped(t *testing.T) {
	pg := pgtest.Start(t)
	url := migrated(t, pg.NewDatabase(t))
	db := open(t, url)
	ctx := context.Background()
	k := newKey(t)
	if _, err := asymjwtsql.AddKey(ctx, db, "alice", k.text, ""); err != nil {
		t.Fatal(err)
	}
	const maxStale = time.Second
	store := newStore(t, url, asymjwtsql.WithReloadInterval(100*time.Millisecond), asymjwtsql.WithMaxStaleness(maxStale))
	v, err := asymjwt.NewVerifier(store, asymjwt.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := asymjwt.NewSigner("alice", k.signer)
	if err != nil {
		t.Fatal(err)
	}
	verify := func() error {
		tok, err := signer.Token()
		if err != nil {
			t.Fatal(err)
		}
		_, err = v.Verify(ctx, tok)
		return err
	}
	loaded, _ := store.Loaded()
	pg.Stop()
	if err := verify(); err != nil {
		t.Fatalf("just after the database stopped: %v", err)
	}
	if s, err := asymjwtsql.New(ctx, open(t, url), asymjwtsql.WithLogger(quiet)); err == nil {
		s.Close()
		t.Fatal("New with the database down succeeded")
	}
	eventually(t, 10*maxStale, "refused once stale", func() bool { return verify() != nil })
	if since := time.Since(loaded); since < maxStale {
		t.Fatalf("refused %v after the last load, before the max staleness %v", since, maxStale)
	}
	if err := verify(); !errors.Is(err, asymjwt.ErrStoreUnavailable) {
		t.Fatalf("stale: %v, want ErrStoreUnavailable", err)
	}
	if _, err := store.Keys(ctx, "nobody", ""); errors.Is(err, asymjwt.ErrUnknownUser) {
		t.Fatal("a stale store answers unknown user (a chain would ask the next store)")
	}
	pg.Restart()
	eventually(t, bound, "served again after restart", func() bool { return verify() == nil })
	// And it follows changes again, NOTIFY included.
	k2 := newKey(t)
	if _, err := asymjwtsql.AddKey(ctx, db, "bob", k2.text, ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, bound, "key added after restart", func() bool { return has(store, "bob", k2.kid) })
}

// bulkUsers inserts n users with a key each (from a pool of 1,000 keys,
// since parsing, not generating, is what loading costs).
func bulkUsers(t testing.TB, db *sql.DB, n int) []testKey {
	t.Helper()
	pool := make([]testKey, 1000)
	for i := range pool {
		pool[i] = newKey(t)
	}
	now := time.Now()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		_, err := pc.CopyFrom(context.Background(), pgx.Identifier{"asymjwt_keys"},
			[]string{"username", "kid", "public_key", "label", "created_at"},
			pgx.CopyFromSlice(n, func(i int) ([]any, error) {
				k := pool[i%len(pool)]
				return []any{fmt.Sprintf("user%06d", i), k.kid, k.text, "", now}, nil
			}))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return pool
}

func test100kUsers(t *testing.T, url string) {
	if testing.Short() {
		t.Skip("loads 100,000 users")
	}
	n := 100_000
	if raceEnabled {
		n = 10_000 // the same code paths, in seconds rather than a minute
	}
	pool := bulkUsers(t, open(t, url), n)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	store := newStore(t, url, asymjwtsql.WithReloadInterval(time.Hour))
	took := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)
	if users, _ := store.Users(); users != n {
		t.Fatalf("%d users loaded, want %d", users, n)
	}
	last := fmt.Sprintf("user%06d", n-1)
	if !has(store, last, pool[(n-1)%len(pool)].kid) || !refuses(store, last, pool[0].kid) {
		t.Fatal("lookups wrong after a bulk load")
	}
	start = time.Now()
	if err := store.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Logf("loaded %d users in %v, heap +%.1f MiB; a full reload (rows unchanged) took %v",
		n, took, float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), time.Since(start))
}
