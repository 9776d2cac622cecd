package grpcauth_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
	"github.com/asymjwt/asymjwt/core/asymjwttest"
	"github.com/asymjwt/asymjwt/grpcauth"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
)

func withAuthorization(ctx context.Context, values ...string) context.Context {
	if len(values) == 0 {
		return ctx
	}
	return metadata.NewOutgoingContext(ctx, metadata.MD{grpcauth.MetadataKey: values})
}

// wantStatus fails unless err is a status error with code and msg.
func wantStatus(t *testing.T, err error, code codes.Code, msg string) {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok || st.Code() != code || st.Message() != msg {
		t.Fatalf("error = %v; want code %v with message %q", err, code, msg)
	}
}

func TestAccepted(t *testing.T) {
	for _, tr := range secureTransports {
		t.Run(tr.String(), func(t *testing.T) {
			e := newEnv(t, tr, serverSetup{})
			c := e.client(t)
			for _, r := range rpcs {
				t.Run(r.name, func(t *testing.T) {
					before := len(e.svc.seen())
					got, err := r.call(t.Context(), c)
					if err != nil {
						t.Fatal(err)
					}
					if want := r.wantUsers("alice"); got != want {
						t.Fatalf("handler saw user %q, want %q", got, want)
					}
					seen := e.svc.seen()
					if len(seen) != before+1 {
						t.Fatalf("handler ran %d times, want 1", len(seen)-before)
					}
					id := seen[len(seen)-1]
					if id == nil {
						t.Fatal("no identity on the handler's context")
					}
					if id.Username != "alice" || id.KeyID != e.signer.KeyID() || id.Algorithm != asymjwt.EdDSA ||
						!id.RequestBound || id.BodyBound || !slices.Equal(id.Audience, []string{audience}) {
						t.Fatalf("identity = %+v", id)
					}
				})
			}
		})
	}
}

// tokenCase makes the authorization values sent on a call of method.
type tokenCase struct {
	name   string
	values func(t *testing.T, e *testEnv, method string) []string
	want   error // the reason the verifier must report
}

func boundValue(t *testing.T, s *asymjwt.Signer, method string) string {
	t.Helper()
	tok, err := s.TokenFor("POST", method, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	return s.AuthorizationValue(tok)
}

func clockAt(d time.Duration) asymjwt.ClockOption {
	return asymjwt.WithClock(func() time.Time { return time.Now().Add(d) })
}

// handMade returns a compact JWS with header and claims as given and sig
// computing its signature over the signing input.
func handMade(header, claims string, sig func(input string) []byte) string {
	b64 := base64.RawURLEncoding
	input := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(claims))
	return input + "." + b64.EncodeToString(sig(input))
}

func handMadeClaims(t *testing.T, method string) string {
	qsh, err := asymjwt.QueryStringHash("POST", method, "", "")
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf(`{"username":"alice","time":%d,"nonce":"n%d","aud":%q,"qsh":%q}`,
		time.Now().Unix(), time.Now().UnixNano(), audience, qsh)
}

