package asymjwt_test

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
	"golang.org/x/crypto/ssh"
)

// Helpers shared by the key-source tests (authorizedkeys, jwks_trust,
// jwks_handler, keychain, lastused); prefixed ks to stay apart from the
// other tests of the package.

var ksQuiet = slog.New(slog.DiscardHandler)

// ksParty is a client: a username, its key and a signer.
type ksParty struct {
	username string
	key      crypto.Signer
	kid      string
	signer   *asymjwt.Signer
}

func ksNewParty(t testing.TB, username string, key crypto.Signer, opts ...asymjwt.SignerOption) ksParty {
	t.Helper()
	if key == nil {
		var err error
		if key, err = asymjwt.GenerateKey(asymjwt.KindEd25519); err != nil {
			t.Fatal(err)
		}
	}
	s, err := asymjwt.NewSigner(username, key, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return ksParty{username: username, key: key, kid: s.KeyID(), signer: s}
}

func (p ksParty) token(t testing.TB) string {
	t.Helper()
	tok, err := p.signer.Token()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// line is the party's public key as an authorized-keys line.
func (p ksParty) line(t testing.TB, comment string) string {
	t.Helper()
	b, err := asymjwt.MarshalPublicKeyOpenSSH(p.key.Public(), comment)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func ksVerifier(t testing.TB, keys asymjwt.KeyStore, opts ...asymjwt.VerifierOption) *asymjwt.Verifier {
	t.Helper()
	v, err := asymjwt.NewVerifier(keys, append([]asymjwt.VerifierOption{asymjwt.WithLogger(ksQuiet)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// ksVerify verifies a fresh token of p and returns the error.
func ksVerify(t testing.TB, v *asymjwt.Verifier, p ksParty) error {
	t.Helper()
	_, err := v.Verify(context.Background(), p.token(t))
	return err
}

var (
	ksRSAOnce sync.Once
	ksRSA     *rsa.PrivateKey
)

// ksRSAKey is one RSA key for the whole run: generating them is slow.
func ksRSAKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	ksRSAOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		ksRSA = k
	})
	return ksRSA
}

// ksWriteAtomic writes data to dir/name the safe way: a hidden temporary
// file renamed over the old one.
func ksWriteAtomic(t testing.TB, dir, name, data string) {
	t.Helper()
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tmp.WriteString(data); err != nil {
		t.Fatal(err)
	}
	if err := tmp.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

// ksEventually polls cond until it holds or timeout passes.
func ksEventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: still not %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ksCoreGoroutines returns, by id, the goroutines running code of package
// asymjwt itself (its tests are package asymjwt_test, which this pattern
// does not match).
func ksCoreGoroutines() map[string]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := make(map[string]string)
	for _, g := range strings.Split(string(buf), "\n\n") {
		if !strings.Contains(g, "github.com/asymjwt/asymjwt/core.") {
			continue
		}
		header, _, _ := strings.Cut(g, "\n")
		if f := strings.Fields(header); len(f) > 1 {
			out[f[1]] = g
		}
	}
	return out
}

// ksNoNewGoroutines fails t unless every core goroutine not in before
// ends within a few seconds.
func ksNoNewGoroutines(t testing.TB, before map[string]string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var leaked []string
		for id, stack := range ksCoreGoroutines() {
			if _, ok := before[id]; !ok {
				leaked = append(leaked, stack)
			}
		}
		if len(leaked) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%d goroutine(s) leaked:\n%s", len(leaked), strings.Join(leaked, "\n\n"))
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ksLeakCheck checks, after every other cleanup of t, that t left no
// goroutine of the package running. Tests using it must not be parallel.
func ksLeakCheck(t *testing.T) {
	t.Helper()
	before := ksCoreGoroutines()
	t.Cleanup(func() { ksNoNewGoroutines(t, before) })
}

func TestLeakCheckSeesLeaks(t *testing.T) {
	// The leak check must not pass vacuously: a polling store left open
	// is a goroutine it has to see.
	before := ksCoreGoroutines()
	d, err := asymjwt.OpenAuthorizedKeysDir(t.TempDir(), asymjwt.WithAuthorizedKeysLogger(ksQuiet))
	if err != nil {
		t.Fatal(err)
	}
	leaked := 0
	for id := range ksCoreGoroutines() {
		if _, ok := before[id]; !ok {
			leaked++
		}
	}
	if leaked != 1 {
		t.Errorf("saw %d new goroutines, want the polling one", leaked)
	}
	d.Close()
	ksNoNewGoroutines(t, before)
}

func ksFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "keysources", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseAuthorizedKeys(t *testing.T) {
	ed := ksNewParty(t, "u", nil)
	p256, err := asymjwt.GenerateKey(asymjwt.KindP256)
	if err != nil {
		t.Fatal(err)
	}
	ec := ksNewParty(t, "u", p256)
	rsaParty := ksNewParty(t, "u", ksRSAKey(t))
	rsaPEM, err := asymjwt.MarshalPublicKeyPEM(rsaParty.key.Public())
	if err != nil {
		t.Fatal(err)
	}
	type want struct{ kid, label string }
	tests := []struct {
		name string
		data string
		want []want
	}{
		{"empty", "", nil},
		{"only comments and blanks", "# nobody yet\n\n   \n#\n", nil},
		{"one line with comment", ed.line(t, "alice@laptop"), []want{{ed.kid, "alice@laptop"}}},
		{"comment with spaces", ed.line(t, "build server #2"), []want{{ed.kid, "build server #2"}}},
		{"no comment, no newline", strings.TrimSpace(ed.line(t, "")), []want{{ed.kid, ""}}},
		{"CRLF and indentation", "  " + strings.ReplaceAll(ed.line(t, "a")+ec.line(t, "b"), "\n", "\r\n"),
			[]want{{ed.kid, "a"}, {ec.kid, "b"}}},
		{"PEM with label above", "# ci runner\n" + string(rsaPEM) + ed.line(t, "x"),
			[]want{{rsaParty.kid, "ci runner"}, {ed.kid, "x"}}},
		{"PEM label needs no blank between", "# old\n\n" + string(rsaPEM), []want{{rsaParty.kid, ""}}},
		{"PEM after a line is unlabelled", ed.line(t, "x") + string(rsaPEM), []want{{ed.kid, "x"}, {rsaParty.kid, ""}}},
		{"duplicate kept once, first label", ed.line(t, "first") + ec.line(t, "") + ed.line(t, "second"),
			[]want{{ed.kid, "first"}, {ec.kid, ""}}},
		{"RSA line", rsaParty.line(t, "r"), []want{{rsaParty.kid, "r"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := asymjwt.ParseAuthorizedKeys([]byte(tt.data))
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) != len(tt.want) {
				t.Fatalf("got %d keys, want %d", len(keys), len(tt.want))
			}
			for i, k := range keys {
				if k.KeyID != tt.want[i].kid || k.Label != tt.want[i].label {
					t.Errorf("key %d: kid %s label %q, want %s %q", i, k.KeyID, k.Label, tt.want[i].kid, tt.want[i].label)
				}
				if fp, _ := asymjwt.Fingerprint(k.Public); fp != k.KeyID {
					t.Errorf("key %d: KeyID is not the fingerprint of Public", i)
				}
			}
		})
	}
}

func TestParseAuthorizedKeysFixture(t *testing.T) {
	// The Python library's test keys, whose fingerprints it computed.
	keys, err := asymjwt.ParseAuthorizedKeys(ksFixture(t, "alice"))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ kid, label string }{
		{"10e8965f935f467be44dcf425cda497bd17d22fba08acda017a71eb7ee97a65b", "alice@laptop"},
		{"84f73193127f644eb99de7f43596a772a07b604b824af1c4b3dcc258afc391cd", "build server"},
	}
	if len(keys) != len(want) {
		t.Fatalf("got %d keys, want %d", len(keys), len(want))
	}
	for i, k := range keys {
		if k.KeyID != want[i].kid || k.Label != want[i].label {
			t.Errorf("key %d: %s %q, want %s %q", i, k.KeyID, k.Label, want[i].kid, want[i].label)
		}
	}
}

func TestParseAuthorizedKeysRefusals(t *testing.T) {
	ed := ksNewParty(t, "u", nil)
	good := ed.line(t, "ok")
	edPub := ed.key.Public().(ed25519.PublicKey)

	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	weakSSH, err := ssh.NewPublicKey(&weak.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	weakDER, err := x509.MarshalPKIXPublicKey(&weak.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	weakPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: weakDER}))

	// A security key (FIDO) line: the same Ed25519 key, signing in a
	// format no token uses.
	sk := ssh.Marshal(struct {
		Name        string
		Key         []byte
		Application string
	}{"sk-ssh-ed25519@openssh.com", edPub, "ssh:"})
	skLine := "sk-ssh-ed25519@openssh.com " + base64.StdEncoding.EncodeToString(sk) + " fido\n"

	caSigner, err := ssh.NewSignerFromKey(ed.key)
	if err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(edPub)
	if err != nil {
		t.Fatal(err)
	}
	cert := &ssh.Certificate{Key: sshPub, CertType: ssh.UserCert, ValidPrincipals: []string{"u"}, ValidBefore: ssh.CertTimeInfinity}
	if err := cert.SignCert(rand.Reader, caSigner); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, data, line string
	}{
		{"garbage", good + "not a key at all\n", "line 2"},
		{"truncated base64", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI\n", "line 1"},
		{"from= option", `from="10.0.0.1" ` + good, "line 1"},
		{"restrict option", "restrict " + good, "line 1"},
		{"command option", `command="/bin/true" ` + good, "line 1"},
		{"security key", skLine, "line 1"},
		{"certificate", string(ssh.MarshalAuthorizedKey(cert)), "line 1"},
		{"weak RSA line", string(ssh.MarshalAuthorizedKey(weakSSH)), "line 1"},
		{"weak RSA PEM", "\n" + weakPEM, "line 2"},
		{"PEM without END", "# x\n-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n", "line 2"},
		{"PEM corrupt body", "-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n", "line 1"},
		{"private key PEM", "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n", "line 1"},
		{"JWK is not a line form", `{"kty":"OKP","crv":"Ed25519","x":"K5jYktqBkEt0j0AbTalQDrEtkNXbiVAOk77finHazig"}` + "\n", "line 1"},
		{"bad line after good PEM", string(ksFixture(t, "alice")) + "ssh-rsa\n", "line 14"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := asymjwt.ParseAuthorizedKeys([]byte(tt.data))
			if err == nil {
				t.Fatalf("accepted: %d keys", len(keys))
			}
			if !errors.Is(err, asymjwt.ErrInvalidKey) {
				t.Errorf("error %v is not ErrInvalidKey", err)
			}
			if !strings.Contains(err.Error(), tt.line+":") {
				t.Errorf("error %q does not name %s", err, tt.line)
			}
		})
	}
}

func TestCheckUsername(t *testing.T) {
	valid := []string{"alice", "svc-billing", "a.b", "José", "user@example.com", "x", "Jane Doe", strings.Repeat("a", 256)}
	for _, name := range valid {
		if err := asymjwt.CheckUsername(name); err != nil {
			t.Errorf("%q refused: %v", name, err)
		}
	}
	invalid := []string{
		"", ".", "..", ".hidden", ".alice.tmp", "a/b", "/etc/passwd", "../alice", "alice/..",
		`a\b`, `..\alice`, "a..b", "a\x00b", "a\nb", "tab\there", "del\x7f", "bob~",
		strings.Repeat("a", 257), "\xff\xfe",
		// A username ends up in a header value, where a comma splits a
		// list and outer white space is dropped.
		"alice,admin", ",", "alice,", " alice", "alice ", " ", "alice\u00a0", "\u2003alice", "alice\u3000",
	}
	for _, name := range invalid {
		if err := asymjwt.CheckUsername(name); err == nil {
			t.Errorf("%q accepted", name)
		}
	}
}

// ksOpenDir opens dir quietly, closing it at the end of the test.
func ksOpenDir(t *testing.T, dir string, opts ...asymjwt.AuthorizedKeysOption) *asymjwt.AuthorizedKeysDir {
	t.Helper()
	opts = append([]asymjwt.AuthorizedKeysOption{asymjwt.WithAuthorizedKeysLogger(ksQuiet)}, opts...)
	d, err := asymjwt.OpenAuthorizedKeysDir(dir, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// ksErrors collects what an error handler is given.
type ksErrors struct {
	mu   sync.Mutex
	errs []error
}

func (e *ksErrors) handle(err error) {
	e.mu.Lock()
	e.errs = append(e.errs, err)
	e.mu.Unlock()
}

func (e *ksErrors) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.errs)
}

func (e *ksErrors) last() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.errs) == 0 {
		return nil
	}
	return e.errs[len(e.errs)-1]
}

