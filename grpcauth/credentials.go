package grpcauth

import (
	"context"
	"errors"

	asymjwt "github.com/asymjwt/asymjwt/core"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
)

// CredentialsOption configures NewCredentials.
type CredentialsOption func(*Credentials)

// InsecureAllowPlaintext lets the credentials be sent over connections
// without transport security. Anyone who can read the connection can then
// read each token and race the real call with it: use it only where TLS is
// terminated on the same host, as by a service-mesh sidecar.
func InsecureAllowPlaintext() CredentialsOption {
	return func(c *Credentials) { c.requireTLS = false }
}

// Credentials implements credentials.PerRPCCredentials: every call gets a
// fresh token (new nonce, current time) bound to its full method name, in
// the "authorization" metadata. Use it for a whole connection with
// grpc.WithPerRPCCredentials, or for one call with grpc.PerRPCCredentials.
//
// The token's other claims come from the Signer: asymjwt.WithAudience
// names the service it is for (use it, unless the server is the Python
// library asymmetric_jwt_auth, which refuses every token carrying aud),
// asymjwt.WithScheme the scheme word. A Signer built with
// asymjwt.WithBodyHash is refused (ErrBodyHash): gRPC calls cannot be
// body-bound, and the server refuses tokens with a bh claim.
type Credentials struct {
	signer     *asymjwt.Signer
	requireTLS bool
}

// ErrBodyHash is NewCredentials' error for a Signer built with
// asymjwt.WithBodyHash: an interceptor sees decoded messages, not the
// bytes a client could hash, so the server refuses every token with a bh
// claim, and every call would be refused.
var ErrBodyHash = errors.New("grpcauth: the Signer hashes bodies (asymjwt.WithBodyHash); gRPC calls cannot be body-bound")

// NewCredentials returns per-RPC credentials that sign with signer. They
// require transport security unless InsecureAllowPlaintext is given. It
// returns an error if signer is nil, or ErrBodyHash if it hashes bodies
// (asymjwt.WithBodyHash).
func NewCredentials(signer *asymjwt.Signer, opts ...CredentialsOption) (*Credentials, error) {
	if signer == nil {
		return nil, errors.New("grpcauth: NewCredentials needs a *asymjwt.Signer")
	}
	if signer.HashesBody() {
		return nil, ErrBodyHash
	}
	c := &Credentials{signer: signer, requireTLS: true}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// GetRequestMetadata implements credentials.PerRPCCredentials. It fails
// the call rather than send a token bound to no method when the context
// does not name the call's method (grpc-go always does).
func (c *Credentials) GetRequestMetadata(ctx context.Context, _ ...string) (map[string]string, error) {
	ri, ok := credentials.RequestInfoFromContext(ctx)
	if !ok || ri.Method == "" {
		return nil, status.Error(codes.Internal, "grpcauth: no RPC method in the context; refusing to send a token bound to no method")
	}
	// grpc-go checks this too before it calls; checked again so the
	// promise holds whoever calls.
	if c.requireTLS {
		if err := credentials.CheckSecurityLevel(ri.AuthInfo, credentials.PrivacyAndIntegrity); err != nil {
			return nil, status.Errorf(codes.Unauthenticated, "grpcauth: refusing to send credentials without transport security: %v", err)
		}
	}
	token, err := c.signer.TokenFor("POST", ri.Method, "", nil)
	if err != nil {
		return nil, status.Errorf(codes.Unauthenticated, "grpcauth: signing: %v", err)
	}
	return map[string]string{MetadataKey: c.signer.AuthorizationValue(token)}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials: true
// unless InsecureAllowPlaintext was given.
func (c *Credentials) RequireTransportSecurity() bool { return c.requireTLS }
