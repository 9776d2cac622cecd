package asymjwt

import (
	"context"
	"time"
)

// Identity is an authenticated caller.
type Identity struct {
	// Username is who the client is; its key proved it.
	Username string
	// KeyID is the fingerprint (kid) of the key that verified the token.
	KeyID string
	// Algorithm is the JWS alg the token was signed with.
	Algorithm string
	// Time is the token's time claim.
	Time time.Time
	// Nonce is the token's nonce.
	Nonce string
	// Audience is the token's aud claim, if any.
	Audience []string
	// RequestBound and BodyBound tell whether the token carried a qsh or
	// bh claim that matched the request.
	RequestBound, BodyBound bool

	verifier *Verifier // which Verifier authenticated it
	token    string    // and from which token
}

type identityKey struct{}

// NewContext returns ctx carrying id.
func NewContext(ctx context.Context, id *Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// FromContext returns the identity the middleware put on ctx; false for an
// anonymous request (optional mode) or one that never passed it.
func FromContext(ctx context.Context) (*Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(*Identity)
	return id, ok && id != nil
}

// Authenticated returns the identity that v itself already authenticated
// from the credential in authorization (the request's Authorization
// values) for the request whose context is ctx. Middleware calls it
// first, so that stacked middleware (optional on every route, required on
// a group) does not verify the same token twice, which would refuse it as
// a replay. An identity from another Verifier does not count (its checks
// may have been weaker), nor one verified from another credential (a
// framework that reuses request contexts must not lend one request's
// identity to the next).
func (v *Verifier) Authenticated(ctx context.Context, authorization []string) (*Identity, bool) {
	id, ok := FromContext(ctx)
	if !ok || id.verifier != v {
		return nil, false
	}
	if token, err := v.TokenFromHeader(authorization); err != nil || token != id.token {
		return nil, false
	}
	return id, true
}