var refusals = []tokenCase{
	{"missing", func(*testing.T, *testEnv, string) []string { return nil }, asymjwt.ErrNoCredentials},
	{"empty value", func(*testing.T, *testEnv, string) []string { return []string{""} }, asymjwt.ErrNoCredentials},
	{"scheme only", func(*testing.T, *testEnv, string) []string { return []string{"JWT"} }, asymjwt.ErrScheme},
	{"wrong scheme", func(t *testing.T, e *testEnv, m string) []string {
		return []string{"Bearer " + strings.TrimPrefix(boundValue(t, e.signer, m), "JWT ")}
	}, asymjwt.ErrScheme},
	{"garbage", func(*testing.T, *testEnv, string) []string { return []string{"JWT not-a-token"} }, asymjwt.ErrMalformed},
	{"oversized", func(*testing.T, *testEnv, string) []string {
		return []string{"JWT " + strings.Repeat("a", asymjwt.DefaultMaxTokenSize+1)}
	}, asymjwt.ErrTokenTooLarge},
	{"two values", func(t *testing.T, e *testEnv, m string) []string {
		return []string{boundValue(t, e.signer, m), boundValue(t, e.signer, m)}
	}, asymjwt.ErrMultipleCredentials},
	{"unknown user", func(t *testing.T, _ *testEnv, m string) []string {
		return []string{boundValue(t, mustSigner(t, "mallory", mustKey(t, asymjwt.KindEd25519), asymjwt.WithAudience(audience)), m)}
	}, asymjwt.ErrUnknownUser},
	{"unregistered key", func(t *testing.T, _ *testEnv, m string) []string {
		return []string{boundValue(t, mustSigner(t, "alice", mustKey(t, asymjwt.KindEd25519), asymjwt.WithAudience(audience)), m)}
	}, asymjwt.ErrUnknownKey},
	{"another user's name", func(t *testing.T, e *testEnv, m string) []string {
		// Alice's key signing as bob, who is registered with his own key.
		if _, err := e.keys.Add("bob", mustKey(t, asymjwt.KindEd25519).Public()); err != nil {
			t.Fatal(err)
		}
		return []string{boundValue(t, mustSigner(t, "bob", e.aliceKey, asymjwt.WithAudience(audience)), m)}
	}, asymjwt.ErrUnknownKey},
	{"tampered signature", func(t *testing.T, e *testEnv, m string) []string {
		v := []byte(boundValue(t, e.signer, m))
		i := len(v) - 20 // inside the signature, away from its padding bits
		v[i] = map[bool]byte{true: 'B', false: 'A'}[v[i] == 'A']
		return []string{string(v)}
	}, asymjwt.ErrSignature},
	{"claims swapped under a signature", func(t *testing.T, e *testEnv, m string) []string {
		a := strings.Split(boundValue(t, e.signer, m), ".")
		b := strings.Split(boundValue(t, e.signer, m), ".")
		return []string{a[0] + "." + b[1] + "." + a[2]}
	}, asymjwt.ErrSignature},
	{"alg none", func(t *testing.T, _ *testEnv, m string) []string {
		return []string{"JWT " + handMade(`{"alg":"none","typ":"JWT"}`, handMadeClaims(t, m),
			func(string) []byte { return []byte("x") })}
	}, asymjwt.ErrAlgorithm},
	{"HS256 keyed with the public key", func(t *testing.T, e *testEnv, m string) []string {
		pemKey, err := asymjwt.MarshalPublicKeyPEM(e.aliceKey.Public())
		if err != nil {
			t.Fatal(err)
		}
		return []string{"JWT " + handMade(`{"alg":"HS256","typ":"JWT"}`, handMadeClaims(t, m), func(in string) []byte {
			mac := hmac.New(sha256.New, pemKey)
			mac.Write([]byte(in))
			return mac.Sum(nil)
		})}
	}, asymjwt.ErrAlgorithm},
	{"expired", func(t *testing.T, e *testEnv, m string) []string {
		return []string{boundValue(t, mustSigner(t, "alice", e.aliceKey, asymjwt.WithAudience(audience), clockAt(-time.Minute)), m)}
	}, asymjwt.ErrStale},
	{"from the future", func(t *testing.T, e *testEnv, m string) []string {
		return []string{boundValue(t, mustSigner(t, "alice", e.aliceKey, asymjwt.WithAudience(audience), clockAt(time.Minute)), m)}
	}, asymjwt.ErrStale},
	{"bound to another method", func(t *testing.T, e *testEnv, _ string) []string {
		return []string{boundValue(t, e.signer, methodEmpty)}
	}, asymjwt.ErrRequestMismatch},
	{"bound to another HTTP method", func(t *testing.T, e *testEnv, m string) []string {
		tok, err := e.signer.TokenFor("GET", m, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		return []string{e.signer.AuthorizationValue(tok)}
	}, asymjwt.ErrRequestMismatch},
	{"bound to no method (strict mode)", func(t *testing.T, e *testEnv, _ string) []string {
		tok, err := e.signer.Token()
		if err != nil {
			t.Fatal(err)
		}
		return []string{e.signer.AuthorizationValue(tok)}
	}, asymjwt.ErrRequestMismatch},
	{"body hash", func(t *testing.T, e *testEnv, m string) []string {
		s := mustSigner(t, "alice", e.aliceKey, asymjwt.WithAudience(audience), asymjwt.WithBodyHash())
		return []string{boundValue(t, s, m)}
	}, asymjwt.ErrRequestMismatch},
	{"another audience", func(t *testing.T, e *testEnv, m string) []string {
		return []string{boundValue(t, mustSigner(t, "alice", e.aliceKey, asymjwt.WithAudience("other-svc")), m)}
	}, asymjwt.ErrAudience},
	{"no audience", func(t *testing.T, e *testEnv, m string) []string {
		return []string{boundValue(t, mustSigner(t, "alice", e.aliceKey), m)}
	}, asymjwt.ErrAudience},
}

// TestRefused sends each bad credential on every kind of call: it must
// end with Unauthenticated and the generic message, never reach the
// handler, and be refused for the reason the case is about.
func TestRefused(t *testing.T) {
	for _, tr := range secureTransports {
		t.Run(tr.String(), func(t *testing.T) {
			e := newEnv(t, tr, serverSetup{})
			c := e.bare(t)
			for _, tc := range refusals {
				t.Run(tc.name, func(t *testing.T) {
					for _, r := range rpcs {
						t.Run(r.name, func(t *testing.T) {
							handled, observed := len(e.svc.seen()), e.outcomes.count()
							ctx := withAuthorization(t.Context(), tc.values(t, e, r.method)...)
							got, err := r.call(ctx, c)
							wantStatus(t, err, codes.Unauthenticated, "grpcauth: unauthenticated")
							if n := len(e.svc.seen()) - handled; n != 0 || got != "" {
								t.Fatalf("handler ran %d times, answered %q", n, got)
							}
							if n := e.outcomes.count() - observed; n != 1 {
								t.Fatalf("%d verifications, want 1", n)
							}
							if out := e.outcomes.last(t); !errors.Is(out.Err, tc.want) {
								t.Fatalf("refused for %v, want %v", out.Err, tc.want)
							}
						})
					}
				})
			}
		})
	}
}

// TestReplayRefused captures the authorization value a real call carried
// on the wire and sends it again: the second call is refused.
func TestReplayRefused(t *testing.T) {
	for _, tr := range secureTransports {
		t.Run(tr.String(), func(t *testing.T) {
			var (
				mu       sync.Mutex
				captured []string
			)
			capture := func(ctx context.Context) {
				mu.Lock()
				captured = append(captured, metadata.ValueFromIncomingContext(ctx, "authorization")...)
				mu.Unlock()
			}
			e := newEnv(t, tr, serverSetup{
				unaryFirst: func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
					capture(ctx)
					return h(ctx, req)
				},
				streamFirst: func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
					capture(ss.Context())
					return h(srv, ss)
				},
			})
			signed, bare := e.client(t), e.bare(t)
			for _, r := range rpcs {
				t.Run(r.name, func(t *testing.T) {
					mu.Lock()
					captured = nil
					mu.Unlock()
					if _, err := r.call(t.Context(), signed); err != nil {
						t.Fatal(err)
					}
					mu.Lock()
					values := captured
					mu.Unlock()
					if len(values) != 1 || !strings.HasPrefix(values[0], "JWT ") {
						t.Fatalf("captured %q", values)
					}
					handled := len(e.svc.seen())
					_, err := r.call(withAuthorization(t.Context(), values[0]), bare)
					wantStatus(t, err, codes.Unauthenticated, "grpcauth: unauthenticated")
					if out := e.outcomes.last(t); !errors.Is(out.Err, asymjwt.ErrReplay) {
						t.Fatalf("refused for %v, want %v", out.Err, asymjwt.ErrReplay)
					}
					if len(e.svc.seen()) != handled {
						t.Fatal("the replayed call reached the handler")
					}
				})
			}
		})
	}
}

