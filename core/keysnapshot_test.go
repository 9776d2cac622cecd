package asymjwt_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"sync"
	"testing"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

// fakeSource is a key source whose users and availability tests set.
type fakeSource struct {
	mu    sync.Mutex
	users map[string]*asymjwt.SnapshotUser
	down  error
	loads int
}

func (f *fakeSource) load(_ context.Context, _ map[string]*asymjwt.SnapshotUser) (map[string]*asymjwt.SnapshotUser, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.loads++
	if f.down != nil {
		return nil, f.down
	}
	return f.users, nil
}

func (f *fakeSource) set(users map[string]*asymjwt.SnapshotUser, down error) {
	f.mu.Lock()
	f.users, f.down = users, down
	f.mu.Unlock()
}

func snapshotKey(t *testing.T) asymjwt.AuthorizedKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	kid, err := asymjwt.Fingerprint(pub)
	if err != nil {
		t.Fatal(err)
	}
	return asymjwt.AuthorizedKey{Public: pub, KeyID: kid}
}

func TestKeySnapshotsLookups(t *testing.T) {
	k1, k2 := snapshotKey(t), snapshotKey(t)
	broken := errors.New("broken")
	src := &fakeSource{users: map[string]*asymjwt.SnapshotUser{
		"alice": asymjwt.NewSnapshotUser([]asymjwt.AuthorizedKey{k1, k2}),
		"empty": asymjwt.NewSnapshotUser(nil),
		"bad":   asymjwt.NewFailedSnapshotUser(broken),
	}}
	s, err := asymjwt.NewKeySnapshots(context.Background(), src.load)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	keys, kids, err := s.KeysWithIDs(ctx, "alice", "")
	if err != nil || len(keys) != 2 || kids[0] != k1.KeyID || kids[1] != k2.KeyID {
		t.Fatalf("alice: %v %v %v", keys, kids, err)
	}
	keys, kids, err = s.KeysWithIDs(ctx, "alice", k2.KeyID)
	if err != nil || len(keys) != 1 || kids[0] != k2.KeyID {
		t.Fatalf("alice/k2: %v %v %v", keys, kids, err)
	}
	for _, c := range []struct {
		user, kid string
		want      error
	}{
		{"alice", "nope", asymjwt.ErrUnknownKey},
		{"empty", "", asymjwt.ErrUnknownKey},
		{"bad", "", broken},
		{"bob", "", asymjwt.ErrUnknownUser},
	} {
		if _, err := s.Keys(ctx, c.user, c.kid); !errors.Is(err, c.want) {
			t.Errorf("%s/%q: got %v, want %v", c.user, c.kid, err, c.want)
		}
	}
	if got := s.Users()["alice"].Keys(); len(got) != 2 {
		t.Errorf("Users: %v", got)
	}
	// A user with many keys is looked up through an index.
	many := make([]asymjwt.AuthorizedKey, 12)
	for i := range many {
		many[i] = snapshotKey(t)
	}
	u := asymjwt.NewSnapshotUser(many)
	for _, k := range many {
		if !u.Has(k.KeyID) {
			t.Fatalf("key %s of 12 not found", k.KeyID)
		}
	}
	if u.Has(k1.KeyID) || asymjwt.NewSnapshotUser(nil).Has(k1.KeyID) {
		t.Fatal("Has found a key the user does not have")
	}
}

func TestKeySnapshotsFailedFirstLoad(t *testing.T) {
	src := &fakeSource{down: errors.New("down")}
	if s, err := asymjwt.NewKeySnapshots(context.Background(), src.load); err == nil {
		s.Close()
		t.Fatal("a source down at start gave a store")
	}
}

// A source that fails keeps its last good snapshot up to the max
// staleness, then every lookup is a store error; a load that succeeds
// again brings it back.
func TestKeySnapshotsStaleness(t *testing.T) {
	k := snapshotKey(t)
	good := map[string]*asymjwt.SnapshotUser{"alice": asymjwt.NewSnapshotUser([]asymjwt.AuthorizedKey{k})}
	src := &fakeSource{users: good}
	const maxStale = 150 * time.Millisecond
	s, err := asymjwt.NewKeySnapshots(context.Background(), src.load,
		asymjwt.WithSnapshotReloadInterval(10*time.Millisecond), asymjwt.WithSnapshotMaxStaleness(maxStale))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	down := errors.New("source down")
	src.set(good, down)
	// Once a load has failed, no load succeeds any more: the last
	// success is final.
	for {
		if _, lastErr := s.Loaded(); lastErr != nil {
			break
		}
		time.Sleep(time.Millisecond)
	}
	start, _ := s.Loaded()
	if _, err := s.Keys(ctx, "alice", k.KeyID); err != nil && time.Since(start) < maxStale {
		t.Fatalf("just after the source went down: %v", err)
	}
	for {
		_, err := s.Keys(ctx, "alice", k.KeyID)
		if err != nil {
			if !errors.Is(err, down) || errors.Is(err, asymjwt.ErrUnknownUser) {
				t.Fatalf("stale lookup: %v", err)
			}
			if time.Since(start) < maxStale {
				t.Fatalf("refused after %v, before the max staleness", time.Since(start))
			}
			break
		}
		if time.Since(start) > 5*time.Second {
			t.Fatal("still served 5 s after the source went down")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := s.Keys(ctx, "nobody", ""); errors.Is(err, asymjwt.ErrUnknownUser) {
		t.Fatal("a stale snapshot answered unknown user (a chain would ask the next store)")
	}
	if _, lastErr := s.Loaded(); !errors.Is(lastErr, down) {
		t.Errorf("Loaded: %v", lastErr)
	}
	src.set(good, nil)
	if err := s.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Keys(ctx, "alice", k.KeyID); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
}

func TestKeySnapshotsUpdateAndClose(t *testing.T) {
	k := snapshotKey(t)
	src := &fakeSource{users: map[string]*asymjwt.SnapshotUser{}}
	s, err := asymjwt.NewKeySnapshots(context.Background(), src.load)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	err = s.Update(ctx, func(_ context.Context, cur map[string]*asymjwt.SnapshotUser) (map[string]*asymjwt.SnapshotUser, error) {
		return map[string]*asymjwt.SnapshotUser{"alice": asymjwt.NewSnapshotUser([]asymjwt.AuthorizedKey{k})}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Keys(ctx, "alice", k.KeyID); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s.Close()
	if _, err := s.Keys(ctx, "alice", k.KeyID); err == nil || errors.Is(err, asymjwt.ErrUnknownUser) {
		t.Fatalf("closed: %v", err)
	}
	if err := s.Reload(ctx); err == nil {
		t.Fatal("Reload after Close succeeded")
	}
}
