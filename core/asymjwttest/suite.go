package asymjwttest

import (
	"bufio"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

// Run checks the middleware in the servers start builds against the
// protocol: accepted requests and the identity in the handler, every kind
// of refused credential, replay, request and body binding (tampered path,
// query, method and body, bodies at and over the limit, chunked bodies),
// the body still readable by the handler, optional mode, the skip option,
// custom error and success handlers, and 503 when a store fails. Each
// refusal must stop the chain: the handler behind the middleware must not
// run. Every 401 from one server must be answered alike, whatever the
// reason, and so must every 503; an identity must never carry over to a
// later anonymous request on the same connection.
func Run(t *testing.T, start StartFunc) {
	t.Helper()
	f := newFixture(t, start)
	t.Run("Accepted", f.testAccepted)
	t.Run("Refused", f.testRefused)
	t.Run("Replay", f.testReplay)
	t.Run("Binding", f.testBinding)
	t.Run("Optional", f.testOptional)
	t.Run("Skip", f.testSkip)
	t.Run("ErrorHandler", f.testErrorHandler)
	t.Run("SuccessHandler", f.testSuccessHandler)
	t.Run("StoreFailure", f.testStoreFailure)
}

// fixture holds the keys every test shares: "alice" is registered.
type fixture struct {
	start    StartFunc
	keys     *asymjwt.MemoryKeyStore
	aliceKey crypto.Signer
	otherKey crypto.Signer // registered for nobody
}

func newFixture(t *testing.T, start StartFunc) *fixture {
	t.Helper()
	f := &fixture{start: start, keys: asymjwt.NewMemoryKeyStore()}
	var err error
	if f.aliceKey, err = asymjwt.GenerateKey(asymjwt.KindEd25519); err != nil {
		t.Fatal(err)
	}
	if f.otherKey, err = asymjwt.GenerateKey(asymjwt.KindEd25519); err != nil {
		t.Fatal(err)
	}
	if _, err := f.keys.Add("alice", f.aliceKey.Public()); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) signer(t *testing.T, username string, key crypto.Signer, opts ...asymjwt.SignerOption) *asymjwt.Signer {
	t.Helper()
	s, err := asymjwt.NewSigner(username, key, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (f *fixture) alice(t *testing.T, opts ...asymjwt.SignerOption) *asymjwt.Signer {
	t.Helper()
	return f.signer(t, "alice", f.aliceKey, opts...)
}

// server is one started App and what its verifier reported.
type server struct {
	app       *App
	url       string
	transport *http.Transport

	mu       sync.Mutex
	outcomes []asymjwt.Outcome
	refusals map[int]refusal // the first 401 and 503 answered
}

// refusal is how a server answered a refusal status.
type refusal struct {
	body, challenge string
	reasons         []error
}

// serve starts an App whose verifier uses keys (f.keys when nil) and opts;
// configure sets the App's options.
func (f *fixture) serve(t *testing.T, keys asymjwt.KeyStore, configure func(*App), opts ...asymjwt.VerifierOption) *server {
	t.Helper()
	if keys == nil {
		keys = f.keys
	}
	s := &server{app: &App{}, refusals: make(map[int]refusal)}
	opts = append([]asymjwt.VerifierOption{
		asymjwt.WithLogger(slog.New(slog.DiscardHandler)),
		asymjwt.WithObserver(func(_ context.Context, o asymjwt.Outcome) {
			s.mu.Lock()
			s.outcomes = append(s.outcomes, o)
			s.mu.Unlock()
		}),
	}, opts...)
	v, err := asymjwt.NewVerifier(keys, opts...)
	if err != nil {
		t.Fatal(err)
	}
	s.app.Verifier = v
	if configure != nil {
		configure(s.app)
	}
	s.url = f.start(t, s.app)
	if !strings.HasPrefix(s.url, "http://127.0.0.1:") {
		t.Fatalf("StartFunc returned %q: want a loopback URL http://127.0.0.1:port", s.url)
	}
	// Registered after the server's cleanup, so it runs before it: idle
	// keep-alive connections would hold a graceful shutdown.
	s.transport = &http.Transport{}
	t.Cleanup(s.transport.CloseIdleConnections)
	return s
}

// request is one call. The zero value is GET ItemRoute.
type request struct {
	method string
	path   string // escaped path and query; default /items/1
	body   string
	header http.Header
	// tamper changes the request after it was signed, before it is sent.
	tamper func(*http.Request)
}

type response struct {
	status   int
	header   http.Header
	body     string
	reply    Reply
	handled  int64             // how often the handler ran
	outcomes []asymjwt.Outcome // what the verifier reported
	reused   bool              // sent on a kept-alive connection
}

// send sends r signed by signer (unsigned when nil).
func (s *server) send(t *testing.T, signer *asymjwt.Signer, r request) *response {
	t.Helper()
	return s.record(t, func() (*response, error) { return s.do(signer, r) })
}

// sendRaw writes "method target" on a connection of its own, byte for
// byte, as a client other than Go's may, signed by signer for the path
// net/http reads from target (URL.EscapedPath), which the token binds
// whatever the framework.
func (s *server) sendRaw(t *testing.T, signer *asymjwt.Signer, method, target string) *response {
	t.Helper()
	return s.record(t, func() (*response, error) { return s.doRaw(signer, method, target) })
}

// record runs do and adds what the handler and the verifier did.
func (s *server) record(t *testing.T, do func() (*response, error)) *response {
	t.Helper()
	s.mu.Lock()
	s.outcomes = nil
	s.mu.Unlock()
	before := s.app.calls.Load()
	resp, err := do()
	if err != nil {
		t.Fatal(err)
	}
	resp.handled = s.app.calls.Load() - before
	s.mu.Lock()
	resp.outcomes = s.outcomes
	s.mu.Unlock()
	s.sameRefusal(t, resp)
	return resp
}

// sameRefusal checks that r, when a 401 or a 503, is answered as the
// first of its status from s was: a body or challenge that varies with
// the reason tells the client which check failed.
func (s *server) sameRefusal(t *testing.T, r *response) {
	t.Helper()
	if r.status != http.StatusUnauthorized && r.status != http.StatusServiceUnavailable {
		return
	}
	got := refusal{body: r.body, challenge: strings.Join(r.header.Values("WWW-Authenticate"), ", "), reasons: r.errs()}
	s.mu.Lock()
	first, seen := s.refusals[r.status]
	if !seen {
		s.refusals[r.status] = got
	}
	s.mu.Unlock()
	if seen && (got.body != first.body || got.challenge != first.challenge) {
		t.Errorf("%d for %v: body %q, WWW-Authenticate %q; for %v it was %q, %q: the answer must not tell which check failed",
			r.status, got.reasons, got.body, got.challenge, first.reasons, first.body, first.challenge)
	}
}

// do sends r without reading the outcomes; safe for concurrent use.
func (s *server) do(signer *asymjwt.Signer, r request) (*response, error) {
	if r.method == "" {
		r.method = http.MethodGet
	}
	if r.path == "" {
		r.path = "/items/1"
	}
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	var reused bool
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) { reused = info.Reused },
	})
	req, err := http.NewRequestWithContext(ctx, r.method, s.url+r.path, body)
	if err != nil {
		return nil, err
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	var rt http.RoundTripper = s.transport
	if r.tamper != nil {
		rt = tamperer{tamper: r.tamper, base: rt}
	}
	if signer != nil {
		rt = signer.Transport(rt)
	}
	client := &http.Client{
		Transport: rt,
		Timeout:   10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	res, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", r.method, r.path, err)
	}
	out, err := readResponse(res, r.method, r.path)
	if out != nil {
		out.reused = reused
	}
	return out, err
}

func (s *server) doRaw(signer *asymjwt.Signer, method, target string) (*response, error) {
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return nil, err
	}
	token, err := signer.TokenFor(method, u.EscapedPath(), u.RawQuery, nil)
	if err != nil {
		return nil, err
	}
	host := strings.TrimPrefix(s.url, "http://")
	conn, err := net.DialTimeout("tcp", host, 10*time.Second)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return nil, err
	}
	if _, err := fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\nConnection: close\r\n\r\n",
		method, target, host, signer.AuthorizationValue(token)); err != nil {
		return nil, err
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, target, err)
	}
	return readResponse(res, method, target)
}

