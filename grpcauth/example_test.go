package grpcauth_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"

	asymjwt "github.com/asymjwt/asymjwt/core"
	"github.com/asymjwt/asymjwt/grpcauth"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
)

// A gRPC server behind the interceptor and a client whose per-RPC
// credentials sign every call, bound to its method, over an in-process
// connection: the identity reaches the handler, a call without
// credentials is refused, and a body-hashing signer is refused up front.
func Example() {
	// Client side: a private key that never leaves the client.
	key, _ := asymjwt.GenerateKey(asymjwt.KindEd25519)
	signer, _ := asymjwt.NewSigner("billing", key, asymjwt.WithAudience("orders"))

	// Server side: only the public key, registered under the username.
	keys := asymjwt.NewMemoryKeyStore()
	keys.Add("billing", key.Public())
	verifier, _ := asymjwt.NewVerifier(keys,
		asymjwt.WithAudience("orders"), asymjwt.RequireAudience(),
		asymjwt.RequireRequestBinding(),
		asymjwt.WithLogger(slog.New(slog.DiscardHandler)))

	whoami := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		id, _ := asymjwt.FromContext(ctx)
		fmt.Println("server:", id.Username, "calls", info.FullMethod)
		return handler(ctx, req)
	}
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(grpcauth.UnaryServerInterceptor(verifier), whoami))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	lis := bufconn.Listen(1 << 20)
	go srv.Serve(lis)
	defer srv.Stop()

	// In process, nothing crosses a network: plaintext is allowed here
	// only. Over a network, use TLS and leave InsecureAllowPlaintext out.
	creds, err := grpcauth.NewCredentials(signer, grpcauth.InsecureAllowPlaintext())
	if err != nil {
		fmt.Println(err)
		return
	}
	dial := func(opts ...grpc.DialOption) *grpc.ClientConn {
		conn, _ := grpc.NewClient("passthrough:///in-process", append([]grpc.DialOption{
			grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
			grpc.WithTransportCredentials(insecure.NewCredentials()),
		}, opts...)...)
		return conn
	}
	signed, bare := dial(grpc.WithPerRPCCredentials(creds)), dial()
	defer signed.Close()
	defer bare.Close()

	ctx := context.Background()
	resp, err := healthpb.NewHealthClient(signed).Check(ctx, &healthpb.HealthCheckRequest{})
	fmt.Println("client:", resp.GetStatus(), err)
	_, err = healthpb.NewHealthClient(bare).Check(ctx, &healthpb.HealthCheckRequest{})
	fmt.Println("client without credentials:", status.Code(err), status.Convert(err).Message())

	bodyHashing, _ := asymjwt.NewSigner("billing", key, asymjwt.WithBodyHash())
	_, err = grpcauth.NewCredentials(bodyHashing)
	fmt.Println("body-hashing signer refused:", errors.Is(err, grpcauth.ErrBodyHash))
	// Output:
	// server: billing calls /grpc.health.v1.Health/Check
	// client: SERVING <nil>
	// client without credentials: Unauthenticated grpcauth: unauthenticated
	// body-hashing signer refused: true
}