// TestMethodBinding: a fresh token made for method A is refused on B,
// and the refusal does not use it up: it then works on A.
func TestMethodBinding(t *testing.T) {
	pairs := [][2]string{
		{methodUnary, methodEmpty},
		{methodServerStr, methodUnary},
		{methodBidi, methodServerStr},
		{methodUnary, methodBidi},
	}
	byMethod := func(m string) rpc {
		for _, r := range rpcs {
			if r.method == m {
				return r
			}
		}
		return rpc{name: "empty", method: methodEmpty, call: func(ctx context.Context, c testgrpc.TestServiceClient, opts ...grpc.CallOption) (string, error) {
			_, err := c.EmptyCall(ctx, &testgrpc.Empty{}, opts...)
			return "", err
		}}
	}
	for _, lax := range []bool{false, true} {
		t.Run(fmt.Sprintf("lax=%v", lax), func(t *testing.T) {
			e := newEnv(t, bufTLS, serverSetup{lax: lax})
			c := e.bare(t)
			for _, p := range pairs {
				a, b := byMethod(p[0]), byMethod(p[1])
				t.Run(a.name+" on "+b.name, func(t *testing.T) {
					value := boundValue(t, e.signer, a.method)
					_, err := b.call(withAuthorization(t.Context(), value), c)
					wantStatus(t, err, codes.Unauthenticated, "grpcauth: unauthenticated")
					if out := e.outcomes.last(t); !errors.Is(out.Err, asymjwt.ErrRequestMismatch) {
						t.Fatalf("refused for %v, want %v", out.Err, asymjwt.ErrRequestMismatch)
					}
					if _, err := a.call(withAuthorization(t.Context(), value), c); err != nil {
						t.Fatalf("the token on its own method: %v", err)
					}
				})
			}
		})
	}
}

