package cli_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/asymjwt/asymjwt/sql/pgtest"
)

// keysDB returns a migrated SQLite key database URL.
func keysDB(t testing.TB) string {
	t.Helper()
	url := "sqlite:" + filepath.Join(t.TempDir(), "keys.db")
	if out := mustRun(t, "", "migrate", "--db", url); out != "applied version 1\n" {
		t.Fatalf("migrate printed %q", out)
	}
	return url
}

func TestKeysDB(t *testing.T) {
	db := keysDB(t)
	if out := mustRun(t, "", "migrate", "--db", db); out != "schema already at version 1\n" {
		t.Fatalf("second migrate printed %q", out)
	}
	edKID, rsaKID := kidOf(t, "keys/ed25519.pem.pub"), kidOf(t, "keys/rsa.pem.pub")
	if got := mustRun(t, "", "keys", "add", "--db", db, "--user", "billing", "--label", "billing prod", fixture("keys/ed25519.pem.pub")); got != edKID+"\n" {
		t.Fatalf("add printed %q, want %s", got, edKID)
	}
	r := run(t, "", "keys", "add", "--db", db, "--user", "billing", fixture("keys/ed25519.pem.pub"))
	if r.code != 0 || r.stdout != edKID+"\n" || !strings.Contains(r.stderr, "already registered") {
		t.Fatalf("second add: %+v", r)
	}
	mustRun(t, "", "keys", "add", "--db", db, "--user", "shipping", fixture("keys/rsa.pem.pub"))
	wantFail(t, run(t, "", "keys", "add", "--db", db, "--user", "a,b", fixture("keys/rsa.pem.pub")), 1, "invalid username")
	wantFail(t, run(t, "", "keys", "add", "--db", db, "--user", "x", fixture("keys/ed25519.pem")), 1, "private key")
	wantFail(t, run(t, "", "keys", "add", "--db", "mysql://x", "--user", "x", fixture("keys/ed25519.pem.pub")), 2, "postgres://")
	wantFail(t, run(t, "", "keys", "add", "--db", db, "--dir", t.TempDir(), "--user", "x", fixture("keys/ed25519.pem.pub")), 2, "give one of --dir and --db")

	out := mustRun(t, "", "keys", "list", "--db", db)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "USER") || !strings.Contains(lines[0], "LAST USED") ||
		!strings.Contains(lines[1], "billing") || !strings.Contains(lines[1], edKID) || !strings.Contains(lines[1], "billing prod") ||
		!strings.HasSuffix(lines[1], "never") || !strings.Contains(lines[2], rsaKID) {
		t.Fatalf("list:\n%s", out)
	}
	var listing []struct {
		User, Kid, Type, Label string
		Created                time.Time
		LastUsed               *time.Time `json:"last_used"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, "", "keys", "list", "--db", db, "--user", "billing", "--json")), &listing); err != nil {
		t.Fatal(err)
	}
	if len(listing) != 1 || listing[0].Kid != edKID || listing[0].Type != "ed25519" || listing[0].LastUsed != nil ||
		time.Since(listing[0].Created) > time.Minute {
		t.Fatalf("list --json: %+v", listing)
	}

	wantFail(t, run(t, "", "keys", "remove", "--db", db, "--user", "billing", rsaKID), 1, "has no key")
	mustRun(t, "", "keys", "remove", "--db", db, "--user", "billing", "--revoke", edKID)
	if out := mustRun(t, "", "keys", "list", "--db", db, "--user", "billing"); !strings.Contains(out, "(revoked ") {
		t.Fatalf("revoked key not listed as revoked:\n%s", out)
	}
	wantFail(t, run(t, "", "keys", "remove", "--db", db, "--user", "billing", "--revoke", edKID), 1, "has no key")
	wantFail(t, run(t, "", "keys", "remove", "--dir", t.TempDir(), "--user", "billing", "--revoke", edKID), 2, "--revoke goes with --db")
	mustRun(t, "", "keys", "remove", "--db", db, "--user", "shipping", rsaKID)
	if out := mustRun(t, "", "keys", "list", "--db", db); strings.Contains(out, rsaKID) {
		t.Fatalf("removed key still listed:\n%s", out)
	}

	mustRun(t, "", "keys", "trust-jwks", "--db", db, "--user", "svc", "https://svc.example/jwks.json")
	if out := mustRun(t, "", "keys", "list", "--db", db, "--user", "svc"); !strings.Contains(out, "jwks") || !strings.Contains(out, "https://svc.example/jwks.json") {
		t.Fatalf("trust not listed:\n%s", out)
	}
	wantFail(t, run(t, "", "keys", "trust-jwks", "--db", db, "--user", "svc", "http://svc.example/jwks.json"), 1, "https")
	mustRun(t, "", "keys", "trust-jwks", "--db", db, "--user", "svc", "--remove")
	wantFail(t, run(t, "", "keys", "trust-jwks", "--db", db, "--user", "svc", "--remove"), 1, "no JWKS trust")
}

func TestKeysImport(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, "", "keys", "add", "--dir", dir, "--user", "billing", "--label", "from the dir", fixture("keys/ed25519.pem.pub"))
	mustRun(t, "", "keys", "add", "--dir", dir, "--user", "shipping", fixture("keys/p256.pem.pub"))
	db := keysDB(t)
	mustRun(t, "", "keys", "add", "--db", db, "--user", "shipping", fixture("keys/p256.pem.pub"))
	if out := mustRun(t, "", "keys", "import", "--db", db, "--dir", dir); out != "imported 1 key(s); 1 already there\n" {
		t.Fatalf("import printed %q", out)
	}
	out := mustRun(t, "", "keys", "list", "--db", db)
	if !strings.Contains(out, kidOf(t, "keys/ed25519.pem.pub")) || !strings.Contains(out, "from the dir") {
		t.Fatalf("imported key not listed:\n%s", out)
	}
	wantFail(t, run(t, "", "keys", "import", "--db", db), 2, "--db and --dir are required")
}

func TestVerifyKeysDB(t *testing.T) {
	db := keysDB(t)
	mustRun(t, "", "keys", "add", "--db", db, "--user", "billing", fixture("keys/ed25519.pem.pub"))
	tok := mustRun(t, "", "sign", "--key", fixture("keys/ed25519.pem"), "--user", "billing")
	if out := mustRun(t, tok, "verify", "--keys-db", db, "-"); !strings.Contains(out, "billing") {
		t.Fatalf("verify printed %q", out)
	}
	tok = mustRun(t, "", "sign", "--key", fixture("keys/ed25519.pem"), "--user", "billing")
	wantFail(t, run(t, tok, "verify", "--keys-db", db, "--user", "shipping", "-"), 1, "refused")
	// A check from the command line is not a use of the key.
	if out := mustRun(t, "", "keys", "list", "--db", db); !strings.HasSuffix(strings.TrimSpace(out), "never") {
		t.Fatalf("verify recorded a use:\n%s", out)
	}
	// Chained with a directory: the directory's users, then the database's.
	dir := t.TempDir()
	mustRun(t, "", "keys", "add", "--dir", dir, "--user", "shipping", fixture("keys/p256.pem.pub"))
	for _, c := range []struct{ user, key string }{{"billing", "keys/ed25519.pem"}, {"shipping", "keys/p256.pem"}} {
		tok := mustRun(t, "", "sign", "--key", fixture(c.key), "--user", c.user)
		if out := mustRun(t, tok, "verify", "--keys", dir, "--keys-db", db, "-"); !strings.Contains(out, c.user) {
			t.Fatalf("chained verify of %s printed %q", c.user, out)
		}
	}
	missing := filepath.Join(t.TempDir(), "none.db")
	wantFail(t, run(t, tok, "verify", "--keys-db", "sqlite:"+missing, "-"), 1, "asymjwt migrate creates it")
	wantFail(t, run(t, "", "keys", "list", "--db", "sqlite:"+missing), 1, "asymjwt migrate creates it")
	if _, err := os.Stat(missing); err == nil {
		t.Fatal("a mistyped SQLite path became a new database")
	}
}

func TestProxyKeysDB(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			var db string
			if backend == "sqlite" {
				db = keysDB(t)
			} else {
				db = pgtest.Start(t).NewDatabase(t)
				mustRun(t, "", "migrate", "--db", db)
			}
			up := newUpstream(t)
			p := startProxy(t, "--upstream", up.URL, "--keys-db", db)
			alice := signer(t, "billing", "keys/ed25519.pem")
			auth := func() string {
				tok, err := alice.Token()
				if err != nil {
					t.Fatal(err)
				}
				return alice.AuthorizationValue(tok)
			}
			if code, _, _ := send(t, http.DefaultClient, "GET", p.url("/x"), "", auth(), nil); code != http.StatusUnauthorized {
				t.Fatalf("before the key is added: %d", code)
			}
			mustRun(t, "", "keys", "add", "--db", db, "--user", "billing", fixture("keys/ed25519.pem.pub"))
			deadline := time.Now().Add(10 * time.Second)
			for {
				code, _, _ := send(t, http.DefaultClient, "GET", p.url("/x"), "", auth(), nil)
				if code == http.StatusOK {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("key added to the database not accepted: %d", code)
				}
				time.Sleep(20 * time.Millisecond)
			}
			mustRun(t, "", "keys", "remove", "--db", db, "--user", "billing", kidOf(t, "keys/ed25519.pem.pub"))
			for {
				code, _, _ := send(t, http.DefaultClient, "GET", p.url("/x"), "", auth(), nil)
				if code == http.StatusUnauthorized {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("key removed from the database still accepted: %d", code)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
	wantFail(t, run(t, "", "proxy", "--listen", "127.0.0.1:0", "--upstream", "http://127.0.0.1:1", "--keys-db", "sqlite:"+filepath.Join(t.TempDir(), "none.db")), 1, "--keys-db")
}

// The proxy's metrics count the database's loads.
func TestProxyKeysDBMetrics(t *testing.T) {
	db := keysDB(t)
	up := newUpstream(t)
	p := startProxy(t, "--upstream", up.URL, "--keys-db", db, "--metrics-listen", "127.0.0.1:0")
	metricsURL := "http://" + p.metricsAddr(t) + "/metrics"
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := scrapeMetrics(t, metricsURL)
		if got[`asymjwt_key_source_reloads_total{source="database"}`] >= 2 {
			if f := got[`asymjwt_key_source_reload_failures_total{source="database"}`]; f != 0 {
				t.Fatalf("%v failed loads of a good database", f)
			}
			// A source not in use has no series: its last success at 0
			// would fire an alert on its age.
			for name := range got {
				if strings.Contains(name, `source="directory"`) {
					t.Fatalf("series %s for the directory source, which is not in use", name)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("database loads not counted: %v", got)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// forward-auth's metrics are the verifier's, without the proxy's
// upstream series (it forwards nothing).
func TestForwardAuthMetrics(t *testing.T) {
	fa := startServer(t, "forward-auth", "--keys", keysDir(t), "--metrics-listen", "127.0.0.1:0")
	got := scrapeMetrics(t, "http://"+fa.metricsAddr(t)+"/metrics")
	if _, ok := got[`asymjwt_key_source_reloads_total{source="directory"}`]; !ok {
		t.Errorf("no directory reloads series: %v", got)
	}
	for name := range got {
		if strings.Contains(name, "upstream") {
			t.Errorf("forward-auth exports %s", name)
		}
	}
}

// forward-auth takes --keys-db through the same key flags as the proxy,
// and records key use in the database.
func TestForwardAuthKeysDB(t *testing.T) {
	db := keysDB(t)
	mustRun(t, "", "keys", "add", "--db", db, "--user", "billing", fixture("keys/ed25519.pem.pub"))
	dir := t.TempDir()
	mustRun(t, "", "keys", "add", "--dir", dir, "--user", "shipping", fixture("keys/p256.pem.pub"))
	fa := startServer(t, "forward-auth", "--keys", dir, "--keys-db", db)
	for _, c := range []struct{ user, key string }{{"billing", "keys/ed25519.pem"}, {"shipping", "keys/p256.pem"}} {
		s := signer(t, c.user, c.key)
		tok, err := s.Token()
		if err != nil {
			t.Fatal(err)
		}
		status, hdr := subrequest(t, fa, s.AuthorizationValue(tok), nil)
		if status != http.StatusOK || hdr.Get("X-Authenticated-User") != c.user {
			t.Fatalf("%s: %d %v", c.user, status, hdr)
		}
	}
	mallory := signer(t, "mallory", "keys/ed25519.pem")
	tok, _ := mallory.Token()
	if status, _ := subrequest(t, fa, mallory.AuthorizationValue(tok), nil); status != http.StatusUnauthorized {
		t.Fatalf("billing's key let mallory in: %d", status)
	}
	// Stopping flushes the recorded use of billing's key.
	if code := fa.shutdown(t); code != 0 {
		t.Fatalf("forward-auth exited %d", code)
	}
	if out := mustRun(t, "", "keys", "list", "--db", db, "--user", "billing"); strings.HasSuffix(strings.TrimSpace(out), "never") {
		t.Fatalf("use not recorded:\n%s", out)
	}
}
