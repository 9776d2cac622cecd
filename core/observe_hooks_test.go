package asymjwt_test

import (
	"context"
	"crypto"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

// slowKeys is a KeyStore that takes delay to answer.
type slowKeys struct {
	asymjwt.KeyStore
	delay time.Duration
}

func (s slowKeys) Keys(ctx context.Context, username, kid string) ([]crypto.PublicKey, error) {
	time.Sleep(s.delay)
	return s.KeyStore.Keys(ctx, username, kid)
}

func TestOutcomeElapsed(t *testing.T) {
	p := ksNewParty(t, "alice", nil)
	keys := asymjwt.NewMemoryKeyStore()
	if _, err := keys.Add("alice", p.key.Public()); err != nil {
		t.Fatal(err)
	}
	const delay = 20 * time.Millisecond
	var got []asymjwt.Outcome
	v := ksVerifier(t, slowKeys{keys, delay}, asymjwt.WithObserver(func(_ context.Context, o asymjwt.Outcome) {
		got = append(got, o)
	}))
	if err := ksVerify(t, v, p); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Authenticate(context.Background(), nil, nil); !errors.Is(err, asymjwt.ErrNoCredentials) {
		t.Fatalf("no credentials: %v", err)
	}
	if len(got) != 2 {
		t.Fatalf("%d outcomes, want 2", len(got))
	}
	if got[0].Err != nil || got[0].Elapsed < delay {
		t.Errorf("accepted: err %v, elapsed %v; want nil and at least %v", got[0].Err, got[0].Elapsed, delay)
	}
	if got[1].Elapsed < 0 || got[1].Elapsed >= delay {
		t.Errorf("refused before any lookup: elapsed %v, want in [0, %v)", got[1].Elapsed, delay)
	}
}

// reloadResults collects what a reload handler is given.
type reloadResults struct {
	mu      sync.Mutex
	results []error
}

func (r *reloadResults) handle(err error) {
	r.mu.Lock()
	r.results = append(r.results, err)
	r.mu.Unlock()
}

func (r *reloadResults) get() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.results...)
}

func TestAuthorizedKeysReloadHandler(t *testing.T) {
	dir := t.TempDir()
	alice := ksNewParty(t, "alice", nil)
	ksWriteAtomic(t, dir, "alice", alice.line(t, "a"))
	var r reloadResults
	d := ksOpenDir(t, dir, asymjwt.WithAuthorizedKeysPollInterval(0), asymjwt.WithAuthorizedKeysReloadHandler(r.handle))
	if got := r.get(); len(got) != 1 || got[0] != nil {
		t.Fatalf("after the first load: %v, want [nil]", got)
	}
	ksWriteAtomic(t, dir, "bob", "not a key\n")
	if err := d.Reload(); err == nil {
		t.Fatal("Reload of a bad file: no error")
	}
	if got := r.get(); len(got) != 2 || got[1] == nil {
		t.Fatalf("after a bad reload: %v, want [nil, error]", got)
	}
	if err := os.Remove(filepath.Join(dir, "bob")); err != nil {
		t.Fatal(err)
	}
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := r.get(); len(got) != 3 || got[2] != nil {
		t.Fatalf("after a good reload: %v, want [nil, error, nil]", got)
	}
	d.Close()
	if err := d.Reload(); err == nil {
		t.Fatal("Reload after Close: no error")
	}
	if got := r.get(); len(got) != 3 {
		t.Fatalf("a closed store's Reload was passed: %v", got)
	}
}

func TestJWKSReloadHandler(t *testing.T) {
	alice := ksNewParty(t, "alice", nil)
	srv := ksNewJWKSServer(t, alice.key.Public())
	var r reloadResults
	tr := ksTrust(t, srv, asymjwt.WithJWKSReloadHandler(r.handle),
		asymjwt.WithJWKSRefreshBounds(20*time.Millisecond, 20*time.Millisecond),
		asymjwt.WithJWKSMinRefreshInterval(20*time.Millisecond))
	ksMustTrust(t, tr, "alice", srv.URL)
	v := ksVerifier(t, tr)
	if err := ksVerify(t, v, alice); err != nil {
		t.Fatal(err)
	}
	ksEventually(t, 5*time.Second, "a good fetch passed", func() bool {
		got := r.get()
		return len(got) > 0 && got[0] == nil
	})
	srv.set(http.StatusInternalServerError, nil)
	ksEventually(t, 5*time.Second, "a failed fetch passed", func() bool {
		got := r.get()
		return got[len(got)-1] != nil
	})
	tr.Close()
	n := len(r.get())
	time.Sleep(60 * time.Millisecond)
	if got := r.get(); len(got) != n {
		t.Fatalf("fetches passed after Close: %v", got[n:])
	}
}