// TestStrictMode: a token bound to no method passes a verifier that does
// not require binding (Python-library clients) and is refused by one that
// does.
func TestStrictMode(t *testing.T) {
	for _, strict := range []bool{false, true} {
		t.Run(fmt.Sprintf("strict=%v", strict), func(t *testing.T) {
			setup := serverSetup{lax: true}
			if strict {
				setup.verifierOpts = []asymjwt.VerifierOption{asymjwt.RequireRequestBinding()}
			}
			e := newEnv(t, bufTLS, setup)
			c := e.bare(t)
			s := mustSigner(t, "alice", e.aliceKey)
			for _, r := range rpcs {
				t.Run(r.name, func(t *testing.T) {
					tok, err := s.Token()
					if err != nil {
						t.Fatal(err)
					}
					got, err := r.call(withAuthorization(t.Context(), s.AuthorizationValue(tok)), c)
					if strict {
						wantStatus(t, err, codes.Unauthenticated, "grpcauth: unauthenticated")
						if out := e.outcomes.last(t); !errors.Is(out.Err, asymjwt.ErrRequestMismatch) {
							t.Fatalf("refused for %v, want %v", out.Err, asymjwt.ErrRequestMismatch)
						}
						return
					}
					if err != nil || got != r.wantUsers("alice") {
						t.Fatalf("got %q, %v", got, err)
					}
					if seen := e.svc.seen(); seen[len(seen)-1].RequestBound {
						t.Fatal("an unbound token reported as RequestBound")
					}
				})
			}
		})
	}
}

func TestStoreFailureUnavailable(t *testing.T) {
	cases := []struct {
		name  string
		setup serverSetup
	}{
		{"replay store", serverSetup{verifierOpts: []asymjwt.VerifierOption{asymjwt.WithReplayStore(failingReplayStore{})}}},
		{"replay store full", serverSetup{verifierOpts: []asymjwt.VerifierOption{
			asymjwt.WithReplayStore(fullReplayStore(t)),
		}}},
		{"key store", serverSetup{keys: failingKeyStore{}}},
	}
	for _, tr := range secureTransports {
		for _, tc := range cases {
			t.Run(tr.String()+"/"+tc.name, func(t *testing.T) {
				e := newEnv(t, tr, tc.setup)
				c := e.client(t)
				for _, r := range rpcs {
					t.Run(r.name, func(t *testing.T) {
						_, err := r.call(t.Context(), c)
						wantStatus(t, err, codes.Unavailable, "grpcauth: authentication unavailable")
						if out := e.outcomes.last(t); !errors.Is(out.Err, asymjwt.ErrStoreUnavailable) {
							t.Fatalf("refused for %v, want %v", out.Err, asymjwt.ErrStoreUnavailable)
						}
						if len(e.svc.seen()) != 0 {
							t.Fatal("the handler ran")
						}
					})
				}
			})
		}
	}
}

// fullReplayStore returns a memory replay store with no room left: a cap
// of one entry per shard, and far more keys claimed than there are shards,
// so that every shard holds one.
func fullReplayStore(t *testing.T) asymjwt.ReplayStore {
	s := asymjwt.NewMemoryReplayStore(asymjwt.WithMaxEntries(1))
	for i := range 4096 {
		// Errors are expected: shards fill up one by one.
		_, _ = s.Claim(t.Context(), fmt.Sprint(i), time.Now().Add(time.Hour))
	}
	return s
}

