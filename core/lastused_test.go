package asymjwt_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

func TestLastUsedStore(t *testing.T) {
	var now atomic.Int64
	now.Store(1_700_000_000)
	clock := func() time.Time { return time.Unix(now.Load(), 0) }
	alice := ksNewParty(t, "alice", nil, asymjwt.WithClock(clock))
	spare := ksNewParty(t, "alice", nil, asymjwt.WithClock(clock))
	bob := ksNewParty(t, "bob", nil, asymjwt.WithClock(clock))
	mem := asymjwt.NewMemoryKeyStore()
	for _, p := range []ksParty{alice, spare, bob} {
		must(mem.Add(p.username, p.key.Public()))
	}
	store := asymjwt.NewLastUsedStore(mem)
	v := ksVerifier(t, store, asymjwt.WithClock(clock))
	ctx := context.Background()

	tok := alice.token(t)
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	first := clock()
	if at, ok := store.LastUsed("alice", alice.kid); !ok || !at.Equal(first) {
		t.Errorf("LastUsed(alice's key) = %v, %v; want %v", at, ok, first)
	}
	for _, k := range []struct{ user, kid string }{{"alice", spare.kid}, {"bob", bob.kid}, {"bob", alice.kid}} {
		if _, ok := store.LastUsed(k.user, k.kid); ok {
			t.Errorf("LastUsed(%s, %s) recorded without a use", k.user, k.kid[:8])
		}
	}

	// Refused requests do not count as uses.
	now.Add(5)
	if _, err := v.Verify(ctx, tok); !errors.Is(err, asymjwt.ErrReplay) {
		t.Fatalf("replay: %v", err)
	}
	forged := ksNewParty(t, "alice", bob.key, asymjwt.WithClock(clock))
	if _, err := v.Verify(ctx, forged.token(t)); err == nil {
		t.Fatal("bob's key authenticated alice")
	}
	if at, _ := store.LastUsed("alice", alice.kid); !at.Equal(first) {
		t.Errorf("a refused request moved LastUsed to %v", at)
	}
	if _, ok := store.LastUsed("alice", bob.kid); ok {
		t.Error("a refused request recorded a use")
	}

	if _, err := v.Verify(ctx, bob.token(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ctx, alice.token(t)); err != nil {
		t.Fatal(err)
	}
	uses := store.Uses()
	want := []asymjwt.KeyUse{
		{Username: "alice", KeyID: alice.kid, LastUsed: clock()},
		{Username: "bob", KeyID: bob.kid, LastUsed: clock()},
	}
	if len(uses) != len(want) {
		t.Fatalf("Uses() = %+v", uses)
	}
	for i := range want {
		if uses[i].Username != want[i].Username || uses[i].KeyID != want[i].KeyID || !uses[i].LastUsed.Equal(want[i].LastUsed) {
			t.Errorf("Uses()[%d] = %+v, want %+v", i, uses[i], want[i])
		}
	}

	// An earlier time, as from a request that finished late, is ignored.
	store.KeyUsed("alice", alice.kid, first)
	if at, _ := store.LastUsed("alice", alice.kid); !at.Equal(clock()) {
		t.Errorf("LastUsed went back to %v", at)
	}
	// Lookups are the wrapped store's.
	if _, err := store.Keys(ctx, "carol", ""); !errors.Is(err, asymjwt.ErrUnknownUser) {
		t.Errorf("Keys(carol): %v", err)
	}
}

func TestLastUsedStoreConcurrent(t *testing.T) {
	store := asymjwt.NewLastUsedStore(asymjwt.NewMemoryKeyStore())
	base := time.Unix(1_700_000_000, 0)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				store.KeyUsed("alice", "kid", base.Add(time.Duration(i*8+g)*time.Millisecond))
				store.KeyUsed("user", string(rune('a'+g)), base)
			}
		}()
	}
	wg.Wait()
	latest := base.Add(time.Duration(999*8+7) * time.Millisecond)
	if at, _ := store.LastUsed("alice", "kid"); !at.Equal(latest) {
		t.Errorf("LastUsed = %v, want the latest %v", at, latest)
	}
	if n := len(store.Uses()); n != 9 {
		t.Errorf("%d uses recorded, want 9", n)
	}
}

func TestLastUsedStoreRecordsWithoutAllocating(t *testing.T) {
	store := asymjwt.NewLastUsedStore(asymjwt.NewMemoryKeyStore())
	at := time.Unix(1_700_000_000, 0)
	store.KeyUsed("alice", "kid", at)
	if n := testing.AllocsPerRun(100, func() {
		at = at.Add(time.Second)
		store.KeyUsed("alice", "kid", at)
	}); n != 0 {
		t.Errorf("KeyUsed allocates %v times per call", n)
	}
}
