package asymjwt_test

import (
	"context"
	"crypto"
	"errors"
	"testing"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

func TestMemoryKeyStore(t *testing.T) {
	s := asymjwt.NewMemoryKeyStore()
	ctx := context.Background()
	var kids []string
	for range 3 {
		key, _ := asymjwt.GenerateKey("ed25519")
		kid, err := s.Add("alice", key.Public())
		if err != nil {
			t.Fatal(err)
		}
		if again, _ := s.Add("alice", key.Public()); again != kid {
			t.Fatal("re-adding changed the kid")
		}
		kids = append(kids, kid)
	}
	all, allKIDs, err := s.KeysWithIDs(ctx, "alice", "")
	if err != nil || len(all) != 3 || len(allKIDs) != 3 {
		t.Fatalf("%d keys, %d kids, %v", len(all), len(allKIDs), err)
	}
	for i, pub := range all {
		if fp, _ := asymjwt.Fingerprint(pub); fp != allKIDs[i] {
			t.Fatalf("kid %d does not match its key", i)
		}
	}
	// Removing the middle key leaves the others findable by kid, and
	// does not change slices already handed out.
	if !s.Remove("alice", kids[1]) || s.Remove("alice", kids[1]) {
		t.Fatal("Remove reported wrongly")
	}
	for i, kid := range kids {
		keys, got, err := s.KeysWithIDs(ctx, "alice", kid)
		switch {
		case i == 1 && !errors.Is(err, asymjwt.ErrUnknownKey):
			t.Fatalf("removed key: err = %v", err)
		case i != 1 && (err != nil || len(keys) != 1 || got[0] != kid):
			t.Fatalf("key %d after removal: %v %v", i, got, err)
		}
	}
	if fp, _ := asymjwt.Fingerprint(all[1]); fp != kids[1] {
		t.Fatal("a slice handed out before Remove was modified")
	}
	s.Remove("alice", kids[0])
	s.Remove("alice", kids[2])
	if _, err := s.Keys(ctx, "alice", ""); !errors.Is(err, asymjwt.ErrUnknownUser) {
		t.Fatalf("user with no keys: err = %v", err)
	}
	if _, err := s.Add("", all[0]); err == nil {
		t.Fatal("empty username accepted")
	}
}

// inconsistentStore claims to know kids but returns the wrong number.
type inconsistentStore struct{ *asymjwt.MemoryKeyStore }

func (s inconsistentStore) KeysWithIDs(ctx context.Context, username, kid string) ([]crypto.PublicKey, []string, error) {
	keys, kids, err := s.MemoryKeyStore.KeysWithIDs(ctx, username, kid)
	return keys, append(kids, "extra"), err
}

func TestInconsistentKeyIDListerFailsClosed(t *testing.T) {
	w := newWorld(t)
	v := newTestVerifier(t, inconsistentStore{w.keys})
	s, _ := asymjwt.NewSigner("alice", w.aliceEd.key)
	tok, _ := s.Token()
	if _, err := v.Verify(context.Background(), tok); !errors.Is(err, asymjwt.ErrStoreUnavailable) {
		t.Fatalf("err = %v, want ErrStoreUnavailable", err)
	}
}