// ksRefusal is a party whose tokens must be refused with err.
type ksRefusal struct {
	p   ksParty
	err error
}

func TestAuthorizedKeysDirLookups(t *testing.T) {
	ksLeakCheck(t)
	root := t.TempDir()
	dir := filepath.Join(root, "keys")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	alice1 := ksNewParty(t, "alice", nil)
	alice2 := ksNewParty(t, "alice", nil)
	bob := ksNewParty(t, "bob", nil)
	carol := ksNewParty(t, "carol", nil)
	outsider := ksNewParty(t, "../outside", nil)
	hidden := ksNewParty(t, ".hidden", nil)
	backup := ksNewParty(t, "bob~", nil)

	ksWriteAtomic(t, dir, "alice", alice1.line(t, "laptop")+"# comment\n\n"+alice2.line(t, "ci"))
	ksWriteAtomic(t, dir, "bob", bob.line(t, ""))
	ksWriteAtomic(t, dir, "empty", "# no keys yet\n")
	ksWriteAtomic(t, root, "outside", outsider.line(t, ""))
	ksWriteAtomic(t, dir, ".hidden", hidden.line(t, ""))
	ksWriteAtomic(t, dir, "bob~", backup.line(t, ""))
	if err := os.Mkdir(filepath.Join(dir, "subdir"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A Kubernetes ConfigMap volume: each file a link into ..data, itself
	// a link to the current version's hidden directory.
	version := filepath.Join(dir, "..2024_01_01")
	if err := os.Mkdir(version, 0o755); err != nil {
		t.Fatal(err)
	}
	ksWriteAtomic(t, version, "carol", carol.line(t, "k8s"))
	if err := os.Symlink("..2024_01_01", filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("..data/carol", filepath.Join(dir, "carol")); err != nil {
		t.Fatal(err)
	}

	var reported ksErrors
	d := ksOpenDir(t, dir, asymjwt.WithAuthorizedKeysErrorHandler(reported.handle))
	if got := strings.Join(d.Users(), ","); got != "alice,bob,carol" {
		t.Errorf("Users() = %s", got)
	}
	if reported.count() != 1 || !strings.Contains(reported.last().Error(), "bob~") {
		t.Errorf("reported %v, want only the backup file name", reported.errs)
	}
	keys := d.UserKeys("alice")
	if len(keys) != 2 || keys[0].KeyID != alice1.kid || keys[0].Label != "laptop" || keys[1].Label != "ci" {
		t.Errorf("UserKeys(alice) = %+v", keys)
	}
	if d.UserKeys("nobody") != nil {
		t.Error("UserKeys of an unknown user is not nil")
	}

	ctx := context.Background()
	lookups := []struct {
		name, user, kid string
		want            int
		err             error
	}{
		{"all of alice's keys", "alice", "", 2, nil},
		{"alice's second key by kid", "alice", alice2.kid, 1, nil},
		{"via a link", "carol", carol.kid, 1, nil},
		{"unknown user", "mallory", "", 0, asymjwt.ErrUnknownUser},
		{"another user's kid", "alice", bob.kid, 0, asymjwt.ErrUnknownKey},
		{"empty file is a user without keys", "empty", "", 0, asymjwt.ErrUnknownKey},
		{"empty file by kid", "empty", bob.kid, 0, asymjwt.ErrUnknownKey},
		{"path traversal", "../outside", "", 0, asymjwt.ErrUnknownUser},
		{"path traversal by kid", "../outside", outsider.kid, 0, asymjwt.ErrUnknownUser},
		{"absolute path", filepath.Join(root, "outside"), "", 0, asymjwt.ErrUnknownUser},
		{"hidden file", ".hidden", "", 0, asymjwt.ErrUnknownUser},
		{"backup file", "bob~", "", 0, asymjwt.ErrUnknownUser},
		{"directory", "subdir", "", 0, asymjwt.ErrUnknownUser},
		{"k8s data dir", "..data", "", 0, asymjwt.ErrUnknownUser},
	}
	for _, tt := range lookups {
		t.Run(tt.name, func(t *testing.T) {
			got, err := d.Keys(ctx, tt.user, tt.kid)
			if !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Fatalf("error %v, want %v", err, tt.err)
			}
			if len(got) != tt.want {
				t.Errorf("got %d keys, want %d", len(got), tt.want)
			}
		})
	}

	v := ksVerifier(t, d)
	for _, p := range []ksParty{alice1, alice2, bob, carol} {
		if err := ksVerify(t, v, p); err != nil {
			t.Errorf("%s: %v", p.username, err)
		}
	}
	refused := []ksRefusal{
		{outsider, asymjwt.ErrUnknownUser},
		{hidden, asymjwt.ErrUnknownUser},
		{backup, asymjwt.ErrUnknownUser},
		{ksNewParty(t, "alice", bob.key), asymjwt.ErrUnknownKey}, // bob's key never authenticates alice
	}
	for _, r := range refused {
		if err := ksVerify(t, v, r.p); !errors.Is(err, r.err) {
			t.Errorf("%s: %v, want %v", r.p.username, err, r.err)
		}
	}
}

func TestAuthorizedKeysDirReload(t *testing.T) {
	ksLeakCheck(t)
	dir := t.TempDir()
	a := ksNewParty(t, "alice", nil)
	b := ksNewParty(t, "alice", nil)
	bob := ksNewParty(t, "bob", nil)
	ksWriteAtomic(t, dir, "alice", a.line(t, "A"))
	ksWriteAtomic(t, dir, "broken", "ssh-ed25519 garbage\n")

	var reported ksErrors
	d := ksOpenDir(t, dir, asymjwt.WithAuthorizedKeysPollInterval(0),
		asymjwt.WithAuthorizedKeysErrorHandler(reported.handle))
	v := ksVerifier(t, d)
	if reported.count() != 1 || !strings.Contains(reported.last().Error(), filepath.Join(dir, "broken")) {
		t.Fatalf("a bad file at open was not reported with its path: %v", reported.errs)
	}
	// A file that never loaded owns its user all the same: a store
	// failure, never "unknown", which would let a chain ask the next store.
	brokenUser := ksNewParty(t, "broken", bob.key)
	if err := ksVerify(t, v, brokenUser); asymjwt.StatusCode(err) != 503 ||
		errors.Is(err, asymjwt.ErrUnknownUser) || errors.Is(err, asymjwt.ErrUnknownKey) {
		t.Errorf("a file never good gives %v, want a store failure", err)
	}

	steps := []struct {
		name     string
		change   func()
		reloadOK bool
		accepted []ksParty
		refused  []ksRefusal
	}{
		{"add a user", func() { ksWriteAtomic(t, dir, "bob", bob.line(t, "")) }, false,
			[]ksParty{a, bob}, nil},
		{"rotation: both keys during the overlap", func() { ksWriteAtomic(t, dir, "alice", a.line(t, "A")+b.line(t, "B")) }, false,
			[]ksParty{a, b}, nil},
		{"corrupt file keeps the last good keys", func() { ksWriteAtomic(t, dir, "alice", b.line(t, "B")+"-----BEGIN PUBLIC KEY-----\n") }, false,
			[]ksParty{a, b}, nil},
		{"rotation: A refused once removed", func() { ksWriteAtomic(t, dir, "alice", b.line(t, "B")) }, false,
			[]ksParty{b}, []ksRefusal{{a, asymjwt.ErrUnknownKey}}},
		{"in-place rewrite", func() {
			if err := os.WriteFile(filepath.Join(dir, "alice"), []byte(a.line(t, "A again")), 0o644); err != nil {
				t.Fatal(err)
			}
		}, false, []ksParty{a}, []ksRefusal{{b, asymjwt.ErrUnknownKey}}},
		{"remove a user", func() {
			if err := os.Remove(filepath.Join(dir, "bob")); err != nil {
				t.Fatal(err)
			}
		}, false, []ksParty{a}, []ksRefusal{{bob, asymjwt.ErrUnknownUser}}},
		{"fix the broken file", func() { ksWriteAtomic(t, dir, "broken", bob.line(t, "")) }, true,
			[]ksParty{a, brokenUser}, nil},
	}
	for _, s := range steps {
		s.change()
		before := reported.count()
		err := d.Reload()
		if (err == nil) != s.reloadOK {
			t.Errorf("%s: Reload() = %v", s.name, err)
		}
		if err != nil && reported.count() == before {
			t.Errorf("%s: Reload returned %v without reporting it", s.name, err)
		}
		for _, p := range s.accepted {
			if err := ksVerify(t, v, p); err != nil {
				t.Errorf("%s: %s refused: %v", s.name, p.kid[:8], err)
			}
		}
		for _, r := range s.refused {
			if err := ksVerify(t, v, r.p); !errors.Is(err, r.err) {
				t.Errorf("%s: %s: %v, want %v", s.name, r.p.kid[:8], err, r.err)
			}
		}
	}
	if got := d.UserKeys("alice"); len(got) != 1 || got[0].Label != "A again" {
		t.Errorf("UserKeys(alice) = %+v", got)
	}
}

func TestAuthorizedKeysDirPolling(t *testing.T) {
	ksLeakCheck(t)
	dir := t.TempDir()
	a := ksNewParty(t, "alice", nil)
	var reported ksErrors
	d := ksOpenDir(t, dir, asymjwt.WithAuthorizedKeysPollInterval(5*time.Millisecond),
		asymjwt.WithAuthorizedKeysErrorHandler(reported.handle))
	has := func(user string) func() bool {
		return func() bool { _, err := d.Keys(context.Background(), user, ""); return err == nil }
	}
	ksWriteAtomic(t, dir, "alice", a.line(t, ""))
	ksEventually(t, 5*time.Second, "alice added", has("alice"))

	ksWriteAtomic(t, dir, "alice", "not a key\n")
	ksEventually(t, 5*time.Second, "the bad file reported", func() bool { return reported.count() == 1 })
	time.Sleep(50 * time.Millisecond) // ten more polls
	if n := reported.count(); n != 1 {
		t.Errorf("an unchanged bad file was reported %d times", n)
	}
	if !has("alice")() {
		t.Error("the last good keys were dropped")
	}

	if err := os.Remove(filepath.Join(dir, "alice")); err != nil {
		t.Fatal(err)
	}
	ksEventually(t, 5*time.Second, "alice removed", func() bool { return !has("alice")() })
}

func TestAuthorizedKeysDirSeesRewriteKeepingTimes(t *testing.T) {
	// A rewrite in place to the same size whose modification time is set
	// back (cp -p, rsync -t, touch -r; or the same clock tick) leaves
	// size, mtime and identity as they were: only the change time tells.
	switch runtime.GOOS {
	case "windows", "plan9", "js", "wasip1":
		t.Skip("no inode change time on " + runtime.GOOS)
	}
	ksLeakCheck(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "alice")
	a := ksNewParty(t, "alice", nil)
	b := ksNewParty(t, "alice", nil)
	if len(a.line(t, "k")) != len(b.line(t, "k")) {
		t.Fatal("the two lines differ in length")
	}
	if err := os.WriteFile(path, []byte(a.line(t, "k")), 0o644); err != nil {
		t.Fatal(err)
	}
	old, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	d := ksOpenDir(t, dir, asymjwt.WithAuthorizedKeysPollInterval(5*time.Millisecond))
	v := ksVerifier(t, d)
	if err := ksVerify(t, v, a); err != nil {
		t.Fatal(err)
	}
	// A revoked, B added, in place, with the old modification time.
	if err := os.WriteFile(path, []byte(b.line(t, "k")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, old.ModTime(), old.ModTime()); err != nil {
		t.Fatal(err)
	}
	if now, err := os.Stat(path); err != nil || !os.SameFile(old, now) || now.Size() != old.Size() || !now.ModTime().Equal(old.ModTime()) {
		t.Fatalf("the rewrite changed more than the change time: %v, %v", now, err)
	}
	ksEventually(t, 5*time.Second, "the rewrite seen", func() bool {
		return errors.Is(ksVerify(t, v, a), asymjwt.ErrUnknownKey) && ksVerify(t, v, b) == nil
	})
}

func TestAuthorizedKeysDirReloadUnderLoad(t *testing.T) {
	ksLeakCheck(t)
	dir := t.TempDir()
	a := ksNewParty(t, "alice", nil)
	others := []ksParty{ksNewParty(t, "alice", nil), ksNewParty(t, "alice", nil)}
	ksWriteAtomic(t, dir, "alice", a.line(t, "A"))
	var reported ksErrors
	d := ksOpenDir(t, dir, asymjwt.WithAuthorizedKeysPollInterval(time.Millisecond),
		asymjwt.WithAuthorizedKeysErrorHandler(reported.handle))
	v := ksVerifier(t, d)

	const rewrites = 200
	var (
		stop     atomic.Bool
		verified atomic.Int64
		failures atomic.Int64
		firstErr atomic.Value
		wg       sync.WaitGroup
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				tok, err := a.signer.Token()
				if err == nil {
					_, err = v.Verify(context.Background(), tok)
				}
				if err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				verified.Add(1)
				runtime.Gosched() // let the writer in: the point is to overlap
			}
		}()
	}
	var last string
	for i := range rewrites {
		// Key A stays; the other key and the labels change every time.
		last = "version " + string(rune('a'+i%26))
		ksWriteAtomic(t, dir, "alice", "# "+last+"\n"+a.line(t, last)+others[i%2].line(t, ""))
		if i%4 == 0 {
			if err := d.Reload(); err != nil {
				t.Error(err)
			}
		}
	}
	stop.Store(true)
	wg.Wait()
	if n := failures.Load(); n != 0 {
		t.Errorf("%d spurious failures during reloads, first: %v", n, firstErr.Load())
	}
	if verified.Load() == 0 {
		t.Error("nothing was verified")
	}
	if reported.count() != 0 {
		t.Errorf("problems reported: %v", reported.errs)
	}
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	if keys := d.UserKeys("alice"); len(keys) != 2 || keys[0].Label != last {
		t.Errorf("after the last rewrite: %+v, want label %q", keys, last)
	}
	t.Logf("%d verifications during %d rewrites", verified.Load(), rewrites)
}

func TestAuthorizedKeysDirLimits(t *testing.T) {
	dir := t.TempDir()
	a := ksNewParty(t, "alice", nil)
	ksWriteAtomic(t, dir, "alice", a.line(t, ""))
	var reported ksErrors
	d := ksOpenDir(t, dir, asymjwt.WithAuthorizedKeysPollInterval(0),
		asymjwt.WithAuthorizedKeysErrorHandler(reported.handle))
	big := a.line(t, "") + strings.Repeat("#"+strings.Repeat("x", 1023)+"\n", asymjwt.MaxAuthorizedKeysFileSize/1024)
	ksWriteAtomic(t, dir, "alice", big)
	if err := d.Reload(); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("a file over the limit: Reload() = %v", err)
	}
	if err := ksVerify(t, ksVerifier(t, d), a); err != nil {
		t.Errorf("the last good keys were dropped: %v", err)
	}
	// Unreadable directory: everyone keeps their keys.
	moved := dir + ".moved"
	if err := os.Rename(dir, moved); err != nil {
		t.Fatal(err)
	}
	if err := d.Reload(); err == nil {
		t.Error("Reload of a missing directory succeeded")
	}
	if err := ksVerify(t, ksVerifier(t, d), a); err != nil {
		t.Errorf("a missing directory dropped the keys: %v", err)
	}
}

