package grpcauth_test

import (
	"context"
	"log/slog"
	"net"
	"testing"

	asymjwt "github.com/asymjwt/asymjwt/core"
	"github.com/asymjwt/asymjwt/grpcauth"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/test/bufconn"
)

// BenchmarkUnary compares, in one run and per key kind, core's bare
// Verify with a unary RPC over bufconn with and without the server
// interceptor. Both RPC variants send the same metadata: a new token per
// call, minted before the timer starts, so (WithInterceptor -
// WithoutInterceptor) is the interceptor's cost alone, to be read against
// Verify. EndToEnd adds the client's signing of each token.
//
// Besides wall time each reports cpu-ns/op, the process's CPU time per
// call: on a shared machine it is what stays steady. Run with -cpu 1 so
// that no idle thread spins: then cpu-ns/op is the work a call costs.
func BenchmarkUnary(b *testing.B) {
	for _, kind := range []string{asymjwt.KindEd25519, asymjwt.KindP256} {
		b.Run(kind, func(b *testing.B) {
			key := mustKey(b, kind)
			keys := asymjwt.NewMemoryKeyStore()
			if _, err := keys.Add("alice", key.Public()); err != nil {
				b.Fatal(err)
			}
			signer := mustSigner(b, "alice", key, asymjwt.WithAudience(audience))
			newVerifier := func(opts ...asymjwt.VerifierOption) *asymjwt.Verifier {
				v, err := asymjwt.NewVerifier(keys, append(opts,
					asymjwt.WithAudience(audience), asymjwt.WithLogger(slog.New(slog.DiscardHandler)))...)
				if err != nil {
					b.Fatal(err)
				}
				return v
			}
			strict := newVerifier(asymjwt.RequireAudience(), asymjwt.RequireRequestBinding())

			b.Run("Verify", func(b *testing.B) {
				v := newVerifier()
				tokens := mintTokens(b, b.N, func() (string, error) { return signer.Token() })
				b.ReportAllocs()
				b.ResetTimer()
				defer reportCPU(b)()
				for i := range b.N {
					if _, err := v.Verify(context.Background(), tokens[i]); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("WithoutInterceptor", func(b *testing.B) {
				c := benchClient(b)
				values := mintValues(b, signer, b.N)
				b.ReportAllocs()
				b.ResetTimer()
				defer reportCPU(b)()
				for i := range b.N {
					ctx := metadata.NewOutgoingContext(context.Background(), metadata.MD{"authorization": {values[i]}})
					if _, err := c.EmptyCall(ctx, &testgrpc.Empty{}); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("WithInterceptor", func(b *testing.B) {
				c := benchClient(b, grpc.UnaryInterceptor(grpcauth.UnaryServerInterceptor(strict)))
				values := mintValues(b, signer, b.N)
				b.ReportAllocs()
				b.ResetTimer()
				defer reportCPU(b)()
				for i := range b.N {
					ctx := metadata.NewOutgoingContext(context.Background(), metadata.MD{"authorization": {values[i]}})
					if _, err := c.EmptyCall(ctx, &testgrpc.Empty{}); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("EndToEnd", func(b *testing.B) {
				c := benchClient(b, grpc.UnaryInterceptor(grpcauth.UnaryServerInterceptor(strict)))
				creds := grpc.PerRPCCredentials(mustCredentials(b, signer, grpcauth.InsecureAllowPlaintext()))
				b.ReportAllocs()
				b.ResetTimer()
				defer reportCPU(b)()
				for range b.N {
					if _, err := c.EmptyCall(context.Background(), &testgrpc.Empty{}, creds); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

func mintTokens(b *testing.B, n int, mint func() (string, error)) []string {
	tokens := make([]string, n)
	for i := range tokens {
		var err error
		if tokens[i], err = mint(); err != nil {
			b.Fatal(err)
		}
	}
	return tokens
}

// mintValues returns n authorization values bound to EmptyCall.
func mintValues(b *testing.B, s *asymjwt.Signer, n int) []string {
	values := mintTokens(b, n, func() (string, error) { return s.TokenFor("POST", methodEmpty, "", nil) })
	for i, tok := range values {
		values[i] = s.AuthorizationValue(tok)
	}
	return values
}

// benchClient serves the test service over bufconn, without TLS so that
// the numbers show authentication rather than encryption, and returns a
// client of it.
func benchClient(b *testing.B, opts ...grpc.ServerOption) testgrpc.TestServiceClient {
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(opts...)
	testgrpc.RegisterTestServiceServer(srv, benchService{})
	go func() { _ = srv.Serve(lis) }()
	b.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	return testgrpc.NewTestServiceClient(conn)
}

// benchService answers EmptyCall and records nothing.
type benchService struct {
	testgrpc.UnimplementedTestServiceServer
}

func (benchService) EmptyCall(context.Context, *testgrpc.Empty) (*testgrpc.Empty, error) {
	return &testgrpc.Empty{}, nil
}
