package asymjwt

import (
	"cmp"
	"context"
	"crypto"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// LastUsedStore wraps a KeyStore and records when each key last
// authenticated a request — the Python library's last_used_on. The
// verifier tells it after every success (KeyUseRecorder). Records are
// kept in memory only: one atomic store per request, no I/O, no
// allocation once a key has been seen. To keep them across restarts,
// save Uses periodically. Memory grows with the keys that ever
// authenticated, not with traffic: entries are only made after a
// successful verification.
type LastUsedStore struct {
	store KeyStore
	mu    sync.RWMutex
	uses  map[keyUse]*atomic.Int64 // Unix nanoseconds of the latest use
}

type keyUse struct{ username, kid string }

// KeyUse is one key's latest use.
type KeyUse struct {
	Username string
	KeyID    string
	LastUsed time.Time
}

// NewLastUsedStore wraps store.
func NewLastUsedStore(store KeyStore) *LastUsedStore {
	return &LastUsedStore{store: store, uses: make(map[keyUse]*atomic.Int64)}
}

// Keys implements KeyStore by asking the wrapped store.
func (s *LastUsedStore) Keys(ctx context.Context, username, kid string) ([]crypto.PublicKey, error) {
	return s.store.Keys(ctx, username, kid)
}

// KeysWithIDs implements KeyIDLister by asking the wrapped store; the kids
// are nil when that store does not keep them.
func (s *LastUsedStore) KeysWithIDs(ctx context.Context, username, kid string) ([]crypto.PublicKey, []string, error) {
	return keysWithIDs(ctx, s.store, username, kid)
}

// KeyUsed implements KeyUseRecorder. A time earlier than the one recorded
// is ignored, so concurrent requests cannot move it back.
func (s *LastUsedStore) KeyUsed(username, kid string, at time.Time) {
	k := keyUse{username, kid}
	s.mu.RLock()
	v := s.uses[k]
	s.mu.RUnlock()
	if v == nil {
		s.mu.Lock()
		if v = s.uses[k]; v == nil {
			v = new(atomic.Int64)
			s.uses[k] = v
		}
		s.mu.Unlock()
	}
	ns := at.UnixNano()
	for {
		old := v.Load()
		if ns <= old || v.CompareAndSwap(old, ns) {
			return
		}
	}
}

// LastUsed returns when the key with kid last authenticated username;
// false if it has not since the store was made.
func (s *LastUsedStore) LastUsed(username, kid string) (time.Time, bool) {
	s.mu.RLock()
	v := s.uses[keyUse{username, kid}]
	s.mu.RUnlock()
	if v == nil {
		return time.Time{}, false
	}
	return time.Unix(0, v.Load()), true
}

// Uses returns every recorded use, sorted by username and kid.
func (s *LastUsedStore) Uses() []KeyUse {
	s.mu.RLock()
	out := make([]KeyUse, 0, len(s.uses))
	for k, v := range s.uses {
		out = append(out, KeyUse{Username: k.username, KeyID: k.kid, LastUsed: time.Unix(0, v.Load())})
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b KeyUse) int {
		return cmp.Or(cmp.Compare(a.Username, b.Username), cmp.Compare(a.KeyID, b.KeyID))
	})
	return out
}