func TestExempt(t *testing.T) {
	for _, tr := range secureTransports {
		t.Run(tr.String(), func(t *testing.T) {
			e := newEnv(t, tr, serverSetup{authOpts: []grpcauth.Option{
				grpcauth.WithExempt(grpcauth.HealthMethods, grpcauth.ReflectionMethods),
				grpcauth.WithExempt(grpcauth.Methods(methodEmpty)),
			}})
			conn := e.dial(t) // no credentials at all

			resp, err := healthpb.NewHealthClient(conn).Check(t.Context(), &healthpb.HealthCheckRequest{})
			if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				t.Fatalf("health check: %v, %v", resp, err)
			}
			watch, err := healthpb.NewHealthClient(conn).Watch(t.Context(), &healthpb.HealthCheckRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if resp, err := watch.Recv(); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				t.Fatalf("health watch: %v, %v", resp, err)
			}

			refl, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if err := refl.Send(&reflectionpb.ServerReflectionRequest{
				MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{},
			}); err != nil {
				t.Fatal(err)
			}
			list, err := refl.Recv()
			if err != nil || len(list.GetListServicesResponse().GetService()) == 0 {
				t.Fatalf("reflection: %v, %v", list, err)
			}

			c := testgrpc.NewTestServiceClient(conn)
			if _, err := c.EmptyCall(t.Context(), &testgrpc.Empty{}); err != nil {
				t.Fatalf("exempted EmptyCall: %v", err)
			}
			if seen := e.svc.seen(); len(seen) != 1 || seen[0] != nil {
				t.Fatalf("exempted call saw identities %v", seen)
			}
			// The same connection is refused everywhere else.
			for _, r := range rpcs {
				_, err := r.call(t.Context(), c)
				wantStatus(t, err, codes.Unauthenticated, "grpcauth: unauthenticated")
			}
			if e.outcomes.count() != len(rpcs) {
				t.Fatalf("%d verifications, want %d: exempted calls must not be verified", e.outcomes.count(), len(rpcs))
			}
		})
	}
}

func TestSelectors(t *testing.T) {
	ctx := t.Context()
	cases := []struct {
		method             string
		health, reflection bool
	}{
		{healthpb.Health_Check_FullMethodName, true, false},
		{healthpb.Health_Watch_FullMethodName, true, false},
		{healthpb.Health_List_FullMethodName, true, false},
		{reflectionpb.ServerReflection_ServerReflectionInfo_FullMethodName, false, true},
		{"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", false, true},
		{"/grpc.health.v1.Health/Other", false, false},
		{"/grpc.health.v1.HealthX/Check", false, false},
		{"grpc.health.v1.Health/Check", false, false},
		{"//grpc.health.v1.Health/Check", false, false},
		{"/grpc.health.v1.Health/Check/", false, false},
		{"/GRPC.HEALTH.V1.HEALTH/CHECK", false, false},
		{"/grpc.reflection.v1.ServerReflection/Other", false, false},
		{methodUnary, false, false},
		{"", false, false},
	}
	for _, tc := range cases {
		if got := grpcauth.HealthMethods(ctx, tc.method); got != tc.health {
			t.Errorf("HealthMethods(%q) = %v", tc.method, got)
		}
		if got := grpcauth.ReflectionMethods(ctx, tc.method); got != tc.reflection {
			t.Errorf("ReflectionMethods(%q) = %v", tc.method, got)
		}
	}
	sel := grpcauth.Methods(methodUnary, methodEmpty)
	for m, want := range map[string]bool{methodUnary: true, methodEmpty: true, methodBidi: false, methodUnary + "x": false, "": false} {
		if got := sel(ctx, m); got != want {
			t.Errorf("Methods(...)(%q) = %v", m, got)
		}
	}
	if grpcauth.Methods()(ctx, "") {
		t.Error("Methods() selects the empty name")
	}
}

