package asymjwtsql_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
	asymjwtsql "github.com/asymjwt/asymjwt/sql"
)

// bound is how long the tests give a change to reach every store: far
// above the measured delays (BENCHMARKS.md), for a loaded machine.
const bound = 5 * time.Second

func TestStore(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			t.Run("AddOnAAcceptedOnB", func(t *testing.T) { testAddRemove(t, b.newDB(t)) })
			t.Run("Verify", func(t *testing.T) { testVerify(t, b.newDB(t)) })
			t.Run("BadRows", func(t *testing.T) { testBadRows(t, b.newDB(t)) })
			t.Run("LastUsedBatched", func(t *testing.T) { testLastUsed(t, b.newDB(t)) })
			t.Run("JWKSTrust", func(t *testing.T) { testJWKS(t, b.newDB(t)) })
			t.Run("Revoke", func(t *testing.T) { testRevoke(t, b.newDB(t)) })
		})
	}
}

// A key added through one instance's database is accepted by another
// instance; removed, it is refused by every instance.
func testAddRemove(t *testing.T, url string) {
	a, b := newStore(t, url), newStore(t, url)
	db := open(t, url)
	ctx := context.Background()
	k := newKey(t)
	if !refuses(a, "alice", k.kid) || !refuses(b, "alice", k.kid) {
		t.Fatal("a key nobody added is accepted")
	}
	if _, err := asymjwtsql.AddKey(ctx, db, "alice", k.text, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := asymjwtsql.AddKey(ctx, db, "alice", k.text, ""); !errors.Is(err, asymjwtsql.ErrExists) {
		t.Errorf("adding it twice: %v", err)
	}
	eventually(t, bound, "added key accepted on A", func() bool { return has(a, "alice", k.kid) })
	eventually(t, bound, "added key accepted on B", func() bool { return has(b, "alice", k.kid) })
	if !refuses(b, "bob", k.kid) {
		t.Fatal("alice's key authenticates bob")
	}
	if ok, err := asymjwtsql.RemoveKey(ctx, db, "alice", k.kid); !ok || err != nil {
		t.Fatalf("RemoveKey: %v %v", ok, err)
	}
	eventually(t, bound, "removed key refused on A", func() bool { return refuses(a, "alice", k.kid) })
	eventually(t, bound, "removed key refused on B", func() bool { return refuses(b, "alice", k.kid) })
	if ok, err := asymjwtsql.RemoveKey(ctx, db, "alice", k.kid); ok || err != nil {
		t.Fatalf("RemoveKey of a removed key: %v %v", ok, err)
	}
}

// End to end: a token signed by a key in the database verifies, and its
// use reaches last_used_at.
func testVerify(t *testing.T, url string) {
	db := open(t, url)
	ctx := context.Background()
	k := newKey(t)
	if _, err := asymjwtsql.AddKey(ctx, db, "alice", k.text, "laptop"); err != nil {
		t.Fatal(err)
	}
	store := newStore(t, url)
	v, err := asymjwt.NewVerifier(store, asymjwt.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := asymjwt.NewSigner("alice", k.signer)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := signer.Token()
	if err != nil {
		t.Fatal(err)
	}
	id, err := v.Verify(ctx, tok)
	if err != nil || id.Username != "alice" || id.KeyID != k.kid {
		t.Fatalf("Verify: %+v %v", id, err)
	}
	mallory, err := asymjwt.NewSigner("mallory", k.signer)
	if err != nil {
		t.Fatal(err)
	}
	tok, _ = mallory.Token()
	if _, err := v.Verify(ctx, tok); !errors.Is(err, asymjwt.ErrUnknownUser) {
		t.Fatalf("mallory: %v", err)
	}
	if err := store.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	keys, err := asymjwtsql.ListKeys(ctx, db, "alice")
	if err != nil || len(keys) != 1 {
		t.Fatalf("ListKeys: %v %v", keys, err)
	}
	if got := keys[0]; got.Label != "laptop" || got.LastUsed.IsZero() || got.Created.IsZero() ||
		time.Since(got.LastUsed) > time.Minute || got.LastUsed.Before(got.Created.Add(-time.Second)) {
		t.Fatalf("listed: %+v", got)
	}
}

// Rows that do not parse are reported and skipped; the other users, and
// the user's other keys, still work; a user with only bad rows is refused
// as a store failure, not as unknown.
func testBadRows(t *testing.T, url string) {
	db := open(t, url)
	ctx := context.Background()
	good, other := newKey(t), newKey(t)
	weakRSA, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	weakText := marshalPKIX(t, weakRSA.Public())
	insert := func(user, kid, text string) {
		t.Helper()
		q := `INSERT INTO asymjwt_keys (username, kid, public_key, label, created_at) VALUES ($1, $2, $3, '', $4)`
		if strings.HasPrefix(url, "sqlite:") {
			q = strings.NewReplacer("$1", "?1", "$2", "?2", "$3", "?3", "$4", "?4").Replace(q)
		}
		var now any = time.Now()
		if strings.HasPrefix(url, "sqlite:") {
			now = time.Now().UTC().Format("2006-01-02 15:04:05.000000Z")
		}
		if _, err := db.ExecContext(ctx, q, user, kid, text, now); err != nil {
			t.Fatal(err)
		}
	}
	insert("alice", good.kid, good.text)
	insert("alice", "SHA256:garbage", "ssh-ed25519 not-base64")
	insert("bob", "SHA256:weak", weakText)
	insert("carol", "SHA256:not-this-key", other.text) // kid is not the key's
	insert("bad,name", other.kid, other.text)
	insert("dave", other.kid, other.text)
	trust := `INSERT INTO asymjwt_jwks_trusts (username, url, created_at) VALUES ('erin', 'http://plain.example/jwks', '2026-01-01 00:00:00.000000Z')`
	if _, err := db.ExecContext(ctx, trust); err != nil {
		t.Fatal(err)
	}
	var reported, reloads errorLog
	store := newStore(t, url, asymjwtsql.WithErrorHandler(reported.add),
		asymjwtsql.WithReloadHandler(func(err error) { reloads.add(err) }), asymjwtsql.WithReloadInterval(time.Hour))
	if !has(store, "alice", good.kid) || !has(store, "dave", other.kid) {
		t.Fatal("good rows are not served next to bad ones")
	}
	for _, user := range []string{"bob", "carol"} {
		_, err := store.Keys(ctx, user, "")
		if err == nil || errors.Is(err, asymjwt.ErrUnknownUser) || errors.Is(err, asymjwt.ErrUnknownKey) {
			t.Errorf("%s, with only bad rows: %v (want a store error)", user, err)
		}
	}
	if has(store, "carol", other.kid) {
		t.Error("a key under a kid that is not its own is served")
	}
	if has(store, "bad,name", other.kid) {
		t.Error("a row with an invalid username is served")
	}
	if has(store, "erin", other.kid) {
		t.Error("a plain http JWKS trust row is served")
	}
	errs := reported.all()
	if len(errs) != 5 {
		t.Fatalf("reported %d problems, want 5: %v", len(errs), errs)
	}
	if !errors.Is(errors.Join(errs...), asymjwt.ErrInvalidKey) {
		t.Errorf("problems do not wrap ErrInvalidKey: %v", errs)
	}
	// Reloads do not report the same rows again.
	if err := store.Reload(ctx); err == nil {
		t.Error("Reload over bad rows returned no problems")
	}
	if n := len(reported.all()); n != 5 {
		t.Errorf("after a reload %d problems were reported, want the same 5", n)
	}
	// The reload handler saw the first load's problems, then a clean
	// reload: nothing new.
	if r := reloads.all(); len(r) != 2 || r[0] == nil || r[1] != nil {
		t.Errorf("reload handler got %v, want [problems, nil]", r)
	}
}

// Uses are recorded in memory and written in one batch per interval: at
// most one write per key per flush, however many requests.
func testLastUsed(t *testing.T, url string) {
	db := open(t, url)
	ctx := context.Background()
	countWrites(t, db, url)
	keys := []testKey{newKey(t), newKey(t), newKey(t)}
	for i, k := range keys {
		if _, err := asymjwtsql.AddKey(ctx, db, []string{"alice", "alice", "bob"}[i], k.text, ""); err != nil {
			t.Fatal(err)
		}
	}
	store := newStore(t, url, asymjwtsql.WithLastUsedInterval(time.Hour))
	base := time.Now().Truncate(time.Second)
	for i := range 1000 {
		store.KeyUsed("alice", keys[0].kid, base.Add(time.Duration(i)*time.Millisecond))
		store.KeyUsed("bob", keys[2].kid, base.Add(time.Duration(i)*time.Millisecond))
	}
	if n := writes(t, db); n != 0 {
		t.Fatalf("%d writes before the flush: uses must not be written on the request path", n)
	}
	if err := store.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := writes(t, db); n != 2 {
		t.Fatalf("%d row writes for 2000 uses of 2 keys, want 2", n)
	}
	if err := store.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := writes(t, db); n != 2 {
		t.Fatalf("a flush without new uses wrote: %d writes", n)
	}
	// An older use never moves last_used back.
	store.KeyUsed("alice", keys[0].kid, base.Add(-time.Hour))
	store.KeyUsed("alice", keys[1].kid, base)
	if err := store.Close(); err != nil { // Close flushes
		t.Fatal(err)
	}
	if n := writes(t, db); n != 3 {
		t.Fatalf("after Close: %d writes, want 3", n)
	}
	listed, err := asymjwtsql.ListKeys(ctx, db, "")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]time.Time{keys[0].kid: base.Add(999 * time.Millisecond), keys[1].kid: base, keys[2].kid: base.Add(999 * time.Millisecond)}
	for _, k := range listed {
		if !k.LastUsed.Equal(want[k.KeyID]) {
			t.Errorf("%s %s: last used %v, want %v", k.Username, k.KeyID, k.LastUsed, want[k.KeyID])
		}
	}
}

// A write that fails neither blocks nor fails a request, and is retried.
func TestLastUsedWriteFailure(t *testing.T) {
	url := migrated(t, "sqlite:"+t.TempDir()+"/keys.db")
	db := open(t, url)
	ctx := context.Background()
	k := newKey(t)
	if _, err := asymjwtsql.AddKey(ctx, db, "alice", k.text, ""); err != nil {
		t.Fatal(err)
	}
	var reported errorLog
	store := newStore(t, url, asymjwtsql.WithErrorHandler(reported.add), asymjwtsql.WithLastUsedInterval(time.Hour))
	// Another connection holds the write lock past the busy timeout.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE asymjwt_keys SET label = 'locked'`); err != nil {
		t.Fatal(err)
	}
	store.KeyUsed("alice", k.kid, time.Now())
	if !has(store, "alice", k.kid) {
		t.Fatal("lookup refused while the database is locked")
	}
	fctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if err := store.Flush(fctx); err == nil {
		t.Fatal("Flush under a held lock succeeded")
	}
	if len(reported.all()) == 0 {
		t.Error("failed write not reported")
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	// The use was kept: a later Flush writes it. Not necessarily the very
	// next one on SQLite: the driver interrupts a statement whose context
	// ended from a goroutine of its own, which can still land on the
	// connection's next statement; that Flush fails, keeps the use and
	// reports it, as any failed write does.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if err = store.Flush(ctx); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("retries: %v", err)
	}
	listed, _ := asymjwtsql.ListKeys(ctx, db, "alice")
	if len(listed) != 1 || listed[0].LastUsed.IsZero() {
		t.Fatalf("use lost after a failed write: %+v", listed)
	}
}

