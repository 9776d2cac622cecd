package asymjwt_test

import (
	"context"
	"crypto"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

// ksStoreFunc is a KeyStore made of a function.
type ksStoreFunc func(ctx context.Context, username, kid string) ([]crypto.PublicKey, error)

func (f ksStoreFunc) Keys(ctx context.Context, username, kid string) ([]crypto.PublicKey, error) {
	return f(ctx, username, kid)
}

var errKSStoreDown = errors.New("store down")

func TestChainKeyStores(t *testing.T) {
	a := ksNewParty(t, "alice", nil)
	b := ksNewParty(t, "alice", nil)
	c := ksNewParty(t, "bob", nil)
	first, second := asymjwt.NewMemoryKeyStore(), asymjwt.NewMemoryKeyStore()
	must(first.Add("alice", a.key.Public()))
	must(second.Add("alice", b.key.Public()))
	must(second.Add("bob", c.key.Public()))
	failing := ksStoreFunc(func(context.Context, string, string) ([]crypto.PublicKey, error) {
		return nil, errKSStoreDown
	})
	silent := ksStoreFunc(func(context.Context, string, string) ([]crypto.PublicKey, error) { return nil, nil })

	tests := []struct {
		name      string
		stores    []asymjwt.KeyStore
		user, kid string
		want      string // kid of the one key expected
		err       error
	}{
		{"first that knows the user wins", []asymjwt.KeyStore{first, second}, "alice", "", a.kid, nil},
		{"by kid in the owner", []asymjwt.KeyStore{first, second}, "alice", a.kid, a.kid, nil},
		{"owner's unknown key is final", []asymjwt.KeyStore{first, second}, "alice", b.kid, "", asymjwt.ErrUnknownKey},
		{"later store for its own user", []asymjwt.KeyStore{first, second}, "bob", c.kid, c.kid, nil},
		{"unknown everywhere", []asymjwt.KeyStore{first, second}, "carol", "", "", asymjwt.ErrUnknownUser},
		{"failure is not masked", []asymjwt.KeyStore{failing, second}, "bob", "", "", errKSStoreDown},
		{"failure after unknown is not masked", []asymjwt.KeyStore{first, failing}, "carol", "", "", errKSStoreDown},
		{"owner found before a failing store", []asymjwt.KeyStore{second, failing}, "bob", "", c.kid, nil},
		{"no keys without kid: not the owner", []asymjwt.KeyStore{silent, second}, "bob", "", c.kid, nil},
		{"no keys for a kid: unknown key", []asymjwt.KeyStore{silent, second}, "bob", c.kid, "", asymjwt.ErrUnknownKey},
		{"empty chain", nil, "alice", "", "", asymjwt.ErrUnknownUser},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := asymjwt.ChainKeyStores(tt.stores...).Keys(context.Background(), tt.user, tt.kid)
			if !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Fatalf("error %v, want %v", err, tt.err)
			}
			if tt.want == "" {
				if len(keys) != 0 {
					t.Errorf("%d keys with the error", len(keys))
				}
				return
			}
			if len(keys) != 1 || must(asymjwt.Fingerprint(keys[0])) != tt.want {
				t.Errorf("got %d keys, want only %s", len(keys), tt.want[:8])
			}
		})
	}

	// Through a verifier: a failing store is a 503, an unowned key a 401.
	if err := ksVerify(t, ksVerifier(t, asymjwt.ChainKeyStores(failing, second)), c); asymjwt.StatusCode(err) != 503 {
		t.Errorf("failing store first: %v, want 503", err)
	}
	v := ksVerifier(t, asymjwt.ChainKeyStores(first, second))
	if err := ksVerify(t, v, b); !errors.Is(err, asymjwt.ErrUnknownKey) || asymjwt.StatusCode(err) != 401 {
		t.Errorf("a key from a store that does not own the user: %v", err)
	}
	for _, p := range []ksParty{a, c} {
		if err := ksVerify(t, v, p); err != nil {
			t.Errorf("%s: %v", p.username, err)
		}
	}
}

func TestChainKeyStoresKeepsItsOwnList(t *testing.T) {
	alice := ksNewParty(t, "alice", nil)
	mem := asymjwt.NewMemoryKeyStore()
	must(mem.Add("alice", alice.key.Public()))
	stores := []asymjwt.KeyStore{mem}
	chain := asymjwt.ChainKeyStores(stores...)
	stores[0] = asymjwt.NewMemoryKeyStore()
	if _, err := chain.Keys(context.Background(), "alice", ""); err != nil {
		t.Errorf("changing the caller's slice changed the chain: %v", err)
	}
}

func TestChainKeyStoresRefusesNil(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("a nil store did not panic")
		}
	}()
	asymjwt.ChainKeyStores(asymjwt.NewMemoryKeyStore(), nil)
}