func TestOptional(t *testing.T) {
	e := newEnv(t, bufTLS, serverSetup{authOpts: []grpcauth.Option{grpcauth.Optional()}})
	signed, bare := e.client(t), e.bare(t)
	for _, r := range rpcs {
		t.Run(r.name, func(t *testing.T) {
			got, err := r.call(t.Context(), bare)
			if err != nil || got != r.wantUsers("") {
				t.Fatalf("anonymous call: %q, %v", got, err)
			}
			if seen := e.svc.seen(); seen[len(seen)-1] != nil {
				t.Fatal("anonymous call got an identity")
			}
			if got, err := r.call(t.Context(), signed); err != nil || got != r.wantUsers("alice") {
				t.Fatalf("signed call: %q, %v", got, err)
			}
			// Credentials that are present but bad are refused, never
			// downgraded to anonymous.
			for _, tc := range refusals {
				if errors.Is(tc.want, asymjwt.ErrNoCredentials) {
					continue
				}
				handled := len(e.svc.seen())
				_, err := r.call(withAuthorization(t.Context(), tc.values(t, e, r.method)...), bare)
				wantStatus(t, err, codes.Unauthenticated, "grpcauth: unauthenticated")
				if len(e.svc.seen()) != handled {
					t.Fatalf("%s: reached the handler", tc.name)
				}
			}
		})
	}
}

// TestStacked: the interceptors chained twice with one verifier
// (grpc.ChainUnaryInterceptor(UnaryServerInterceptor(v, Optional()),
// UnaryServerInterceptor(v)), and for streams) verify each call once, as
// the HTTP middleware does when stacked: twice would refuse every valid
// call as replayed.
func TestStacked(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []grpcauth.Option
		anon codes.Code // what a call without credentials gets
	}{
		{"optional then required", nil, codes.Unauthenticated},
		{"optional twice", []grpcauth.Option{grpcauth.Optional()}, codes.OK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, bufTLS, serverSetup{stacked: true, authOpts: tc.opts})
			signed, bare := e.client(t), e.bare(t)
			for _, r := range rpcs {
				t.Run(r.name, func(t *testing.T) {
					before := e.outcomes.count()
					if got, err := r.call(t.Context(), signed); err != nil || got != r.wantUsers("alice") {
						t.Fatalf("signed call: %q, %v", got, err)
					}
					if n := e.outcomes.count() - before; n != 1 {
						t.Errorf("verified %d times, want once", n)
					}
					_, err := r.call(t.Context(), bare)
					if status.Code(err) != tc.anon {
						t.Errorf("call without credentials: %v, want %v", err, tc.anon)
					}
				})
			}
		})
	}
}

// TestMetadataSpellings: metadata built in process (in-process
// transports, gateways) may hold the key in several cases; every value
// under every spelling counts, so a second credential is refused.
func TestMetadataSpellings(t *testing.T) {
	v, alice, _ := asymjwttest.Alice(t)
	intercept := grpcauth.UnaryServerInterceptor(v)
	call := func(md metadata.MD) error {
		_, err := intercept(metadata.NewIncomingContext(t.Context(), md), nil, &grpc.UnaryServerInfo{FullMethod: methodUnary},
			func(context.Context, any) (any, error) { return nil, nil })
		return err
	}
	valid := func() string {
		tok, err := alice.Token()
		if err != nil {
			t.Fatal(err)
		}
		return alice.AuthorizationValue(tok)
	}
	for _, tc := range []struct {
		name string
		md   metadata.MD
		want codes.Code
	}{
		{"lower case", metadata.MD{"authorization": {valid()}}, codes.OK},
		{"canonical HTTP case", metadata.MD{"Authorization": {valid()}}, codes.OK},
		{"valid and junk", metadata.MD{"authorization": {valid()}, "Authorization": {"JWT junk"}}, codes.Unauthenticated},
		{"junk and valid", metadata.MD{"Authorization": {valid()}, "authorization": {"JWT junk"}}, codes.Unauthenticated},
		{"two valid", metadata.MD{"AUTHORIZATION": {valid()}, "authorization": {valid()}}, codes.Unauthenticated},
		{"two values", metadata.MD{"authorization": {valid(), "JWT junk"}}, codes.Unauthenticated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := call(tc.md); status.Code(err) != tc.want {
				t.Errorf("%v, want %v", err, tc.want)
			}
		})
	}
}

