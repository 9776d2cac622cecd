package grpcauth_test

import (
	"context"
	"encoding/json"
	"testing"

	asymjwt "github.com/asymjwt/asymjwt/core"
	"github.com/asymjwt/asymjwt/core/asymjwttest"
	"github.com/asymjwt/asymjwt/grpcauth"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// The methods a rules App serves: ItemRoute's, and PublicRoute's, which
// App.SkipPublic exempts.
const (
	rulesItem   = "/asymjwttest.Items/Get"
	rulesPublic = "/asymjwttest.Public/Get"
)

// TestRules holds the interceptors to the rules every adapter shares
// (asymjwttest.RunDriver), unary and streaming, called in process as an
// in-process transport or a gateway calls them: the incoming metadata
// holds the credentials under their keys as spelled, and the context a
// call is made on may already carry an identity.
func TestRules(t *testing.T) {
	t.Run("unary", func(t *testing.T) { asymjwttest.RunDriver(t, unaryDriver) })
	t.Run("stream", func(t *testing.T) { asymjwttest.RunDriver(t, streamDriver) })
}

// rulesOptions maps the App's options to the interceptors'.
func rulesOptions(app *asymjwttest.App) []grpcauth.Option {
	var opts []grpcauth.Option
	if app.Optional {
		opts = append(opts, grpcauth.Optional())
	}
	if app.SkipPublic {
		opts = append(opts, grpcauth.WithExempt(grpcauth.Methods(rulesPublic)))
	}
	return opts
}

// incoming returns the context a server hands the interceptors for c:
// c.Context (or a fresh one) with c's credentials as incoming metadata.
func incoming(c asymjwttest.Call) (context.Context, string) {
	ctx := c.Context
	if ctx == nil {
		ctx = context.Background()
	}
	md := metadata.MD{}
	for _, f := range c.Credentials {
		md[f.Key] = append(md[f.Key], f.Value)
	}
	method := rulesItem
	if c.Public {
		method = rulesPublic
	}
	return metadata.NewIncomingContext(ctx, md), method
}

// handle is the App's handler behind the interceptors.
func handle(app *asymjwttest.App, ctx context.Context) []byte {
	id, _ := asymjwt.FromContext(ctx)
	return app.Handle(ctx, id, nil)
}

// answer turns what a call returned into an Answer.
func answer(t testing.TB, reply []byte, err error) asymjwttest.Answer {
	t.Helper()
	st := status.Convert(err)
	switch st.Code() {
	case codes.OK:
		a := asymjwttest.Answer{Kind: asymjwttest.Handled}
		if err := json.Unmarshal(reply, &a.Reply); err != nil {
			t.Fatalf("OK with a reply that is not App.Handle's: %q", reply)
		}
		return a
	case codes.Unauthenticated:
		return asymjwttest.Answer{Kind: asymjwttest.Unauthenticated, Seen: st.Message()}
	case codes.Unavailable:
		return asymjwttest.Answer{Kind: asymjwttest.Unavailable, Seen: st.Message()}
	}
	return asymjwttest.Answer{Other: st.String()}
}

func unaryDriver(_ testing.TB, app *asymjwttest.App) asymjwttest.CallFunc {
	var chain []grpc.UnaryServerInterceptor
	if app.Stacked {
		chain = append(chain, grpcauth.UnaryServerInterceptor(app.Verifier, grpcauth.Optional()))
	}
	chain = append(chain, grpcauth.UnaryServerInterceptor(app.Verifier, rulesOptions(app)...))
	return func(t testing.TB, c asymjwttest.Call) asymjwttest.Answer {
		ctx, method := incoming(c)
		info := &grpc.UnaryServerInfo{FullMethod: method}
		resp, err := chainUnary(chain, ctx, info, func(ctx context.Context, _ any) (any, error) {
			return handle(app, ctx), nil
		})
		reply, _ := resp.([]byte)
		return answer(t, reply, err)
	}
}

func streamDriver(_ testing.TB, app *asymjwttest.App) asymjwttest.CallFunc {
	var chain []grpc.StreamServerInterceptor
	if app.Stacked {
		chain = append(chain, grpcauth.StreamServerInterceptor(app.Verifier, grpcauth.Optional()))
	}
	chain = append(chain, grpcauth.StreamServerInterceptor(app.Verifier, rulesOptions(app)...))
	return func(t testing.TB, c asymjwttest.Call) asymjwttest.Answer {
		ctx, method := incoming(c)
		info := &grpc.StreamServerInfo{FullMethod: method, IsServerStream: true}
		var reply []byte
		err := chainStream(chain, &fakeStream{ctx: ctx}, info, func(_ any, ss grpc.ServerStream) error {
			reply = handle(app, ss.Context())
			return nil
		})
		return answer(t, reply, err)
	}
}

// chainUnary runs interceptors around handler, the first outermost, as
// grpc.ChainUnaryInterceptor does.
func chainUnary(interceptors []grpc.UnaryServerInterceptor, ctx context.Context, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if len(interceptors) == 0 {
		return handler(ctx, nil)
	}
	return interceptors[0](ctx, nil, info, func(ctx context.Context, _ any) (any, error) {
		return chainUnary(interceptors[1:], ctx, info, handler)
	})
}

// chainStream is chainUnary for streams, as grpc.ChainStreamInterceptor.
func chainStream(interceptors []grpc.StreamServerInterceptor, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if len(interceptors) == 0 {
		return handler(nil, ss)
	}
	return interceptors[0](nil, ss, info, func(_ any, ss grpc.ServerStream) error {
		return chainStream(interceptors[1:], ss, info, handler)
	})
}

// fakeStream is a server stream with only a context.
type fakeStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *fakeStream) Context() context.Context { return s.ctx }
