package asymjwt_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

func TestMemoryReplayStore(t *testing.T) {
	clock := time.Unix(now, 0)
	s := asymjwt.NewMemoryReplayStore(asymjwt.WithClock(func() time.Time { return clock }))
	ctx := context.Background()
	exp := clock.Add(21 * time.Second)
	steps := []struct {
		name    string
		advance time.Duration
		key     string
		expires time.Time
		want    bool
	}{
		{"first claim", 0, "k1", exp, true},
		{"second claim", 0, "k1", exp, false},
		{"other key", 0, "k2", exp, true},
		{"still live one second before expiry", 20 * time.Second, "k1", exp, false},
		{"free again at expiry", time.Second, "k1", clock.Add(42 * time.Second), true},
		{"already expired: refused, the store could not remember it", 0, "k3", clock.Add(-time.Second), false},
		{"hex key form", 0, "0123456789abcdef0123456789abcdef", clock.Add(time.Hour), true},
		{"hex key form again", 0, "0123456789abcdef0123456789abcdef", clock.Add(time.Hour), false},
	}
	for _, st := range steps {
		clock = clock.Add(st.advance)
		got, err := s.Claim(ctx, st.key, st.expires)
		if err != nil || got != st.want {
			t.Fatalf("%s: got %v, %v; want %v", st.name, got, err, st.want)
		}
	}
}

func TestMemoryReplayStoreCapRefusesWithoutEvicting(t *testing.T) {
	clock := time.Unix(now, 0)
	s := asymjwt.NewMemoryReplayStore(asymjwt.WithMaxEntries(256), asymjwt.WithClock(func() time.Time { return clock }))
	ctx := context.Background()
	var accepted []string
	var fullErr error
	for i := 0; fullErr == nil && i < 100000; i++ {
		key := fmt.Sprint("k", i)
		ok, err := s.Claim(ctx, key, clock.Add(30*time.Second))
		switch {
		case err != nil:
			fullErr = err
		case ok:
			accepted = append(accepted, key)
		}
	}
	if !errors.Is(fullErr, asymjwt.ErrReplayStoreFull) || !errors.Is(fullErr, asymjwt.ErrStoreUnavailable) {
		t.Fatalf("err = %v, want ErrReplayStoreFull wrapping ErrStoreUnavailable", fullErr)
	}
	if s.Len() > 256 {
		t.Fatalf("%d entries over a cap of 256", s.Len())
	}
	// Nothing accepted was evicted: every one is still a replay.
	for _, key := range accepted {
		if ok, err := s.Claim(ctx, key, clock.Add(30*time.Second)); ok || err != nil {
			t.Fatalf("%s evicted (ok=%v err=%v)", key, ok, err)
		}
	}
	// Once the entries expire they are swept, not counted against the
	// cap: the same keys (which fitted together before) fit again.
	clock = clock.Add(31 * time.Second)
	for _, key := range accepted {
		if ok, err := s.Claim(ctx, key, clock.Add(30*time.Second)); !ok || err != nil {
			t.Fatalf("%s after expiry: %v, %v", key, ok, err)
		}
	}
}

func TestMemoryReplayStoreConcurrent(t *testing.T) {
	s := asymjwt.NewMemoryReplayStore()
	exp := time.Now().Add(time.Minute)
	const keys, workers = 200, 16
	var wins [keys]atomic.Int32
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range keys {
				ok, err := s.Claim(context.Background(), fmt.Sprint("key", k), exp)
				if err != nil {
					t.Error(err)
				}
				if ok {
					wins[k].Add(1)
				}
			}
		}()
	}
	wg.Wait()
	for k := range wins {
		if n := wins[k].Load(); n != 1 {
			t.Fatalf("key %d claimed %d times", k, n)
		}
	}
}
