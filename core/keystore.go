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

// MemoryKeyStore is a KeyStore held in memory: keys added in code, O(1)
// lookup by username and kid, safe for concurrent use. Lookups do not
// allocate.
type MemoryKeyStore struct {
	mu    sync.RWMutex
	users map[string]*memoryUser
}

type memoryUser struct {
	all   []crypto.PublicKey            // every key, in the order added; replaced, never mutated
	kids  []string                      // kids[i] is the fingerprint of all[i]
	byKID map[string][]crypto.PublicKey // kid -> that one key
}

// NewMemoryKeyStore returns an empty MemoryKeyStore.
func NewMemoryKeyStore() *MemoryKeyStore {
	return &MemoryKeyStore{users: make(map[string]*memoryUser)}
}

// Add registers pub for username and returns its kid. Adding a key that is
// already registered for the user is a no-op.
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
		u = &memoryUser{byKID: make(map[string][]crypto.PublicKey)}
		s.users[username] = u
	}
	if _, ok := u.byKID[kid]; ok {
		return kid, nil
	}
	u.byKID[kid] = []crypto.PublicKey{pub}
	u.all = append(u.all[:len(u.all):len(u.all)], pub)
	u.kids = append(u.kids, kid)
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
	if _, ok := u.byKID[kid]; !ok {
		return false
	}
	delete(u.byKID, kid)
	if len(u.byKID) == 0 {
		delete(s.users, username)
		return true
	}
	all := make([]crypto.PublicKey, 0, len(u.all)-1)
	kids := make([]string, 0, len(u.kids)-1)
	for i, k := range u.all {
		if u.kids[i] != kid {
			all = append(all, k)
			kids = append(kids, u.kids[i])
		}
	}
	u.all, u.kids = all, kids
	return true
}

// Keys implements KeyStore.
func (s *MemoryKeyStore) Keys(_ context.Context, username, kid string) ([]crypto.PublicKey, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u := s.users[username]
	if u == nil {
		return nil, ErrUnknownUser
	}
	if kid == "" {
		return u.all, nil
	}
	if one, ok := u.byKID[kid]; ok {
		return one, nil
	}
	return nil, ErrUnknownKey
}
