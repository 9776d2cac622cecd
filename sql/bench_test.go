package asymjwtsql_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
	asymjwtsql "github.com/asymjwt/asymjwt/sql"
	"github.com/asymjwt/asymjwt/sql/pgtest"
)

// benchDBs returns a migrated database URL of each kind.
func benchDBs(b *testing.B) map[string]string {
	pg := pgtest.Start(b)
	return map[string]string{
		"postgres": migratedTB(b, pg.NewDatabase(b)),
		"sqlite":   migratedTB(b, "sqlite:"+filepath.Join(b.TempDir(), "keys.db")),
	}
}

func migratedTB(tb testing.TB, url string) string {
	tb.Helper()
	if _, err := asymjwtsql.Migrate(context.Background(), open(tb, url)); err != nil {
		tb.Fatal(err)
	}
	return url
}

// BenchmarkVerify is full verification (Ed25519, no aud/qsh/bh) with the
// key in a MemoryKeyStore and in a Store on each database, in one run so
// that the ratios hold on a shared machine.
func BenchmarkVerify(b *testing.B) {
	k := newKey(b)
	signer, err := asymjwt.NewSigner("alice", k.signer)
	if err != nil {
		b.Fatal(err)
	}
	mem := asymjwt.NewMemoryKeyStore()
	if _, err := mem.Add("alice", k.signer.Public()); err != nil {
		b.Fatal(err)
	}
	stores := []struct {
		name  string
		store asymjwt.KeyStore
	}{{"memory", mem}}
	dbs := benchDBs(b)
	for _, name := range []string{"postgres", "sqlite"} {
		if _, err := asymjwtsql.AddKey(context.Background(), open(b, dbs[name]), "alice", k.text, ""); err != nil {
			b.Fatal(err)
		}
		stores = append(stores, struct {
			name  string
			store asymjwt.KeyStore
		}{name, newStore(b, dbs[name])})
	}
	for _, s := range stores {
		b.Run(s.name, func(b *testing.B) {
			v, err := asymjwt.NewVerifier(s.store, asymjwt.WithLogger(quiet))
			if err != nil {
				b.Fatal(err)
			}
			tokens := make([]string, b.N)
			for i := range tokens {
				if tokens[i], err = signer.Token(); err != nil {
					b.Fatal(err)
				}
			}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if _, err := v.Verify(ctx, tokens[i]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLoad100k is a Store's start with 100,000 users (a key each),
// and the heap it then holds.
func BenchmarkLoad100k(b *testing.B) {
	const n = 100_000
	dbs := benchDBs(b)
	bulkUsers(b, open(b, dbs["postgres"]), n)
	copyUsers(b, dbs["postgres"], dbs["sqlite"])
	for _, name := range []string{"postgres", "sqlite"} {
		b.Run(name, func(b *testing.B) {
			db := open(b, dbs[name])
			var heap float64
			for range b.N {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				s, err := asymjwtsql.New(context.Background(), db, asymjwtsql.WithLogger(quiet), asymjwtsql.WithReloadInterval(time.Hour))
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				runtime.GC()
				runtime.ReadMemStats(&after)
				heap = float64(after.HeapAlloc-before.HeapAlloc) / (1 << 20)
				if users, _ := s.Users(); users != n {
					b.Fatalf("%d users", users)
				}
				s.Close()
				b.StartTimer()
			}
			b.ReportMetric(heap, "heap-MiB")
		})
	}
}

// copyUsers copies the key rows of one database into another.
func copyUsers(tb testing.TB, from, to string) {
	tb.Helper()
	src, dst := open(tb, from), open(tb, to)
	rows, err := src.Query(`SELECT username, kid, public_key FROM asymjwt_keys`)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	tx, err := dst.Begin()
	if err != nil {
		tb.Fatal(err)
	}
	stmt, err := tx.Prepare(`INSERT INTO asymjwt_keys (username, kid, public_key, label, created_at) VALUES (?1, ?2, ?3, '', ?4)`)
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Now().UTC().Format("2006-01-02 15:04:05.000000Z")
	for rows.Next() {
		var u, kid, text string
		if err := rows.Scan(&u, &kid, &text); err != nil {
			tb.Fatal(err)
		}
		if _, err := stmt.Exec(u, kid, text, now); err != nil {
			tb.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkRevocationDelay measures, with default settings, how long
// after RemoveKey commits a store refuses the key (polling every 0.5 ms;
// removed at a random moment up to 1 s after the key was seen):
// one revocation per iteration; run it with -benchtime=Nx. Reported:
// p50 and max in milliseconds.
func BenchmarkRevocationDelay(b *testing.B) {
	dbs := benchDBs(b)
	for _, name := range []string{"postgres", "sqlite"} {
		b.Run(name, func(b *testing.B) {
			url := dbs[name]
			db := open(b, url)
			s, err := asymjwtsql.New(context.Background(), open(b, url), asymjwtsql.WithLogger(quiet))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			delays := make([]time.Duration, 0, b.N)
			for i := range b.N {
				delays = append(delays, revokeOnce(b, db, s, fmt.Sprintf("user%d", i)))
			}
			slices.Sort(delays)
			b.ReportMetric(float64(delays[len(delays)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(delays[len(delays)-1].Microseconds())/1000, "max-ms")
		})
	}
}

func revokeOnce(b *testing.B, db *sql.DB, s *asymjwtsql.Store, user string) time.Duration {
	b.StopTimer()
	defer b.StartTimer()
	ctx := context.Background()
	k := newKey(b)
	if _, err := asymjwtsql.AddKey(ctx, db, user, k.text, ""); err != nil {
		b.Fatal(err)
	}
	eventually(b, time.Minute, "added", func() bool { return has(s, user, k.kid) })
	// At a random moment of the poll cycle, not right after the poll
	// that saw the key.
	time.Sleep(rand.N(time.Second))
	if _, err := asymjwtsql.RemoveKey(ctx, db, user, k.kid); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	for !refuses(s, user, k.kid) {
		if time.Since(start) > time.Minute {
			b.Fatal("not refused within a minute")
		}
		time.Sleep(500 * time.Microsecond)
	}
	return time.Since(start)
}

// BenchmarkLookup is what the store adds to a verification: the key
// lookup, and for the Store the in-memory record of the use.
func BenchmarkLookup(b *testing.B) {
	k := newKey(b)
	mem := asymjwt.NewMemoryKeyStore()
	if _, err := mem.Add("alice", k.signer.Public()); err != nil {
		b.Fatal(err)
	}
	url := migratedTB(b, "sqlite:"+filepath.Join(b.TempDir(), "keys.db"))
	if _, err := asymjwtsql.AddKey(context.Background(), open(b, url), "alice", k.text, ""); err != nil {
		b.Fatal(err)
	}
	store := newStore(b, url)
	ctx := context.Background()
	b.Run("memory", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, _, err := mem.KeysWithIDs(ctx, "alice", k.kid); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("sql", func(b *testing.B) {
		now := time.Now()
		b.ReportAllocs()
		for range b.N {
			if _, _, err := store.KeysWithIDs(ctx, "alice", k.kid); err != nil {
				b.Fatal(err)
			}
			store.KeyUsed("alice", k.kid, now)
		}
	})
}
