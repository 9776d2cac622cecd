package grpcauth

import (
	"context"

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
// names the service it is for (use it), asymjwt.WithScheme the scheme
// word. A Signer built with asymjwt.WithBodyHash is refused: gRPC calls
// cannot be body-bound and the server refuses such tokens.
type Credentials struct {
	signer     *asymjwt.Signer
	requireTLS bool
}

// NewCredentials returns per-RPC credentials that sign with signer. They
// require transport security unless InsecureAllowPlaintext is given. It
// panics if signer is nil or hashes bodies (asymjwt.WithBodyHash): every
// call would be refused.
func NewCredentials(signer *asymjwt.Signer, opts ...CredentialsOption) *Credentials {
	if signer == nil {
		panic("grpcauth: nil *asymjwt.Signer")
	}
	if signer.HashesBody() {
		panic("grpcauth: the Signer hashes bodies (asymjwt.WithBodyHash); gRPC calls cannot be body-bound")
	}
	c := &Credentials{signer: signer, requireTLS: true}
	for _, o := range opts {
		o(c)
	}
	return c
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
