package asymjwt

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"math/big"
	"testing"
)

// copyingStore hands out a fresh copy of its key on every lookup, as a
// store reading keys from a database row does.
type copyingStore struct{ key crypto.PublicKey }

func (s copyingStore) Keys(context.Context, string, string) ([]crypto.PublicKey, error) {
	switch k := s.key.(type) {
	case *rsa.PublicKey:
		return []crypto.PublicKey{&rsa.PublicKey{N: new(big.Int).Set(k.N), E: k.E}}, nil
	case *ecdsa.PublicKey:
		//lint:ignore SA1019 copying the numbers is the point.
		return []crypto.PublicKey{&ecdsa.PublicKey{Curve: k.Curve, X: new(big.Int).Set(k.X), Y: new(big.Int).Set(k.Y)}}, nil
	case *PinnedKey:
		return []crypto.PublicKey{&PinnedKey{PublicKey: k.PublicKey, Algorithm: k.Algorithm}}, nil
	case ed25519.PublicKey:
		return []crypto.PublicKey{append(ed25519.PublicKey(nil), k...)}, nil
	}
	return nil, errors.New("unexpected key type")
}

// TestKeyInfoCacheBoundedByKeys: the verifier's cache of fingerprints is
// keyed by key content. It was keyed by pointer for RSA and ECDSA keys:
// with a store handing out copies, every request — before any signature
// check, so from anyone naming a user — computed the fingerprint again
// and added an entry holding the copy, up to 131072 of them.
func TestKeyInfoCacheBoundedByKeys(t *testing.T) {
	rsaKey, err := GenerateKey(KindRSA)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := GenerateKey(KindP256)
	if err != nil {
		t.Fatal(err)
	}
	edKey, err := GenerateKey(KindEd25519)
	if err != nil {
		t.Fatal(err)
	}
	pinned, err := NewPinnedKey(rsaKey.Public(), PS256)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	for _, tt := range []struct {
		name string
		key  crypto.PublicKey
		alg  string
	}{
		{"RSA", rsaKey.Public(), RS256},
		{"ECDSA", ecKey.Public(), ES256},
		{"Ed25519", edKey.Public(), EdDSA},
		{"pinned RSA", pinned, PS256},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v, err := NewVerifier(copyingStore{tt.key}, WithReplayStore(NewMemoryReplayStore()))
			if err != nil {
				t.Fatal(err)
			}
			// Unsigned tokens: refused at the signature, after the lookup.
			token := enc([]byte(`{"alg":"`+tt.alg+`"}`)) + "." + enc([]byte(`{"username":"alice","time":1,"nonce":"n"}`)) + "." + enc([]byte("forged"))
			entries := func() int {
				v.keyInfo.mu.RLock()
				defer v.keyInfo.mu.RUnlock()
				return len(v.keyInfo.byPtr) + len(v.keyInfo.byBytes) + len(v.keyInfo.byContent)
			}
			verify := func() {
				if _, err := v.Verify(context.Background(), token); !errors.Is(err, ErrSignature) {
					t.Fatalf("Verify: %v; want ErrSignature", err)
				}
			}
			verify()
			first := entries()
			for range 100 {
				verify()
			}
			if n := entries(); n != first {
				t.Fatalf("%d cache entries after 101 lookups of copies of one key, %d after the first; want no growth", n, first)
			}
		})
	}
}
