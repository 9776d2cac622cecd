package grpcauth_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
	"github.com/asymjwt/asymjwt/grpcauth"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/test/bufconn"
)

// The audience every test server has and every test signer names.
const audience = "test-svc"

// Full method names of the test service.
var (
	methodUnary     = testgrpc.TestService_UnaryCall_FullMethodName
	methodEmpty     = testgrpc.TestService_EmptyCall_FullMethodName
	methodServerStr = testgrpc.TestService_StreamingOutputCall_FullMethodName
	methodBidi      = testgrpc.TestService_FullDuplexCall_FullMethodName
)

// transport is how a test client reaches its server.
type transport int

const (
	tcpTLS   transport = iota // a real TCP listener on 127.0.0.1, with TLS
	bufTLS                    // an in-memory bufconn listener, with TLS
	bufPlain                  // bufconn without transport security
)

func (tr transport) String() string {
	return [...]string{"tcp+tls", "bufconn+tls", "bufconn+plaintext"}[tr]
}

// secureTransports are the two the acceptance tests run over.
var secureTransports = []transport{tcpTLS, bufTLS}

// testPKI is a self-signed server certificate for localhost and
// 127.0.0.1, made once per test binary.
type testPKI struct {
	server tls.Certificate
	roots  *x509.CertPool
}

var pki = sync.OnceValues(func() (*testPKI, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "grpcauth test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	return &testPKI{
		server: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert},
		roots:  roots,
	}, nil
})

func mustPKI(t testing.TB) *testPKI {
	t.Helper()
	p, err := pki()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// testService implements the interop TestService. Each handler records
// the identity it saw (nil for an anonymous call) and reports the
// username back to the client.
type testService struct {
	testgrpc.UnimplementedTestServiceServer

	mu  sync.Mutex
	ids []*asymjwt.Identity
}

func (s *testService) record(ctx context.Context) string {
	id, ok := asymjwt.FromContext(ctx)
	if !ok {
		id = nil
	}
	s.mu.Lock()
	s.ids = append(s.ids, id)
	s.mu.Unlock()
	if id == nil {
		return ""
	}
	return id.Username
}

// seen returns the identities recorded so far.
func (s *testService) seen() []*asymjwt.Identity {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*asymjwt.Identity(nil), s.ids...)
}

func (s *testService) EmptyCall(ctx context.Context, _ *testgrpc.Empty) (*testgrpc.Empty, error) {
	s.record(ctx)
	return &testgrpc.Empty{}, nil
}

func (s *testService) UnaryCall(ctx context.Context, _ *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	return &testgrpc.SimpleResponse{Username: s.record(ctx)}, nil
}

// StreamingOutputCall sends one response per ResponseParameters, each
// carrying the username.
func (s *testService) StreamingOutputCall(req *testgrpc.StreamingOutputCallRequest, stream grpc.ServerStreamingServer[testgrpc.StreamingOutputCallResponse]) error {
	user := s.record(stream.Context())
	for range req.GetResponseParameters() {
		if err := stream.Send(&testgrpc.StreamingOutputCallResponse{Payload: &testgrpc.Payload{Body: []byte(user)}}); err != nil {
			return err
		}
	}
	return nil
}

// FullDuplexCall answers every request with the username.
func (s *testService) FullDuplexCall(stream grpc.BidiStreamingServer[testgrpc.StreamingOutputCallRequest, testgrpc.StreamingOutputCallResponse]) error {
	user := s.record(stream.Context())
	for {
		if _, err := stream.Recv(); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
		if err := stream.Send(&testgrpc.StreamingOutputCallResponse{Payload: &testgrpc.Payload{Body: []byte(user)}}); err != nil {
			return err
		}
	}
}

// outcomes collects what the verifier's observer reports.
type outcomes struct {
	mu   sync.Mutex
	list []asymjwt.Outcome
}

func (o *outcomes) observe(_ context.Context, out asymjwt.Outcome) {
	o.mu.Lock()
	o.list = append(o.list, out)
	o.mu.Unlock()
}

// last returns the latest outcome; it fails the test if there is none.
func (o *outcomes) last(t testing.TB) asymjwt.Outcome {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.list) == 0 {
		t.Fatal("the verifier reported no outcome")
	}
	return o.list[len(o.list)-1]
}

func (o *outcomes) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.list)
}

// testEnv is a running server and what a test needs to call it.
type testEnv struct {
	tr       transport
	keys     *asymjwt.MemoryKeyStore
	signer   *asymjwt.Signer // "alice", registered, names the audience
	aliceKey crypto.Signer
	svc      *testService
	outcomes *outcomes
	health   *health.Server
	dialer   func(context.Context, string) (net.Conn, error)
	target   string
}

// serverSetup changes how newEnv builds the server.
type serverSetup struct {
	verifierOpts []asymjwt.VerifierOption // appended to the strict defaults
	lax          bool                     // require neither aud nor qsh
	keys         asymjwt.KeyStore         // default: the env's MemoryKeyStore
	authOpts     []grpcauth.Option
	unaryFirst   grpc.UnaryServerInterceptor  // runs before authentication
	streamFirst  grpc.StreamServerInterceptor // runs before authentication
	stacked      bool                         // the interceptors twice: Optional() outside, authOpts inside
}