// BenchmarkVerifyKeySources verifies Ed25519 tokens through each key
// source, to compare with MemoryKeyStore in one run. The JWKS trust is
// measured on its cached path, after its first fetch.
func BenchmarkVerifyKeySources(b *testing.B) {
	for _, src := range ksBenchSources(b) {
		b.Run(src.name, func(b *testing.B) {
			clock := func() time.Time { return time.Unix(1_700_000_000, 0) }
			v := ksVerifier(b, src.store, asymjwt.WithClock(clock))
			signer := must(asymjwt.NewSigner("alice", src.key, asymjwt.WithClock(clock)))
			tokens := make([]string, b.N)
			for i := range tokens {
				tokens[i] = must(signer.Token())
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

// BenchmarkKeySourceLookup is the lookup alone: KeyStore.Keys by username
// and kid, as the verifier calls it.
func BenchmarkKeySourceLookup(b *testing.B) {
	for _, src := range ksBenchSources(b) {
		b.Run(src.name, func(b *testing.B) {
			kid := must(asymjwt.Fingerprint(src.key.Public()))
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := src.store.Keys(ctx, "alice", kid); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

type ksBenchSource struct {
	name  string
	store asymjwt.KeyStore
	key   crypto.Signer
}

// ksBenchSources has alice's key in each kind of source, among 100 other
// users.
func ksBenchSources(b *testing.B) []ksBenchSource {
	b.Helper()
	key := must(asymjwt.GenerateKey(asymjwt.KindEd25519))
	others := asymjwt.NewMemoryKeyStore()
	mem := asymjwt.NewMemoryKeyStore()
	dir := b.TempDir()
	for i := range 100 {
		name := "user" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		p := ksNewParty(b, name, nil)
		must(others.Add(name, p.key.Public()))
		must(mem.Add(name, p.key.Public()))
		if err := os.WriteFile(filepath.Join(dir, name), []byte(p.line(b, "")), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	must(mem.Add("alice", key.Public()))
	line := must(asymjwt.MarshalPublicKeyOpenSSH(key.Public(), ""))
	if err := os.WriteFile(filepath.Join(dir, "alice"), line, 0o644); err != nil {
		b.Fatal(err)
	}
	d := must(asymjwt.OpenAuthorizedKeysDir(dir, asymjwt.WithAuthorizedKeysLogger(ksQuiet)))
	b.Cleanup(func() { d.Close() })

	srv := ksNewJWKSServer(b, key.Public())
	tr := asymjwt.NewJWKSTrust(asymjwt.WithJWKSHTTPClient(srv.Client()), asymjwt.WithJWKSLogger(ksQuiet))
	b.Cleanup(func() { tr.Close() })
	if err := tr.Trust("alice", srv.URL); err != nil {
		b.Fatal(err)
	}
	if _, err := tr.Keys(context.Background(), "alice", ""); err != nil {
		b.Fatal(err)
	}
	if n := srv.fetches.Load(); n != 1 {
		b.Fatalf("%d fetches", n)
	}
	return []ksBenchSource{
		{"memory", mem, key},
		{"authorized-keys-dir", d, key},
		{"jwks-trust", tr, key},
		{"chain-memory-then-jwks", asymjwt.ChainKeyStores(others, tr), key},
		{"last-used-memory", asymjwt.NewLastUsedStore(mem), key},
	}
}

func TestChainAuthorizedKeysDirOwnsItsUsers(t *testing.T) {
	// A user whose file exists belongs to the directory, loaded or not:
	// the store further down must never answer for them.
	owner := ksNewParty(t, "alice", nil)
	lower := ksNewParty(t, "alice", nil) // the key the next store holds for alice
	bad := "ssh-ed25519 AAAA-typo\n" + owner.line(t, "")
	tests := []struct {
		name    string
		content []string // successive versions, each loaded in turn
		owner   error    // verifying a token of owner.key
		lower   error    // verifying a token of lower.key
		status  int      // of the lower key's refusal
	}{
		{"no file: the next store answers", nil, asymjwt.ErrUnknownKey, nil, 200},
		{"good file", []string{owner.line(t, "")}, nil, asymjwt.ErrUnknownKey, 401},
		{"empty file", []string{""}, asymjwt.ErrUnknownKey, asymjwt.ErrUnknownKey, 401},
		{"only comments", []string{"# keys come later\n"}, asymjwt.ErrUnknownKey, asymjwt.ErrUnknownKey, 401},
		{"bad since it appeared", []string{bad}, asymjwt.ErrStoreUnavailable, asymjwt.ErrStoreUnavailable, 503},
		{"bad after good keeps the last good keys", []string{owner.line(t, ""), bad}, nil, asymjwt.ErrUnknownKey, 401},
		{"empty after bad", []string{bad, ""}, asymjwt.ErrUnknownKey, asymjwt.ErrUnknownKey, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			d := ksOpenDir(t, dir, asymjwt.WithAuthorizedKeysPollInterval(0),
				asymjwt.WithAuthorizedKeysErrorHandler(func(error) {}))
			for _, c := range tt.content {
				ksWriteAtomic(t, dir, "alice", c)
				_ = d.Reload() // problems are the point of some cases
			}
			mem := asymjwt.NewMemoryKeyStore()
			must(mem.Add("alice", lower.key.Public()))
			v := ksVerifier(t, asymjwt.ChainKeyStores(d, mem))
			for _, c := range []struct {
				p    ksParty
				want error
			}{{owner, tt.owner}, {lower, tt.lower}} {
				err := ksVerify(t, v, c.p)
				if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
					t.Errorf("key %s: %v, want %v", c.p.kid[:8], err, c.want)
				}
			}
			if got := asymjwt.StatusCode(ksVerify(t, v, lower)); got != tt.status {
				t.Errorf("the lower store's key: status %d, want %d", got, tt.status)
			}
		})
	}
}
