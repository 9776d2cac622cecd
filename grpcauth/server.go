package grpcauth

import (
	"context"
	"errors"
	"strings"

	asymjwt "github.com/asymjwt/asymjwt/core"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// MetadataKey is the metadata key that carries the credential, as the
// Authorization header does over HTTP (docs/PROTOCOL.md §1.1).
const MetadataKey = "authorization"

// Option configures UnaryServerInterceptor and StreamServerInterceptor.
type Option func(*config)

type config struct {
	exempt        []MethodSelector
	optional      bool
	errorMapper   func(ctx context.Context, fullMethod string, err error) error
	exposeDetails bool
}

// MethodSelector reports whether a call, by its full method name
// ("/pkg.Service/Method"), is selected.
type MethodSelector func(ctx context.Context, fullMethod string) bool

// WithExempt lets the calls chosen by any of selectors through without
// authentication: their credentials, if any, are not verified (a token
// sent there is not spent), and asymjwt.FromContext reports false in
// their handlers, unless an outer interceptor of the chain authenticated
// the call. Typical use:
//
//	grpcauth.WithExempt(grpcauth.HealthMethods, grpcauth.ReflectionMethods)
func WithExempt(selectors ...MethodSelector) Option {
	return func(c *config) { c.exempt = append(c.exempt, selectors...) }
}

// Optional lets calls without credentials through anonymously
// (asymjwt.FromContext reports false). Calls that present credentials must
// still pass: invalid credentials are refused, never downgraded.
func Optional() Option {
	return func(c *config) { c.optional = true }
}

// WithErrorMapper replaces the error returned on refusal. err matches the
// asymjwt sentinels with errors.Is, and Code(err) gives the default code.
// fn should return a status error (grpc turns others into codes.Unknown)
// and must not echo err to the client. If fn returns nil the default
// status is returned: a mapper can never let a refused call through.
func WithErrorMapper(fn func(ctx context.Context, fullMethod string, err error) error) Option {
	return func(c *config) { c.errorMapper = fn }
}

// InsecureExposeErrorDetails puts the refusal reason in the status
// message. It tells an attacker which check failed: for debugging only.
func InsecureExposeErrorDetails() Option {
	return func(c *config) { c.exposeDetails = true }
}

// HealthMethods selects the methods of the standard health service
// (grpc.health.v1.Health: Check, List, Watch), so load balancers and
// orchestrators can probe without a key.
func HealthMethods(_ context.Context, fullMethod string) bool {
	switch fullMethod {
	case "/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/List", "/grpc.health.v1.Health/Watch":
		return true
	}
	return false
}

// ReflectionMethods selects the server reflection service, both v1 and
// v1alpha, for tools such as grpcurl. Reflection lists every service and
// message the server has: exempt it only where that is not a secret.
func ReflectionMethods(_ context.Context, fullMethod string) bool {
	switch fullMethod {
	case "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
		"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo":
		return true
	}
	return false
}

// Methods selects the given full method names exactly.
func Methods(fullMethods ...string) MethodSelector {
	set := make(map[string]struct{}, len(fullMethods))
	for _, m := range fullMethods {
		set[m] = struct{}{}
	}
	return func(_ context.Context, fullMethod string) bool {
		_, ok := set[fullMethod]
		return ok
	}
}

// Code maps a verification error to its gRPC code: Unavailable when a key
// or replay store failed (fail closed; the call may be retried),
// Unauthenticated for every other failure, OK for nil.
func Code(err error) codes.Code {
	switch asymjwt.StatusCode(err) {
	case 200:
		return codes.OK
	case 503:
		return codes.Unavailable
	}
	return codes.Unauthenticated
}

// Status messages sent by default: they name no check, so a caller learns
// nothing about why it was refused.
const (
	msgUnauthenticated = "grpcauth: unauthenticated"
	msgUnavailable     = "grpcauth: authentication unavailable"
)

// errNoBody is why a bh claim never verifies here: the interceptor sees
// decoded messages, not the bytes a client could have hashed, so it has
// nothing to bind. Core wraps it in ErrRequestMismatch.
var errNoBody = errors.New("grpcauth: gRPC calls cannot be body-bound (bh)")

func noBody(int64) ([]byte, error) { return nil, errNoBody }

type authenticator struct {
	v   *asymjwt.Verifier
	cfg config
}

func newAuthenticator(v *asymjwt.Verifier, opts []Option) *authenticator {
	if v == nil {
		panic("grpcauth: nil *asymjwt.Verifier")
	}
	a := &authenticator{v: v}
	for _, o := range opts {
		o(&a.cfg)
	}
	return a
}

// authenticate returns the context the handler runs with and end, to be
// called when the handler returned, or the status error that refuses the
// call.
func (a *authenticator) authenticate(ctx context.Context, fullMethod string) (context.Context, func(), error) {
	values := incomingCredentials(ctx)
	if _, ok := a.v.Authenticated(ctx, values); ok {
		return ctx, noEnd, nil // an outer interceptor of this chain did it, for this call
	}
	for _, exempt := range a.cfg.exempt {
		if exempt(ctx, fullMethod) {
			return asymjwt.WithoutIdentity(ctx), noEnd, nil
		}
	}
	id, err := a.v.Authenticate(ctx, values, &asymjwt.Request{
		Method: "POST",
		Path:   fullMethod,
		Body:   noBody,
	})
	switch {
	case err == nil:
		// Vouched for this call until its handler returns (stacked
		// interceptors then verify once); a context carried into another
		// call vouches for nothing there.
		ctx, end := a.v.NewRequestContext(ctx, id)
		return ctx, end, nil
	case a.cfg.optional && asymjwt.IsAnonymous(err):
		return asymjwt.WithoutIdentity(ctx), noEnd, nil
	}
	return nil, nil, a.refusal(ctx, fullMethod, err)
}

func noEnd() {}

// incomingCredentials returns every value of the incoming "authorization"
// metadata of ctx, under every spelling of the key. grpc-go lower-cases
// the keys it reads from the wire, but metadata built in process (an
// in-process transport, a gateway, a test) may hold "authorization"
// beside "Authorization", and grpc's own accessors return the values of
// one of them only. The interceptors count them all, so that a second
// credential is refused (asymjwt.ErrMultipleCredentials, docs/PROTOCOL.md §1.1)
// rather than one picked.
func incomingCredentials(ctx context.Context) []string {
	// metadata.ValueFromIncomingContext looks the metadata up on the
	// context it is given: spy gets hold of the whole map that way.
	spy := mdSpy{Context: ctx}
	values := metadata.ValueFromIncomingContext(&spy, MetadataKey)
	if spy.md == nil {
		return values
	}
	values = values[:0]
	for k, vs := range spy.md {
		if len(k) == len(MetadataKey) && strings.EqualFold(k, MetadataKey) {
			values = append(values, vs...)
		}
	}
	return values
}

// mdSpy is a context that remembers the metadata looked up through it.
type mdSpy struct {
	context.Context
	md metadata.MD
}

func (s *mdSpy) Value(key any) any {
	v := s.Context.Value(key)
	if md, ok := v.(metadata.MD); ok {
		s.md = md
	}
	return v
}

func (a *authenticator) refusal(ctx context.Context, fullMethod string, err error) error {
	if a.cfg.errorMapper != nil {
		if mapped := a.cfg.errorMapper(ctx, fullMethod, err); mapped != nil {
			return mapped
		}
	}
	code := Code(err)
	switch {
	case a.cfg.exposeDetails:
		return status.Error(code, err.Error())
	case code == codes.Unavailable:
		return status.Error(code, msgUnavailable)
	}
	return status.Error(code, msgUnauthenticated)
}

// UnaryServerInterceptor authenticates every unary call before its
// handler runs. Refused calls end with codes.Unauthenticated (or
// codes.Unavailable when a store failed) and never reach the handler;
// accepted ones carry their identity: asymjwt.FromContext(ctx).
//
// The token's qsh claim, when present, must bind "POST" and the call's
// full method; build v with asymjwt.RequireRequestBinding to refuse tokens
// without it, so a token works only for the method it was made for.
func UnaryServerInterceptor(v *asymjwt.Verifier, opts ...Option) grpc.UnaryServerInterceptor {
	a := newAuthenticator(v, opts)
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, end, err := a.authenticate(ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		defer end()
		return handler(ctx, req)
	}
}

// StreamServerInterceptor is UnaryServerInterceptor for streaming calls:
// the handler gets a grpc.ServerStream whose Context carries the identity.
// The call is authenticated once, when the stream opens.
func StreamServerInterceptor(v *asymjwt.Verifier, opts ...Option) grpc.StreamServerInterceptor {
	a := newAuthenticator(v, opts)
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		orig := ss.Context()
		ctx, end, err := a.authenticate(orig, info.FullMethod)
		if err != nil {
			return err
		}
		defer end()
		if ctx != orig {
			ss = &serverStream{ServerStream: ss, ctx: ctx}
		}
		return handler(srv, ss)
	}
}

// serverStream is ss with the authenticated context.
type serverStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *serverStream) Context() context.Context { return s.ctx }
