package asymjwt

import (
	"context"
	"crypto"
	"fmt"
	"sync"
)

// KeyStore finds the public keys registered for a username. A key
// registered for one username must never be returned for another.
//
// Implementations return ErrUnknownUser when the username has no keys and
// ErrUnknownKey when kid is set and matches none of them (wrapped is
// fine); any other error is a store failure and the request is refused
// with ErrStoreUnavailable. Returned slices are read, never modified.
type KeyStore interface {
	// Keys returns username's public keys; with kid set it may return just that key.
	Keys(ctx context.Context, username, kid string) ([]crypto.PublicKey, error)
}

// KeyIDLister is an optional extension of KeyStore for stores that keep
// each key's kid, so the verifier need not compute fingerprints: kids[i]
// must be Fingerprint(keys[i]). A store that wraps others may return nil
// kids when the wrapped store does not know them.
type KeyIDLister interface {
	KeysWithIDs(ctx context.Context, username, kid string) (keys []crypto.PublicKey, kids []string, err error)
}

// keysWithIDs asks store for keys, with their kids when it keeps them.
func keysWithIDs(ctx context.Context, store KeyStore, username, kid string) ([]crypto.PublicKey, []string, error) {
	if l, ok := store.(KeyIDLister); ok {
		return l.KeysWithIDs(ctx, username, kid)
	}
	keys, err := store.Keys(ctx, username, kid)
	return keys, nil, err
}

// MemoryKeyStore is a KeyStore held in memory: keys added in code, O(1)
// lookup by username and kid, safe for concurrent use. Lookups do not
// allocate.
type MemoryKeyStore struct {
	mu    sync.RWMutex
	users map[string]*memoryUser
}

// memoryUser's slices are replaced, never modified, since lookups hand
// out sub-slices of them.
type memoryUser struct {
	all   []crypto.PublicKey // every key, in the order added
	kids  []string           // kids[i] is the fingerprint of all[i]
	index map[string]int     // kid -> its position in all
}

// NewMemoryKeyStore returns an empty MemoryKeyStore.
func NewMemoryKeyStore() *MemoryKeyStore {
	return &MemoryKeyStore{users: make(map[string]*memoryUser)}
}

// Add registers pub for username and returns its kid. Adding a key that is
// already registered for the user is a no-op. Keys are checked as where
// any key enters: an unsupported key is refused with ErrInvalidKey, a
// weak one with ErrWeakKey.
func (s *MemoryKeyStore) Add(username string, pub crypto.PublicKey) (kid string, err error) {
	if username == "" || len(username) > maxUsernameLength {
		return "", fmt.Errorf("asymjwt: username must be 1-%d bytes", maxUsernameLength)
	}
	kid, err = Fingerprint(pub)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[username]
	if u == nil {
		u = &memoryUser{index: make(map[string]int)}
		s.users[username] = u
	}
	if _, ok := u.index[kid]; ok {
		return kid, nil
	}
	// Full slice expressions force a copy: slices handed out stay intact.
	u.all = append(u.all[:len(u.all):len(u.all)], pub)
	u.kids = append(u.kids[:len(u.kids):len(u.kids)], kid)
	u.index[kid] = len(u.all) - 1
	return kid, nil
}

// Remove unregisters the key with kid from username; it reports whether
// the key was there. A user whose last key is removed is unknown again.
func (s *MemoryKeyStore) Remove(username, kid string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[username]
	if u == nil {
		return false
	}
	if _, ok := u.index[kid]; !ok {
		return false
	}
	if len(u.all) == 1 {
		delete(s.users, username)
		return true
	}
	next := &memoryUser{index: make(map[string]int, len(u.all)-1)}
	for i, k := range u.all {
		if u.kids[i] != kid {
			next.all = append(next.all, k)
			next.kids = append(next.kids, u.kids[i])
			next.index[u.kids[i]] = len(next.all) - 1
		}
	}
	s.users[username] = next
	return true
}

// Keys implements KeyStore.
func (s *MemoryKeyStore) Keys(ctx context.Context, username, kid string) ([]crypto.PublicKey, error) {
	keys, _, err := s.KeysWithIDs(ctx, username, kid)
	return keys, err
}

// KeysWithIDs implements KeyIDLister.
func (s *MemoryKeyStore) KeysWithIDs(_ context.Context, username, kid string) ([]crypto.PublicKey, []string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u := s.users[username]
	if u == nil {
		return nil, nil, ErrUnknownUser
	}
	if kid == "" {
		return u.all, u.kids, nil
	}
	if i, ok := u.index[kid]; ok {
		return u.all[i : i+1 : i+1], u.kids[i : i+1 : i+1], nil
	}
	return nil, nil, ErrUnknownKey
}
