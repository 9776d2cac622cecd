package asymjwttest

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

// Routes an App serves, in the ":param" syntax gin, echo and fiber share.
const (
	// ItemRoute is served by App.Handle for every method, behind the
	// middleware.
	ItemRoute = "/items/:id"
	// PublicRoute is served by App.Handle for every method, behind the
	// middleware too; when App.SkipPublic is set the middleware's skip
	// option must let it through unchecked.
	PublicRoute = "/public"
)

// SuccessHeader is the response header an App's success handler sets.
const SuccessHeader = "X-Asymjwt-Test-User"

// StartFunc serves app on a loopback listener (127.0.0.1) and returns its
// base URL, such as "http://127.0.0.1:40123". The server must be stopped
// through t.Cleanup.
type StartFunc func(t testing.TB, app *App) (baseURL string)

// App is the server Run asks an adapter to build for one test.
type App struct {
	// Verifier is the verifier the middleware must use.
	Verifier *asymjwt.Verifier
	// Optional asks for the middleware's optional mode.
	Optional bool
	// SkipPublic asks for the middleware's skip option (gin skip paths,
	// echo Skipper, fiber Next), set to skip PublicRoute.
	SkipPublic bool
	// ErrorHandler, when set, must be installed as the middleware's error
	// handler: it answers each refusal with the status and text body
	// ErrorHandler returns for the error.
	ErrorHandler func(err error) (status int, body string)
	// SuccessHandler, when set, must be installed as the middleware's
	// success handler: it sets the response header SuccessHeader to what
	// SuccessHandler returns for the identity, and the request goes on.
	SuccessHandler func(id *asymjwt.Identity) string
	// Stacked asks for the middleware twice on the routes, as an app
	// with it on every route and again on a group does: an outer layer
	// with the same verifier in optional mode (and no other option), then
	// the layer the other fields configure. Only RunDriver sets it.
	Stacked bool

	calls atomic.Int64
	mu    sync.Mutex
	last  context.Context // the context Handle last ran with
}

// Reply is what App.Handle answers: what the handler behind the
// middleware saw.
type Reply struct {
	// Authenticated: the adapter's accessor returned an identity.
	Authenticated bool `json:"authenticated"`
	// InContext: asymjwt.FromContext on the request's context returned one.
	InContext bool `json:"in_context"`
	// Same: both are the same *asymjwt.Identity.
	Same         bool   `json:"same"`
	Username     string `json:"username"`
	Nonce        string `json:"nonce"`
	KeyID        string `json:"kid"`
	RequestBound bool   `json:"request_bound"`
	BodyBound    bool   `json:"body_bound"`
	// Body is what the handler read of the request body.
	Body string `json:"body"`
}

// Handle is the handler of ItemRoute and PublicRoute. ctx is the
// request's context (fiber: UserContext), id what the adapter's Identity
// accessor returned (nil when it reported none), body the request body as
// the handler reads it after the middleware. The adapter answers with
// status 200, Content-Type application/json and the returned bytes.
func (a *App) Handle(ctx context.Context, id *asymjwt.Identity, body []byte) []byte {
	a.calls.Add(1)
	a.mu.Lock()
	a.last = ctx
	a.mu.Unlock()
	fromCtx, _ := asymjwt.FromContext(ctx)
	r := Reply{
		Authenticated: id != nil,
		InContext:     fromCtx != nil,
		Same:          id != nil && id == fromCtx,
		Body:          string(body),
	}
	if id != nil {
		r.Username, r.KeyID, r.Nonce = id.Username, id.KeyID, id.Nonce
		r.RequestBound, r.BodyBound = id.RequestBound, id.BodyBound
	}
	out, err := json.Marshal(r)
	if err != nil {
		panic(err) // Reply holds only strings and bools
	}
	return out
}

// Alice returns what adapter unit tests share: a verifier that trusts only
// "alice", logs nothing and counts the verifications it runs, and a
// signer for her.
func Alice(tb testing.TB) (v *asymjwt.Verifier, alice *asymjwt.Signer, verifications *atomic.Int64) {
	tb.Helper()
	key, err := asymjwt.GenerateKey(asymjwt.KindEd25519)
	if err != nil {
		tb.Fatal(err)
	}
	keys := asymjwt.NewMemoryKeyStore()
	if _, err := keys.Add("alice", key.Public()); err != nil {
		tb.Fatal(err)
	}
	verifications = new(atomic.Int64)
	v, err = asymjwt.NewVerifier(keys, asymjwt.WithLogger(slog.New(slog.DiscardHandler)),
		asymjwt.WithObserver(func(context.Context, asymjwt.Outcome) { verifications.Add(1) }))
	if err != nil {
		tb.Fatal(err)
	}
	if alice, err = asymjwt.NewSigner("alice", key); err != nil {
		tb.Fatal(err)
	}
	return v, alice, verifications
}