func TestErrorMapper(t *testing.T) {
	type call struct {
		method string
		err    error
	}
	var (
		mu    sync.Mutex
		calls []call
	)
	e := newEnv(t, bufTLS, serverSetup{authOpts: []grpcauth.Option{
		grpcauth.WithErrorMapper(func(ctx context.Context, fullMethod string, err error) error {
			mu.Lock()
			calls = append(calls, call{fullMethod, err})
			mu.Unlock()
			if errors.Is(err, asymjwt.ErrNoCredentials) {
				return status.Error(codes.PermissionDenied, "sign your calls")
			}
			return nil // falls back to the default status
		}),
	}})
	c := e.bare(t)
	for _, r := range rpcs {
		t.Run(r.name, func(t *testing.T) {
			mu.Lock()
			calls = nil
			mu.Unlock()
			_, err := r.call(t.Context(), c)
			wantStatus(t, err, codes.PermissionDenied, "sign your calls")

			_, err = r.call(withAuthorization(t.Context(), "JWT not-a-token"), c)
			wantStatus(t, err, codes.Unauthenticated, "grpcauth: unauthenticated")

			mu.Lock()
			defer mu.Unlock()
			if len(calls) != 2 || calls[0].method != r.method || !errors.Is(calls[0].err, asymjwt.ErrNoCredentials) ||
				!errors.Is(calls[1].err, asymjwt.ErrMalformed) {
				t.Fatalf("mapper calls: %v", calls)
			}
			if len(e.svc.seen()) != 0 {
				t.Fatal("a refused call reached the handler")
			}
		})
	}
}

func TestInsecureExposeErrorDetails(t *testing.T) {
	e := newEnv(t, bufTLS, serverSetup{authOpts: []grpcauth.Option{grpcauth.InsecureExposeErrorDetails()}})
	c := e.bare(t)
	s := mustSigner(t, "mallory", mustKey(t, asymjwt.KindEd25519), asymjwt.WithAudience(audience))
	for _, r := range rpcs {
		_, err := r.call(withAuthorization(t.Context(), boundValue(t, s, r.method)), c)
		if st := status.Convert(err); st.Code() != codes.Unauthenticated || st.Message() != asymjwt.ErrUnknownUser.Error() {
			t.Fatalf("%s: %v; want the reason in the message", r.name, err)
		}
	}
}

func TestCode(t *testing.T) {
	cases := []struct {
		err  error
		want codes.Code
	}{
		{nil, codes.OK},
		{asymjwt.ErrNoCredentials, codes.Unauthenticated},
		{fmt.Errorf("wrapped: %w", asymjwt.ErrSignature), codes.Unauthenticated},
		{asymjwt.ErrReplay, codes.Unauthenticated},
		{asymjwt.ErrStoreUnavailable, codes.Unavailable},
		{fmt.Errorf("%w: redis: timeout", asymjwt.ErrStoreUnavailable), codes.Unavailable},
		{asymjwt.ErrReplayStoreFull, codes.Unavailable},
		{errors.New("anything else"), codes.Unauthenticated},
	}
	for _, tc := range cases {
		if got := grpcauth.Code(tc.err); got != tc.want {
			t.Errorf("Code(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// TestConcurrent: 100 RPCs at once on one connection, each with its own
// token, all accepted.
func TestConcurrent(t *testing.T) {
	for _, tr := range secureTransports {
		t.Run(tr.String(), func(t *testing.T) {
			e := newEnv(t, tr, serverSetup{})
			c := e.client(t)
			const n = 100
			errs := make(chan error, n)
			var wg sync.WaitGroup
			for i := range n {
				r := rpcs[i%len(rpcs)]
				wg.Go(func() {
					got, err := r.call(t.Context(), c)
					if err == nil && got != r.wantUsers("alice") {
						err = fmt.Errorf("%s: handler saw %q", r.name, got)
					}
					errs <- err
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
			seen := e.svc.seen()
			nonces := make(map[string]bool)
			for _, id := range seen {
				if id == nil {
					t.Fatal("a call ran without identity")
				}
				nonces[id.Nonce] = true
			}
			if len(seen) != n || len(nonces) != n {
				t.Fatalf("%d calls handled with %d distinct nonces, want %d", len(seen), len(nonces), n)
			}
		})
	}
}

func TestNilVerifierPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"unary":  func() { grpcauth.UnaryServerInterceptor(nil) },
		"stream": func() { grpcauth.StreamServerInterceptor(nil) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			f()
		})
	}
}
