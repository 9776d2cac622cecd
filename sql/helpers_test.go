package asymjwtsql_test

import (
	"context"
	"crypto"
	"crypto/x509"
	"database/sql"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
	asymjwtsql "github.com/asymjwt/asymjwt/sql"
	"github.com/asymjwt/asymjwt/sql/pgtest"
)

var quiet = slog.New(slog.DiscardHandler)

// backend is a database kind the scenarios run against.
type backend struct {
	name string
	// newDB returns the URL of a new, migrated, empty database.
	newDB func(t *testing.T) string
}

// backends starts one PostgreSQL server for the calling test and returns
// both kinds.
func backends(t *testing.T) []backend {
	pg := pgtest.Start(t)
	return []backend{
		{"postgres", func(t *testing.T) string {
			return migrated(t, pg.NewDatabase(t))
		}},
		{"sqlite", func(t *testing.T) string {
			return migrated(t, "sqlite:"+filepath.Join(t.TempDir(), "keys.db"))
		}},
	}
}

// open opens url for the test.
func open(t testing.TB, url string) *sql.DB {
	t.Helper()
	db, err := asymjwtsql.Open(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func migrated(t *testing.T, url string) string {
	t.Helper()
	if _, err := asymjwtsql.Migrate(context.Background(), open(t, url)); err != nil {
		t.Fatal(err)
	}
	return url
}

// newStore returns a Store on url, closed when the test ends, with a
// short reload interval.
func newStore(t testing.TB, url string, opts ...asymjwtsql.Option) *asymjwtsql.Store {
	t.Helper()
	opts = append([]asymjwtsql.Option{asymjwtsql.WithLogger(quiet), asymjwtsql.WithReloadInterval(100 * time.Millisecond)}, opts...)
	s, err := asymjwtsql.New(context.Background(), open(t, url), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// testKey is a new Ed25519 key with its OpenSSH text and kid.
type testKey struct {
	signer crypto.Signer
	text   string
	kid    string
}

func newKey(t testing.TB) testKey {
	t.Helper()
	k, err := asymjwt.GenerateKey(asymjwt.KindEd25519)
	if err != nil {
		t.Fatal(err)
	}
	text, err := asymjwt.MarshalPublicKeyOpenSSH(k.Public(), "test key")
	if err != nil {
		t.Fatal(err)
	}
	kid, err := asymjwt.Fingerprint(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return testKey{k, string(text), kid}
}

// eventually waits up to limit for cond, failing with what.
func eventually(t testing.TB, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

// has reports whether store accepts username's key kid.
func has(store asymjwt.KeyStore, username, kid string) bool {
	keys, err := store.Keys(context.Background(), username, kid)
	return err == nil && len(keys) == 1
}

// refuses reports whether store refuses username's key kid as unknown.
func refuses(store asymjwt.KeyStore, username, kid string) bool {
	_, err := store.Keys(context.Background(), username, kid)
	return errors.Is(err, asymjwt.ErrUnknownUser) || errors.Is(err, asymjwt.ErrUnknownKey)
}

// errorLog collects what a store reports.
type errorLog struct {
	mu   sync.Mutex
	errs []error
}

func (l *errorLog) add(err error) {
	l.mu.Lock()
	l.errs = append(l.errs, err)
	l.mu.Unlock()
}

func (l *errorLog) all() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]error(nil), l.errs...)
}

func marshalPKIX(t testing.TB, pub crypto.PublicKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func jsonEncode(w io.Writer, v any) error { return json.NewEncoder(w).Encode(v) }

// countWrites makes db count the rows whose last_used_at is written, in
// asymjwt_test_writes, through a trigger.
func countWrites(t testing.TB, db *sql.DB, url string) {
	t.Helper()
	stmts := []string{`CREATE TABLE asymjwt_test_writes (username TEXT, kid TEXT)`}
	if strings.HasPrefix(url, "sqlite:") {
		stmts = append(stmts, `CREATE TRIGGER asymjwt_test_count AFTER UPDATE OF last_used_at ON asymjwt_keys
			BEGIN INSERT INTO asymjwt_test_writes VALUES (NEW.username, NEW.kid); END`)
	} else {
		stmts = append(stmts, `CREATE FUNCTION asymjwt_test_count() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN INSERT INTO asymjwt_test_writes VALUES (NEW.username, NEW.kid); RETURN NULL; END $$`,
			`CREATE TRIGGER asymjwt_test_count AFTER UPDATE OF last_used_at ON asymjwt_keys
			FOR EACH ROW EXECUTE FUNCTION asymjwt_test_count()`)
	}
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
}

// writes is how many last_used_at writes countWrites counted.
func writes(t testing.TB, db *sql.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM asymjwt_test_writes`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
