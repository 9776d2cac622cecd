package grpcauth_test

import (
	"context"
	"crypto"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	asymjwt "github.com/asymjwt/asymjwt/core"
	"github.com/asymjwt/asymjwt/grpcauth"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"
)

// The credentials must satisfy grpc's interface.
var _ credentials.PerRPCCredentials = (*grpcauth.Credentials)(nil)

func requestInfo(method string, level credentials.SecurityLevel) context.Context {
	return credentials.NewContextWithRequestInfo(context.Background(), credentials.RequestInfo{
		Method:   method,
		AuthInfo: credentials.TLSInfo{CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: level}},
	})
}

func TestGetRequestMetadata(t *testing.T) {
	key := mustKey(t, asymjwt.KindP256)
	keys := asymjwt.NewMemoryKeyStore()
	if _, err := keys.Add("alice", key.Public()); err != nil {
		t.Fatal(err)
	}
	v, err := asymjwt.NewVerifier(keys, asymjwt.WithAudience(audience), asymjwt.RequireRequestBinding(),
		asymjwt.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	creds := mustCredentials(t, mustSigner(t, "alice", key, asymjwt.WithAudience(audience)))

	md, err := creds.GetRequestMetadata(requestInfo(methodUnary, credentials.PrivacyAndIntegrity), "https://localhost/grpc.testing.TestService")
	if err != nil {
		t.Fatal(err)
	}
	value, ok := md["authorization"]
	if len(md) != 1 || !ok {
		t.Fatalf("metadata = %v; want only authorization", md)
	}
	// Bound to exactly the method it was made for.
	if _, err := v.Authenticate(t.Context(), []string{value}, &asymjwt.Request{Method: "POST", Path: methodEmpty}); !errors.Is(err, asymjwt.ErrRequestMismatch) {
		t.Fatalf("on another method: %v, want %v", err, asymjwt.ErrRequestMismatch)
	}
	id, err := v.Authenticate(t.Context(), []string{value}, &asymjwt.Request{Method: "POST", Path: methodUnary})
	if err != nil || !id.RequestBound || id.Algorithm != asymjwt.ES256 {
		t.Fatalf("on its method: %+v, %v", id, err)
	}
	// A fresh token per call.
	md2, err := creds.GetRequestMetadata(requestInfo(methodUnary, credentials.PrivacyAndIntegrity))
	if err != nil || md2["authorization"] == value {
		t.Fatalf("second call: %v, %v; want a new token", md2, err)
	}
}

func TestGetRequestMetadataRefuses(t *testing.T) {
	signer := mustSigner(t, "alice", mustKey(t, asymjwt.KindEd25519))
	failing := mustSigner(t, "alice", failingSigner{mustKey(t, asymjwt.KindEd25519)})
	cases := []struct {
		name  string
		creds *grpcauth.Credentials
		ctx   context.Context
		code  codes.Code
	}{
		{"no request info", mustCredentials(t, signer), context.Background(), codes.Internal},
		{"no request info, plaintext allowed", mustCredentials(t, signer, grpcauth.InsecureAllowPlaintext()), context.Background(), codes.Internal},
		{"empty method", mustCredentials(t, signer), requestInfo("", credentials.PrivacyAndIntegrity), codes.Internal},
		{"no transport security", mustCredentials(t, signer), requestInfo(methodUnary, credentials.NoSecurity), codes.Unauthenticated},
		{"integrity only", mustCredentials(t, signer), requestInfo(methodUnary, credentials.IntegrityOnly), codes.Unauthenticated},
		{"no auth info", mustCredentials(t, signer), credentials.NewContextWithRequestInfo(context.Background(), credentials.RequestInfo{Method: methodUnary}), codes.Unauthenticated},
		{"signing fails", mustCredentials(t, failing), requestInfo(methodUnary, credentials.PrivacyAndIntegrity), codes.Unauthenticated},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			md, err := tc.creds.GetRequestMetadata(tc.ctx)
			if status.Code(err) != tc.code || md != nil {
				t.Fatalf("got %v, %v; want code %v and no metadata", md, err, tc.code)
			}
		})
	}
	// The plaintext switch lifts only the transport check.
	md, err := mustCredentials(t, signer, grpcauth.InsecureAllowPlaintext()).GetRequestMetadata(requestInfo(methodUnary, credentials.NoSecurity))
	if err != nil || !strings.HasPrefix(md["authorization"], "JWT ") {
		t.Fatalf("plaintext allowed: %v, %v", md, err)
	}
}

// failingSigner is a key whose signing fails, as an unreachable HSM's would.
type failingSigner struct{ crypto.Signer }

func (failingSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("hsm unreachable")
}

func TestRequireTransportSecurity(t *testing.T) {
	s := mustSigner(t, "alice", mustKey(t, asymjwt.KindEd25519))
	if !mustCredentials(t, s).RequireTransportSecurity() {
		t.Error("transport security not required by default")
	}
	if mustCredentials(t, s, grpcauth.InsecureAllowPlaintext()).RequireTransportSecurity() {
		t.Error("InsecureAllowPlaintext still requires transport security")
	}
}

func TestScheme(t *testing.T) {
	e := newEnv(t, bufTLS, serverSetup{verifierOpts: []asymjwt.VerifierOption{asymjwt.WithScheme("AsymJWT")}})
	s := mustSigner(t, "alice", e.aliceKey, asymjwt.WithAudience(audience), asymjwt.WithScheme("AsymJWT"))
	md, err := mustCredentials(t, s).GetRequestMetadata(requestInfo(methodUnary, credentials.PrivacyAndIntegrity))
	if err != nil || !strings.HasPrefix(md["authorization"], "AsymJWT ") {
		t.Fatalf("%v, %v", md, err)
	}
	c := testgrpc.NewTestServiceClient(e.dial(t, grpc.WithPerRPCCredentials(mustCredentials(t, s))))
	if got, err := callUnary(t.Context(), c); err != nil || got != "alice" {
		t.Fatalf("%q, %v", got, err)
	}
}