// Users with a JWKS trust row are served from their JWKS URL.
func testJWKS(t *testing.T, url string) {
	k := newKey(t)
	set, err := asymjwt.NewJWKS(k.signer.Public())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = jsonEncode(w, set)
	}))
	defer srv.Close()
	db := open(t, url)
	ctx := context.Background()
	if err := asymjwtsql.TrustJWKS(ctx, db, "svc", srv.URL+"/jwks.json"); err != nil {
		t.Fatal(err)
	}
	if err := asymjwtsql.TrustJWKS(ctx, db, "svc2", "http://example.com/jwks.json"); err == nil {
		t.Fatal("plain http trust accepted")
	}
	store := newStore(t, url, asymjwtsql.WithJWKSOptions(asymjwt.WithJWKSHTTPClient(srv.Client())))
	eventually(t, bound, "JWKS key served", func() bool { return has(store, "svc", k.kid) })
	store.KeyUsed("svc", k.kid, time.Now())
	if err := store.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	trusts, err := asymjwtsql.ListJWKSTrusts(ctx, db)
	if err != nil || len(trusts) != 1 || trusts[0].LastUsed.IsZero() {
		t.Fatalf("trusts: %+v %v", trusts, err)
	}
	if ok, err := asymjwtsql.UntrustJWKS(ctx, db, "svc"); !ok || err != nil {
		t.Fatal(ok, err)
	}
	eventually(t, bound, "untrusted user refused", func() bool { return refuses(store, "svc", k.kid) })
}

