// Command grpc runs asymjwt over gRPC end to end on loopback: a TLS gRPC
// server that holds only public keys and authenticates every call with
// grpcauth's interceptors, and clients that sign each call with
// grpcauth.Credentials. It prints each outcome and exits non-zero if any
// differs from what the protocol promises.
//
//	cd examples && go run ./grpc
//
// The service is grpc-go's own interop TestService, so the example needs
// no protoc; a real service registers its generated code the same way.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
	"github.com/asymjwt/asymjwt/grpcauth"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// The name both sides agree on for this service: the signer puts it in
// aud, the verifier requires it, so a token made for another service that
// trusts the same keys is refused here.
const audience = "orders"

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "grpc example:", err)
		os.Exit(1)
	}
}

func run(out io.Writer) error {
	// Each client service makes its key pair; only public keys go to the server.
	aliceKey, err := asymjwt.GenerateKey(asymjwt.KindEd25519)
	if err != nil {
		return err
	}
	bobKey, err := asymjwt.GenerateKey(asymjwt.KindEd25519)
	if err != nil {
		return err
	}
	keys := asymjwt.NewMemoryKeyStore()
	if _, err := keys.Add("alice", aliceKey.Public()); err != nil {
		return err
	}
	if _, err := keys.Add("bob", bobKey.Public()); err != nil {
		return err
	}
	cert, roots, err := selfSignedCert()
	if err != nil {
		return err
	}

	reasons := &lastReason{}
	addr, stop, err := startServer(keys, cert, reasons)
	if err != nil {
		return err
	}
	defer stop()
	fmt.Fprintf(out, "gRPC server on %s (TLS; public keys of alice and bob)\n\n", addr)

	alice, err := asymjwt.NewSigner("alice", aliceKey, asymjwt.WithAudience(audience))
	if err != nil {
		return err
	}
	// Mallory holds bob's key but claims to be alice.
	mallory, err := asymjwt.NewSigner("alice", bobKey, asymjwt.WithAudience(audience))
	if err != nil {
		return err
	}
	aliceCreds, err := grpcauth.NewCredentials(alice)
	if err != nil {
		return err
	}
	malloryCreds, err := grpcauth.NewCredentials(mallory)
	if err != nil {
		return err
	}
	tlsCreds := credentials.NewTLS(&tls.Config{RootCAs: roots, ServerName: "localhost", MinVersion: tls.VersionTLS12})
	aliceConn, err := dial(addr, tlsCreds, grpc.WithPerRPCCredentials(aliceCreds))
	if err != nil {
		return err
	}
	defer aliceConn.Close()
	malloryConn, err := dial(addr, tlsCreds, grpc.WithPerRPCCredentials(malloryCreds))
	if err != nil {
		return err
	}
	defer malloryConn.Close()
	bareConn, err := dial(addr, tlsCreds) // sends no credentials of its own
	if err != nil {
		return err
	}
	defer bareConn.Close()

	// A token alice made for EmptyCall, as an eavesdropper might hold it.
	captured, err := alice.TokenFor("POST", testgrpc.TestService_EmptyCall_FullMethodName, "", nil)
	if err != nil {
		return err
	}
	withToken := func(ctx context.Context) context.Context {
		return metadata.AppendToOutgoingContext(ctx, grpcauth.MetadataKey, alice.AuthorizationValue(captured))
	}

	steps := []struct {
		label string
		call  func(ctx context.Context) (string, error)
		want  codes.Code
	}{
		{"(a) alice calls UnaryCall", unary(aliceConn, nil), codes.OK},
		{"(b) alice opens a server stream", serverStream(aliceConn), codes.OK},
		{"(c) a health check without credentials (exempt)", healthCheck(bareConn), codes.OK},
		{"(d) UnaryCall without credentials", unary(bareConn, nil), codes.Unauthenticated},
		{"(e) alice's token for EmptyCall is sent to UnaryCall", unary(bareConn, withToken), codes.Unauthenticated},
		{"(f) the same token on EmptyCall, its own method", empty(bareConn, withToken), codes.OK},
		{"(g) the same token again: a replay", empty(bareConn, withToken), codes.Unauthenticated},
		{"(h) bob's key signs a token claiming to be alice", unary(malloryConn, nil), codes.Unauthenticated},
	}
	failed := 0
	for _, st := range steps {
		reasons.reset()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		result, err := st.call(ctx)
		cancel()
		got := status.Code(err)
		verdict := "as expected"
		if got != st.want {
			verdict = fmt.Sprintf("UNEXPECTED (want %v)", st.want)
			failed++
		}
		fmt.Fprintf(out, "%s\n  -> %v: %s\n", st.label, got, verdict)
		if err == nil {
			fmt.Fprintf(out, "     response: %s\n", result)
		} else {
			fmt.Fprintf(out, "     client sees: %q\n     server log:  %s\n", status.Convert(err).Message(), reasons.get())
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d outcomes differ from the protocol", failed, len(steps))
	}
	fmt.Fprintf(out, "\nall %d outcomes as the protocol promises\n", len(steps))
	return nil
}

// startServer is the server side: a verifier over the public keys, and
// the interceptors in front of every service. Health checks are exempt so
// load balancers can probe without a key.
func startServer(keys asymjwt.KeyStore, cert tls.Certificate, reasons *lastReason) (addr string, stop func(), err error) {
	verifier, err := asymjwt.NewVerifier(keys,
		asymjwt.WithAudience(audience),
		asymjwt.RequireAudience(),
		asymjwt.RequireRequestBinding(), // a token works only for the method it was made for
		asymjwt.WithObserver(reasons.observe),
		asymjwt.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		return "", nil, err
	}
	exempt := grpcauth.WithExempt(grpcauth.HealthMethods)
	srv := grpc.NewServer(
		grpc.Creds(credentials.NewServerTLSFromCert(&cert)),
		grpc.ChainUnaryInterceptor(grpcauth.UnaryServerInterceptor(verifier, exempt)),
		grpc.ChainStreamInterceptor(grpcauth.StreamServerInterceptor(verifier, exempt)),
	)
	testgrpc.RegisterTestServiceServer(srv, orders{})
	healthpb.RegisterHealthServer(srv, health.NewServer())

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	return ln.Addr().String(), func() { srv.GracefulStop(); <-done }, nil
}

// orders is the service; its handlers find the caller on the context.
type orders struct {
	testgrpc.UnimplementedTestServiceServer
}

func (orders) EmptyCall(context.Context, *testgrpc.Empty) (*testgrpc.Empty, error) {
	return &testgrpc.Empty{}, nil
}

func (orders) UnaryCall(ctx context.Context, _ *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	id, _ := asymjwt.FromContext(ctx) // always there: the interceptor let the call in
	return &testgrpc.SimpleResponse{Username: id.Username}, nil
}

func (orders) StreamingOutputCall(req *testgrpc.StreamingOutputCallRequest, stream grpc.ServerStreamingServer[testgrpc.StreamingOutputCallResponse]) error {
	id, _ := asymjwt.FromContext(stream.Context())
	for i := range req.GetResponseParameters() {
		body := fmt.Sprintf("message %d for %s", i+1, id.Username)
		if err := stream.Send(&testgrpc.StreamingOutputCallResponse{Payload: &testgrpc.Payload{Body: []byte(body)}}); err != nil {
			return err
		}
	}
	return nil
}

// dial is the client side: TLS for the connection, and the per-RPC
// credentials (when given) sign every call with a fresh token.
func dial(addr string, tlsCreds credentials.TransportCredentials, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	return grpc.NewClient("passthrough:///"+addr, append(opts, grpc.WithTransportCredentials(tlsCreds))...)
}

func unary(conn *grpc.ClientConn, decorate func(context.Context) context.Context) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		if decorate != nil {
			ctx = decorate(ctx)
		}
		resp, err := testgrpc.NewTestServiceClient(conn).UnaryCall(ctx, &testgrpc.SimpleRequest{FillUsername: true})
		return "hello " + resp.GetUsername(), err
	}
}