// readResponse reads and closes res; a 200 must carry App.Handle's reply.
func readResponse(res *http.Response, method, target string) (*response, error) {
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading response: %w", method, target, err)
	}
	out := &response{status: res.StatusCode, header: res.Header, body: string(data)}
	if res.StatusCode == http.StatusOK {
		if err := json.Unmarshal(data, &out.reply); err != nil {
			return nil, fmt.Errorf("%s %s: 200 with a body that is not App.Handle's reply: %q", method, target, data)
		}
	}
	return out, nil
}

type tamperer struct {
	tamper func(*http.Request)
	base   http.RoundTripper
}

func (tt tamperer) RoundTrip(r *http.Request) (*http.Response, error) {
	tt.tamper(r)
	return tt.base.RoundTrip(r)
}

// accepted checks that r was authenticated once and reached the handler
// with the identity, through both the adapter and the context.
func (r *response) accepted(t *testing.T) Reply {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d, want 200 (body %q, verifier reported %v)", r.status, r.body, r.errs())
	}
	if r.handled != 1 {
		t.Errorf("handler ran %d times, want 1", r.handled)
	}
	if len(r.outcomes) != 1 || r.outcomes[0].Err != nil {
		t.Errorf("verifier reported %v, want one success", r.errs())
	}
	if !r.reply.Authenticated || !r.reply.InContext || !r.reply.Same {
		t.Errorf("handler saw %+v: want the identity from both the adapter's accessor and asymjwt.FromContext, the same one", r.reply)
	}
	return r.reply
}