// A revoked key is refused like a removed one, and its row stays.
func testRevoke(t *testing.T, url string) {
	db := open(t, url)
	ctx := context.Background()
	k := newKey(t)
	if _, err := asymjwtsql.AddKey(ctx, db, "alice", k.text, ""); err != nil {
		t.Fatal(err)
	}
	store := newStore(t, url)
	if !has(store, "alice", k.kid) {
		t.Fatal("not served")
	}
	if ok, err := asymjwtsql.RevokeKey(ctx, db, "alice", k.kid); !ok || err != nil {
		t.Fatal(ok, err)
	}
	eventually(t, bound, "revoked key refused", func() bool { return refuses(store, "alice", k.kid) })
	listed, err := asymjwtsql.ListKeys(ctx, db, "alice")
	if err != nil || len(listed) != 1 || listed[0].Revoked.IsZero() {
		t.Fatalf("listed: %+v %v", listed, err)
	}
}

func TestNewRefusals(t *testing.T) {
	ctx := context.Background()
	// Not migrated.
	db := open(t, "sqlite:"+t.TempDir()+"/empty.db")
	if s, err := asymjwtsql.New(ctx, db, asymjwtsql.WithLogger(quiet)); err == nil {
		s.Close()
		t.Fatal("New on a database without the schema succeeded")
	}
	// Unreachable: a file in a directory that does not exist.
	db = open(t, "sqlite:"+t.TempDir()+"/missing/keys.db")
	if s, err := asymjwtsql.New(ctx, db, asymjwtsql.WithLogger(quiet)); err == nil {
		s.Close()
		t.Fatal("New on an unreachable database succeeded")
	}
	for _, bad := range []string{"mysql://x", "sqlite:", "sqlite:/tmp/x?mode=ro", "/tmp/keys.db"} {
		if _, err := asymjwtsql.Open(bad); err == nil {
			t.Errorf("Open(%q) succeeded", bad)
		}
	}
}
