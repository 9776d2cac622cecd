package asymjwt

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"slices"
)

// keyChain is the KeyStore of ChainKeyStores.
type keyChain []KeyStore

// ChainKeyStores returns a KeyStore that asks stores in order, and the
// first that knows the user wins: it alone decides about that user's
// keys. A user is known to a store unless the store answers
// ErrUnknownUser (or no keys and no error, for a lookup without kid).
// So a store further down can never add a key to a user that an earlier
// store owns: ErrUnknownKey from the owner is final. Put the stores you
// administer most carefully first.
//
// Any other error stops the chain and is returned as it is, so the
// verifier refuses the request as a store failure (503): a store that
// could not answer might have owned the user, and asking the next one
// instead would let it answer for a user it does not own. The stores of
// this package answer so: AuthorizedKeysDir for a user whose file exists
// but never loaded, JWKSTrust for a URL never fetched or past its max
// staleness; a user with no keys at all (an empty file, an empty set) is
// ErrUnknownKey, final too. Unknown everywhere is ErrUnknownUser.
//
// The chain does not record key use: wrap it in NewLastUsedStore for
// that. It panics if a store is nil.
func ChainKeyStores(stores ...KeyStore) KeyStore {
	for i, s := range stores {
		if s == nil {
			panic(fmt.Sprintf("asymjwt: ChainKeyStores: store %d is nil", i))
		}
	}
	return keyChain(slices.Clone(stores))
}

// Keys implements KeyStore.
func (c keyChain) Keys(ctx context.Context, username, kid string) ([]crypto.PublicKey, error) {
	keys, _, err := c.KeysWithIDs(ctx, username, kid)
	return keys, err
}

// KeysWithIDs implements KeyIDLister: the kids come from the store that
// answered, nil when it does not keep them.
func (c keyChain) KeysWithIDs(ctx context.Context, username, kid string) ([]crypto.PublicKey, []string, error) {
	for _, s := range c {
		keys, kids, err := keysWithIDs(ctx, s, username, kid)
		switch {
		case err == nil && len(keys) > 0:
			return keys, kids, nil
		case err == nil && kid != "":
			return nil, nil, ErrUnknownKey
		case err == nil, errors.Is(err, ErrUnknownUser):
			continue
		}
		return nil, nil, err
	}
	return nil, nil, ErrUnknownUser
}
