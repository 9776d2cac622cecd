package asymjwt

import "errors"

// Sentinel errors. Verification wraps one of them with %w, so callers match
// with errors.Is; the wrapped text carries the detail for logs, never for
// the client.
var (
	// ErrNoCredentials: the request carries no Authorization credential.
	ErrNoCredentials = errors.New("asymjwt: no credentials")
	// ErrMultipleCredentials: more than one Authorization value was sent.
	ErrMultipleCredentials = errors.New("asymjwt: more than one credential")
	// ErrScheme: the Authorization value does not use the expected scheme.
	ErrScheme = errors.New("asymjwt: wrong authorization scheme")
	// ErrTokenTooLarge: the token exceeds the size limit; it was not parsed.
	ErrTokenTooLarge = errors.New("asymjwt: token too large")
	// ErrMalformed: the token is not a well-formed compact JWS with valid claims.
	ErrMalformed = errors.New("asymjwt: malformed token")
	// ErrUnknownUser: no keys are registered for the claimed username.
	ErrUnknownUser = errors.New("asymjwt: unknown user")
	// ErrUnknownKey: the user exists but no key matches the token's kid.
	ErrUnknownKey = errors.New("asymjwt: unknown key")
	// ErrAlgorithm: the token's alg is not allowed for the key.
	ErrAlgorithm = errors.New("asymjwt: algorithm not allowed for key")
	// ErrSignature: the signature does not verify.
	ErrSignature = errors.New("asymjwt: invalid signature")
	// ErrStale: the token's time lies outside the tolerance window.
	ErrStale = errors.New("asymjwt: token time outside tolerance")
	// ErrReplay: the token was already used.
	ErrReplay = errors.New("asymjwt: token replayed")
	// ErrAudience: the token's aud does not name this service, or is required and absent.
	ErrAudience = errors.New("asymjwt: audience mismatch")
	// ErrRequestMismatch: the qsh or bh claim does not match the request, or is required and absent.
	ErrRequestMismatch = errors.New("asymjwt: request does not match token")
	// ErrBodyTooLarge: the body exceeds the limit for body hashing.
	ErrBodyTooLarge = errors.New("asymjwt: request body too large to hash")
	// ErrStoreUnavailable: a key or replay store failed; the request is refused (fail closed).
	ErrStoreUnavailable = errors.New("asymjwt: store unavailable")
	// ErrReplayStoreFull: the memory replay store reached its cap; it refuses
	// rather than evicting live entries. It wraps ErrStoreUnavailable.
	ErrReplayStoreFull = sentinelWrapping(ErrStoreUnavailable, "replay store full")
	// ErrReplayRetention: NewVerifier refused a replay store that would
	// forget a token while this verifier could still accept it (its
	// entries would not outlive tolerance + maximum clock skew + 1 s
	// after the token's time; docs/PROTOCOL.md §1.6).
	ErrReplayRetention = errors.New("asymjwt: replay store does not keep entries long enough")

	// ErrInvalidKey: a key could not be parsed, or is unsupported or too weak.
	ErrInvalidKey = errors.New("asymjwt: invalid key")
	// ErrPassphrase: the private key is encrypted and the passphrase is missing or wrong.
	ErrPassphrase = errors.New("asymjwt: missing or wrong passphrase")
)

// wrappedError is a sentinel that is also another sentinel.
type wrappedError struct {
	msg   string
	inner error
}

func (e *wrappedError) Error() string { return e.msg }
func (e *wrappedError) Unwrap() error { return e.inner }

func sentinelWrapping(inner error, msg string) error {
	return &wrappedError{msg: "asymjwt: " + msg, inner: inner}
}

// ErrWeakKey: a public key, or the public half of a private key, is of a
// supported type but weak: an Ed25519 key of small order or in a
// non-canonical encoding, an RSA key under MinRSABits, with an even
// modulus, a small prime factor or a bad exponent, an ECDSA key that is
// not a valid curve point. It wraps ErrInvalidKey.
var ErrWeakKey = sentinelWrapping(ErrInvalidKey, "weak key")