// anonymous checks that r reached the handler with no identity, after
// verifications verifications (0 when the middleware was skipped).
func (r *response) anonymous(t *testing.T, verifications int) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d, want 200 (body %q, verifier reported %v)", r.status, r.body, r.errs())
	}
	if r.handled != 1 {
		t.Errorf("handler ran %d times, want 1", r.handled)
	}
	if len(r.outcomes) != verifications {
		t.Errorf("verifier reported %v, want %d outcome(s)", r.errs(), verifications)
	}
	if r.reply.Authenticated || r.reply.InContext {
		t.Errorf("handler saw %+v, want an anonymous request", r.reply)
	}
}

// refused checks the default refusal: status, the challenge on 401 (none
// on 503), no failure detail in the body, the reason want reported by the
// verifier, and the handler never run.
func (r *response) refused(t *testing.T, v *asymjwt.Verifier, status int, want error) {
	t.Helper()
	r.refusedWith(t, status, want)
	challenge := r.header.Values("WWW-Authenticate")
	switch {
	case status == http.StatusUnauthorized && (len(challenge) != 1 || challenge[0] != v.Challenge()):
		t.Errorf("WWW-Authenticate %q, want %q", challenge, v.Challenge())
	case status != http.StatusUnauthorized && len(challenge) != 0:
		t.Errorf("WWW-Authenticate %q on a %d", challenge, status)
	}
	if strings.Contains(strings.ToLower(r.body), "asymjwt") {
		t.Errorf("refusal body %q carries failure detail", r.body)
	}
	for _, o := range r.outcomes {
		if o.Err != nil && strings.Contains(r.body, o.Err.Error()) {
			t.Errorf("refusal body %q carries the reason %q", r.body, o.Err)
		}
	}
}

// refusedWith checks status, the one reason reported, and that the
// handler never ran.
func (r *response) refusedWith(t *testing.T, status int, want error) {
	t.Helper()
	if r.status != status {
		t.Errorf("status %d, want %d (body %q, verifier reported %v)", r.status, status, r.body, r.errs())
	}
	if r.handled != 0 {
		t.Errorf("handler ran %d times after a refusal", r.handled)
	}
	if len(r.outcomes) != 1 || !errors.Is(r.outcomes[0].Err, want) {
		t.Errorf("verifier reported %v, want one %v", r.errs(), want)
	}
}

func (r *response) errs() []error {
	out := make([]error, len(r.outcomes))
	for i, o := range r.outcomes {
		out[i] = o.Err
	}
	return out
}

// authorization returns a request that sends value as its one
// Authorization header.
func authorization(value string) http.Header {
	return http.Header{"Authorization": {value}}
}

// rewriteAuthorization changes the signed Authorization value.
func rewriteAuthorization(fn func(string) string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", fn(r.Header.Get("Authorization"))) }
}

// replaceBody swaps the body the token was signed for.
func replaceBody(body string) func(*http.Request) {
	return func(r *http.Request) {
		r.Body = io.NopCloser(strings.NewReader(body))
		r.GetBody = nil
		r.ContentLength = int64(len(body))
	}
}

// chunked sends the body without Content-Length.
func chunked(r *http.Request) { r.ContentLength = -1 }

// flipSignature changes one character in the middle of the signature, so
// it still decodes but no longer verifies.
func flipSignature(value string) string {
	start := strings.LastIndexByte(value, '.') + 1
	i := start + (len(value)-start)/2
	c := byte('A')
	if value[i] == 'A' {
		c = 'B'
	}
	return value[:i] + string(c) + value[i+1:]
}

var errStoreDown = errors.New("connection refused")

type downReplayStore struct{}

func (downReplayStore) Claim(context.Context, string, time.Time) (bool, error) {
	return false, errStoreDown
}

type downKeyStore struct{}

func (downKeyStore) Keys(context.Context, string, string) ([]crypto.PublicKey, error) {
	return nil, errStoreDown
}
