package asymjwt

import (
	"context"
	"sync/atomic"
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

// vouched is what NewRequestContext puts on a context: an identity, and
// whether the request it was verified for is still being handled.
type vouched struct {
	id    *Identity
	ended atomic.Bool
}

func (m *vouched) end() { m.ended.Store(true) }

// NewContext returns ctx carrying id. Such an identity is what
// FromContext reports, but it vouches for no request: the middleware
// verifies the request's credential whatever the context carries.
func NewContext(ctx context.Context, id *Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// FromContext returns the identity the middleware put on ctx; false for
// an anonymous request (optional mode, skipped routes) or one that never
// passed it.
func FromContext(ctx context.Context) (*Identity, bool) {
	switch x := ctx.Value(identityKey{}).(type) {
	case *Identity:
		return x, x != nil
	case *vouched:
		return x.id, true
	}
	return nil, false
}

// NewRequestContext is NewContext for middleware: it returns ctx carrying
// id, which v verified for the request being handled, and end, which the
// middleware must call (defer it) once the rest of its chain has returned.
// Until end, [Verifier.Authenticated] on the returned context or one
// derived from it reports id to the middleware of the same request
// stacked further in (optional on every route, required on a group),
// which then does not verify the token a second time: that would refuse
// it as a replay. After end it reports nothing: a framework that reuses
// one request's context for the next (fasthttp's RequestCtx) lends the
// next request nothing, even when it carries the same token, which is
// then verified and refused as replayed.
//
// An id that v did not verify (another Verifier's, or made by hand) is
// put on the context but vouches for nothing.
func (v *Verifier) NewRequestContext(ctx context.Context, id *Identity) (_ context.Context, end func()) {
	if id == nil {
		return WithoutIdentity(ctx), func() {}
	}
	m := &vouched{id: id}
	return context.WithValue(ctx, identityKey{}, m), m.end
}

// WithoutIdentity returns ctx with no identity for FromContext to find,
// or ctx itself when it carries none. Middleware hands it on for a
// request it lets through anonymously (optional mode, skipped routes), so
// that an identity left on a reused or hand-made context is never taken
// for the anonymous request's.
func WithoutIdentity(ctx context.Context) context.Context {
	if _, ok := FromContext(ctx); !ok {
		return ctx
	}
	return NewContext(ctx, nil)
}

// Authenticated returns the identity that v itself verified, for the
// request being handled, from the credential in authorization (the
// request's Authorization values): one NewRequestContext put on ctx and
// whose request has not ended. Middleware calls it first, so that stacked
// middleware (optional on every route, required on a group) does not
// verify the same token twice, which would refuse it as a replay.
//
// Nothing else counts: an identity from NewContext, from another Verifier
// (its checks may have been weaker), verified from another credential, or
// verified for an earlier request whose context is reused (fasthttp) or
// was carried into this one. The middleware then verifies the credential
// itself, and a token already used is refused as replayed.
func (v *Verifier) Authenticated(ctx context.Context, authorization []string) (*Identity, bool) {
	m, ok := ctx.Value(identityKey{}).(*vouched)
	if !ok || m.id.verifier != v || m.ended.Load() {
		return nil, false
	}
	if token, err := v.TokenFromHeader(authorization); err != nil || token != m.id.token {
		return nil, false
	}
	return m.id, true
}