// newEnv starts a server over tr with the test service, health and
// reflection registered behind the interceptors. Its verifier has the
// test audience and, unless setup.lax, requires aud and method binding.
func newEnv(t testing.TB, tr transport, setup serverSetup) *testEnv {
	t.Helper()
	e := &testEnv{tr: tr, keys: asymjwt.NewMemoryKeyStore(), svc: &testService{}, outcomes: &outcomes{}}
	e.aliceKey = mustKey(t, asymjwt.KindEd25519)
	if _, err := e.keys.Add("alice", e.aliceKey.Public()); err != nil {
		t.Fatal(err)
	}
	e.signer = mustSigner(t, "alice", e.aliceKey, asymjwt.WithAudience(audience))

	vopts := []asymjwt.VerifierOption{
		asymjwt.WithObserver(e.outcomes.observe),
		asymjwt.WithLogger(slog.New(slog.DiscardHandler)),
		asymjwt.WithAudience(audience),
	}
	if !setup.lax {
		vopts = append(vopts, asymjwt.RequireAudience(), asymjwt.RequireRequestBinding())
	}
	vopts = append(vopts, setup.verifierOpts...)
	var keys asymjwt.KeyStore = e.keys
	if setup.keys != nil {
		keys = setup.keys
	}
	v, err := asymjwt.NewVerifier(keys, vopts...)
	if err != nil {
		t.Fatal(err)
	}

	var unary []grpc.UnaryServerInterceptor
	var stream []grpc.StreamServerInterceptor
	if setup.unaryFirst != nil {
		unary = append(unary, setup.unaryFirst)
	}
	if setup.streamFirst != nil {
		stream = append(stream, setup.streamFirst)
	}
	if setup.stacked {
		unary = append(unary, grpcauth.UnaryServerInterceptor(v, grpcauth.Optional()))
		stream = append(stream, grpcauth.StreamServerInterceptor(v, grpcauth.Optional()))
	}
	unary = append(unary, grpcauth.UnaryServerInterceptor(v, setup.authOpts...))
	stream = append(stream, grpcauth.StreamServerInterceptor(v, setup.authOpts...))
	sopts := []grpc.ServerOption{grpc.ChainUnaryInterceptor(unary...), grpc.ChainStreamInterceptor(stream...)}
	if tr != bufPlain {
		sopts = append(sopts, grpc.Creds(credentials.NewServerTLSFromCert(&mustPKI(t).server)))
	}
	srv := grpc.NewServer(sopts...)
	testgrpc.RegisterTestServiceServer(srv, e.svc)
	e.health = health.NewServer()
	healthpb.RegisterHealthServer(srv, e.health)
	reflection.Register(srv)

	var lis net.Listener
	switch tr {
	case tcpTLS:
		if lis, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		e.target = "passthrough:///" + lis.Addr().String()
	default:
		bl := bufconn.Listen(1 << 20)
		lis = bl
		e.target = "passthrough:///bufnet"
		e.dialer = func(ctx context.Context, _ string) (net.Conn, error) { return bl.DialContext(ctx) }
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(lis)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return e
}

// transportCreds are the client's transport credentials for e.
func (e *testEnv) transportCreds(t testing.TB) credentials.TransportCredentials {
	if e.tr == bufPlain {
		return insecure.NewCredentials()
	}
	return credentials.NewTLS(&tls.Config{RootCAs: mustPKI(t).roots, ServerName: "localhost", MinVersion: tls.VersionTLS12})
}

// dial connects to e's server with its transport credentials and opts.
func (e *testEnv) dial(t testing.TB, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	conn, err := e.newClient(t, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

func (e *testEnv) newClient(t testing.TB, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	all := []grpc.DialOption{grpc.WithTransportCredentials(e.transportCreds(t))}
	if e.dialer != nil {
		all = append(all, grpc.WithContextDialer(e.dialer))
	}
	conn, err := grpc.NewClient(e.target, append(all, opts...)...)
	if err == nil {
		t.Cleanup(func() { conn.Close() })
	}
	return conn, err
}

// client returns a TestService client that signs every call as alice.
func (e *testEnv) client(t testing.TB) testgrpc.TestServiceClient {
	t.Helper()
	return testgrpc.NewTestServiceClient(e.dial(t, grpc.WithPerRPCCredentials(mustCredentials(t, e.signer))))
}

// bare returns a TestService client that sends no credentials of its own.
func (e *testEnv) bare(t testing.TB) testgrpc.TestServiceClient {
	t.Helper()
	return testgrpc.NewTestServiceClient(e.dial(t))
}

func mustKey(t testing.TB, kind string) crypto.Signer {
	t.Helper()
	k, err := asymjwt.GenerateKey(kind)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustSigner(t testing.TB, username string, key crypto.Signer, opts ...asymjwt.SignerOption) *asymjwt.Signer {
	t.Helper()
	s, err := asymjwt.NewSigner(username, key, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// failingReplayStore is a replay store that cannot be reached.
type failingReplayStore struct{}

func (failingReplayStore) Claim(context.Context, string, time.Time) (bool, error) {
	return false, errors.New("connection refused")
}

// failingKeyStore is a key store that cannot be reached.
type failingKeyStore struct{}

func (failingKeyStore) Keys(context.Context, string, string) ([]crypto.PublicKey, error) {
	return nil, errors.New("connection refused")
}