func empty(conn *grpc.ClientConn, decorate func(context.Context) context.Context) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		_, err := testgrpc.NewTestServiceClient(conn).EmptyCall(decorate(ctx), &testgrpc.Empty{})
		return "empty", err
	}
}

func serverStream(conn *grpc.ClientConn) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		stream, err := testgrpc.NewTestServiceClient(conn).StreamingOutputCall(ctx, &testgrpc.StreamingOutputCallRequest{
			ResponseParameters: []*testgrpc.ResponseParameters{{}, {}, {}},
		})
		if err != nil {
			return "", err
		}
		var got []string
		for {
			resp, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				return strings.Join(got, "; "), nil
			}
			if err != nil {
				return "", err
			}
			got = append(got, string(resp.GetPayload().GetBody()))
		}
	}
}

func healthCheck(conn *grpc.ClientConn) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
		return resp.GetStatus().String(), err
	}
}

// selfSignedCert makes the server's TLS certificate for localhost and
// 127.0.0.1, and the pool a client trusts it with. A real deployment uses
// certificates from its own CA.
func selfSignedCert() (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "asymjwt grpc example"},
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, roots, nil
}

// lastReason keeps the last refusal reason the verifier reported, to show
// what the server logged while the client saw only a generic status.
type lastReason struct {
	mu  sync.Mutex
	err error
}

func (l *lastReason) observe(_ context.Context, o asymjwt.Outcome) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.err = o.Err
}

func (l *lastReason) reset() { l.observe(context.Background(), asymjwt.Outcome{}) }

func (l *lastReason) get() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		return "-"
	}
	return l.err.Error()
}