func TestOpenAuthorizedKeysDirRefusals(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{filepath.Join(t.TempDir(), "missing"), file} {
		if d, err := asymjwt.OpenAuthorizedKeysDir(dir); err == nil {
			d.Close()
			t.Errorf("%s opened", dir)
		}
	}
}

func TestAuthorizedKeysDirClose(t *testing.T) {
	ksLeakCheck(t)
	dir := t.TempDir()
	a := ksNewParty(t, "alice", nil)
	ksWriteAtomic(t, dir, "alice", a.line(t, ""))
	d, err := asymjwt.OpenAuthorizedKeysDir(dir, asymjwt.WithAuthorizedKeysLogger(ksQuiet),
		asymjwt.WithAuthorizedKeysPollInterval(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	v := ksVerifier(t, d)
	if err := ksVerify(t, v, a); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	err = ksVerify(t, v, a)
	if asymjwt.StatusCode(err) != 503 {
		t.Errorf("after Close: %v, want a store failure (503)", err)
	}
	if err := d.Reload(); err == nil {
		t.Error("Reload after Close succeeded")
	}
}

func FuzzParseAuthorizedKeys(f *testing.F) {
	f.Add(ksFixture(f, "alice"))
	f.Add([]byte("# x\n-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAK5jYktqBkEt0j0AbTalQDrEtkNXbiVAOk77finHazig=\n-----END PUBLIC KEY-----\n"))
	f.Add([]byte(`from="x" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICuY2JLagZBLdI9AG02pUA6xLZDV24lQDpO+34px2s4o c`))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := asymjwt.ParseAuthorizedKeys(data)
		if err != nil {
			return
		}
		seen := make(map[string]bool)
		for _, k := range keys {
			if fp, err := asymjwt.Fingerprint(k.Public); err != nil || fp != k.KeyID {
				t.Fatalf("KeyID %s, fingerprint %s (%v)", k.KeyID, fp, err)
			}
			if seen[k.KeyID] {
				t.Fatalf("key %s twice", k.KeyID)
			}
			seen[k.KeyID] = true
			if strings.ContainsAny(k.Label, "\n") {
				t.Fatalf("label %q spans lines", k.Label)
			}
		}
	})
}

func TestAuthorizedKeysDirLookupsDoNotAllocate(t *testing.T) {
	dir := t.TempDir()
	a := ksNewParty(t, "alice", nil)
	ksWriteAtomic(t, dir, "alice", a.line(t, ""))
	d := ksOpenDir(t, dir, asymjwt.WithAuthorizedKeysPollInterval(0))
	ctx := context.Background()
	for _, kid := range []string{a.kid, ""} {
		if n := testing.AllocsPerRun(100, func() {
			if _, err := d.Keys(ctx, "alice", kid); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("Keys(alice, %q) allocates %v times", kid, n)
		}
	}
}