// TestPerCallCredentials: credentials given to one call with
// grpc.PerRPCCredentials sign that call only.
func TestPerCallCredentials(t *testing.T) {
	for _, tr := range secureTransports {
		t.Run(tr.String(), func(t *testing.T) {
			e := newEnv(t, tr, serverSetup{})
			c := e.bare(t)
			creds := grpc.PerRPCCredentials(mustCredentials(t, e.signer))
			for _, r := range rpcs {
				t.Run(r.name, func(t *testing.T) {
					if got, err := r.call(t.Context(), c, creds); err != nil || got != r.wantUsers("alice") {
						t.Fatalf("with credentials: %q, %v", got, err)
					}
					_, err := r.call(t.Context(), c)
					wantStatus(t, err, codes.Unauthenticated, "grpcauth: unauthenticated")
				})
			}
		})
	}
}

// TestFreshTokenPerCall: every call, retried or not, carries a new nonce.
func TestFreshTokenPerCall(t *testing.T) {
	e := newEnv(t, bufTLS, serverSetup{})
	c := e.client(t)
	for range 3 {
		for _, r := range rpcs {
			if _, err := r.call(t.Context(), c); err != nil {
				t.Fatal(err)
			}
		}
	}
	nonces := make(map[string]bool)
	for _, id := range e.svc.seen() {
		if id == nil {
			t.Fatal("a call ran without identity")
		}
		nonces[id.Nonce] = true
	}
	if len(nonces) != 3*len(rpcs) {
		t.Fatalf("%d distinct nonces in %d calls", len(nonces), 3*len(rpcs))
	}
}

// TestPlaintext: the client refuses to send credentials over a connection
// without transport security, unless told otherwise.
func TestPlaintext(t *testing.T) {
	e := newEnv(t, bufPlain, serverSetup{})

	t.Run("refused for the connection", func(t *testing.T) {
		if _, err := e.newClient(t, grpc.WithPerRPCCredentials(mustCredentials(t, e.signer))); err == nil {
			t.Fatal("grpc.NewClient accepted secure credentials on a plaintext connection")
		}
	})
	t.Run("refused per call", func(t *testing.T) {
		c := e.bare(t)
		for _, r := range rpcs {
			_, err := r.call(t.Context(), c, grpc.PerRPCCredentials(mustCredentials(t, e.signer)))
			if status.Code(err) != codes.Unauthenticated {
				t.Fatalf("%s: %v; want Unauthenticated from the client", r.name, err)
			}
		}
		if n := e.outcomes.count(); n != 0 {
			t.Fatalf("the server verified %d tokens: credentials were sent", n)
		}
	})
	t.Run("allowed with InsecureAllowPlaintext", func(t *testing.T) {
		creds := mustCredentials(t, e.signer, grpcauth.InsecureAllowPlaintext())
		conn := testgrpc.NewTestServiceClient(e.dial(t, grpc.WithPerRPCCredentials(creds)))
		bare := e.bare(t)
		for _, r := range rpcs {
			if got, err := r.call(t.Context(), conn); err != nil || got != r.wantUsers("alice") {
				t.Fatalf("%s for the connection: %q, %v", r.name, got, err)
			}
			if got, err := r.call(t.Context(), bare, grpc.PerRPCCredentials(creds)); err != nil || got != r.wantUsers("alice") {
				t.Fatalf("%s per call: %q, %v", r.name, got, err)
			}
		}
	})
}

// TestSigningFailure: when the key cannot sign, the call fails on the
// client and nothing reaches the server.
func TestSigningFailure(t *testing.T) {
	e := newEnv(t, bufTLS, serverSetup{})
	s := mustSigner(t, "alice", failingSigner{e.aliceKey}, asymjwt.WithAudience(audience))
	c := testgrpc.NewTestServiceClient(e.dial(t, grpc.WithPerRPCCredentials(mustCredentials(t, s))))
	for _, r := range rpcs {
		if _, err := r.call(t.Context(), c); status.Code(err) != codes.Unauthenticated {
			t.Fatalf("%s: %v; want Unauthenticated", r.name, err)
		}
	}
	if n := e.outcomes.count(); n != 0 {
		t.Fatalf("the server verified %d tokens", n)
	}
}

// TestNewCredentialsRefuses: a misuse is an error from the constructor,
// not a panic, and the README's promise holds: a body-hashing Signer is
// refused with ErrBodyHash.
func TestNewCredentialsRefuses(t *testing.T) {
	key, err := asymjwt.GenerateKey(asymjwt.KindEd25519)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		signer *asymjwt.Signer
		want   error
	}{
		{"nil signer", nil, nil},
		{"body-hashing signer", mustSigner(t, "alice", key, asymjwt.WithBodyHash()), grpcauth.ErrBodyHash},
		{"body-hashing signer, plaintext allowed", mustSigner(t, "alice", key, asymjwt.WithBodyHash(), asymjwt.WithRequestBinding()), grpcauth.ErrBodyHash},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := grpcauth.NewCredentials(tt.signer, grpcauth.InsecureAllowPlaintext())
			if err == nil || c != nil {
				t.Fatalf("NewCredentials = %v, %v: want an error", c, err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
		})
	}
}

// mustCredentials is NewCredentials for a signer the test knows is fine.
func mustCredentials(t testing.TB, s *asymjwt.Signer, opts ...grpcauth.CredentialsOption) *grpcauth.Credentials {
	t.Helper()
	c, err := grpcauth.NewCredentials(s, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
