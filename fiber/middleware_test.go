package asymjwtfiber_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
	asymjwtfiber "github.com/asymjwt/asymjwt/fiber"
	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// env is a verifier trusting alice, with what it reported.
type env struct {
	v     *asymjwt.Verifier
	alice signers
	mu    sync.Mutex
	errs  []error
}

type signers struct {
	plain, bound *asymjwt.Signer
}

func setup(t *testing.T, opts ...asymjwt.VerifierOption) *env {
	t.Helper()
	key, err := asymjwt.GenerateKey(asymjwt.KindEd25519)
	if err != nil {
		t.Fatal(err)
	}
	keys := asymjwt.NewMemoryKeyStore()
	if _, err := keys.Add("alice", key.Public()); err != nil {
		t.Fatal(err)
	}
	e := &env{}
	opts = append(opts,
		asymjwt.WithLogger(slog.New(slog.DiscardHandler)),
		asymjwt.WithObserver(func(_ context.Context, o asymjwt.Outcome) {
			e.mu.Lock()
			e.errs = append(e.errs, o.Err)
			e.mu.Unlock()
		}))
	if e.v, err = asymjwt.NewVerifier(keys, opts...); err != nil {
		t.Fatal(err)
	}
	if e.alice.plain, err = asymjwt.NewSigner("alice", key); err != nil {
		t.Fatal(err)
	}
	if e.alice.bound, err = asymjwt.NewSigner("alice", key, asymjwt.WithRequestBinding(), asymjwt.WithBodyHash()); err != nil {
		t.Fatal(err)
	}
	return e
}

// lastErr returns what the verifier reported last.
func (e *env) lastErr(t *testing.T) error {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.errs) == 0 {
		t.Fatal("the verifier reported nothing")
	}
	return e.errs[len(e.errs)-1]
}

// send sends req to base, signed by s when s is not nil, and returns the
// status and body.
func send(t *testing.T, s *asymjwt.Signer, req *http.Request) (int, string) {
	t.Helper()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	var rt http.RoundTripper = tr
	if s != nil {
		rt = s.Transport(tr)
	}
	res, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(body)
}

func newRequest(t *testing.T, method, url string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// whoami answers with the caller's name, "anonymous" without one.
func whoami(c *fiber.Ctx) error {
	if id, ok := asymjwtfiber.Identity(c); ok {
		return c.SendString(id.Username)
	}
	return c.SendString("anonymous")
}

func quiet(cfg fiber.Config) *fiber.App {
	cfg.DisableStartupMessage = true
	return fiber.New(cfg)
}

func TestPlacement(t *testing.T) {
	e := setup(t)
	app := quiet(fiber.Config{})
	app.Get("/open", whoami)
	app.Post("/hooks", asymjwtfiber.New(e.v), whoami)
	admin := app.Group("/admin", asymjwtfiber.New(e.v))
	admin.Get("/users/:id", whoami)
	app.Get("/users/:id", asymjwtfiber.New(e.v, asymjwtfiber.Config{
		Next: func(c *fiber.Ctx) bool { return c.Params("id") == "me" },
	}), whoami)
	base := listen(t, app)
	for _, tc := range []struct {
		method, path string
		signed       bool
		status       int
		body         string
	}{
		{http.MethodGet, "/open", false, http.StatusOK, "anonymous"},
		{http.MethodGet, "/open", true, http.StatusOK, "anonymous"},
		{http.MethodPost, "/hooks", false, http.StatusUnauthorized, "Unauthorized"},
		{http.MethodPost, "/hooks", true, http.StatusOK, "alice"},
		{http.MethodGet, "/admin/users/7", false, http.StatusUnauthorized, "Unauthorized"},
		{http.MethodGet, "/admin/users/7", true, http.StatusOK, "alice"},
		{http.MethodGet, "/users/me", false, http.StatusOK, "anonymous"},
		{http.MethodGet, "/users/7", false, http.StatusUnauthorized, "Unauthorized"},
	} {
		signer := map[bool]*asymjwt.Signer{true: e.alice.plain}[tc.signed]
		status, body := send(t, signer, newRequest(t, tc.method, base+tc.path, nil))
		if status != tc.status || body != tc.body {
			t.Errorf("%s %s signed=%v: %d %q, want %d %q", tc.method, tc.path, tc.signed, status, body, tc.status, tc.body)
		}
	}
}

// TestHeaderCase checks every Authorization value is found whatever its
// case, also when fiber keeps header names as sent.
func TestHeaderCase(t *testing.T) {
	for _, normalize := range []bool{true, false} {
		e := setup(t)
		app := quiet(fiber.Config{DisableHeaderNormalizing: !normalize})
		app.Use(asymjwtfiber.New(e.v))
		app.Get("/x", whoami)
		base := listen(t, app)
		for _, tc := range []struct {
			names  []string
			status int
			want   error
		}{
			{[]string{"authorization"}, http.StatusOK, nil},
			{[]string{"AUTHORIZATION"}, http.StatusOK, nil},
			{[]string{"Authorization", "authorization"}, http.StatusUnauthorized, asymjwt.ErrMultipleCredentials},
		} {
			req := newRequest(t, http.MethodGet, base+"/x", nil)
			for _, name := range tc.names {
				tok, err := e.alice.plain.Token()
				if err != nil {
					t.Fatal(err)
				}
				req.Header[name] = []string{e.alice.plain.AuthorizationValue(tok)} // sent as spelled
			}
			status, _ := send(t, nil, req)
			if err := e.lastErr(t); status != tc.status || !errors.Is(err, tc.want) {
				t.Errorf("normalize=%v %q: %d (%v), want %d (%v)", normalize, tc.names, status, err, tc.status, tc.want)
			}
		}
	}
}

// TestRawBody checks bh covers the body as sent: compressed bytes, not
// what c.Body() decompresses them to.
func TestRawBody(t *testing.T) {
	e := setup(t, asymjwt.RequireBodyHash())
	app := quiet(fiber.Config{})
	app.Use(asymjwtfiber.New(e.v))
	app.Post("/x", func(c *fiber.Ctx) error { return c.Send(c.Body()) })
	base := listen(t, app)
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	io.WriteString(w, "the payload")
	w.Close()
	req := newRequest(t, http.MethodPost, base+"/x", bytes.NewReader(gz.Bytes()))
	req.Header.Set("Content-Encoding", "gzip")
	if status, body := send(t, e.alice.bound, req); status != http.StatusOK || body != "the payload" {
		t.Errorf("%d %q (%v), want 200 and the decompressed payload", status, body, e.lastErr(t))
	}
}

func TestMultipart(t *testing.T) {
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	mw.WriteField("invoice", "42")
	mw.Close()
	for _, tc := range []struct {
		name    string
		disable bool
		status  int
		body    string
	}{
		{"pre-parsed", false, http.StatusUnauthorized, "Unauthorized"},
		{"kept raw", true, http.StatusOK, "42"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t, asymjwt.RequireBodyHash())
			app := quiet(fiber.Config{DisablePreParseMultipartForm: tc.disable})
			app.Use(asymjwtfiber.New(e.v))
			app.Post("/x", func(c *fiber.Ctx) error { return c.SendString(c.FormValue("invoice")) })
			req := newRequest(t, http.MethodPost, listen(t, app)+"/x", bytes.NewReader(form.Bytes()))
			req.Header.Set("Content-Type", mw.FormDataContentType())
			status, body := send(t, e.alice.bound, req)
			if status != tc.status || body != tc.body {
				t.Errorf("%d %q, want %d %q", status, body, tc.status, tc.body)
			}
			if err := e.lastErr(t); tc.status != http.StatusOK && !strings.Contains(err.Error(), "DisablePreParseMultipartForm") {
				t.Errorf("reason %v does not say what to do", err)
			}
		})
	}
}

func TestSuccessHandlerStopsChain(t *testing.T) {
	e := setup(t)
	var ran atomic.Bool
	app := quiet(fiber.Config{})
	app.Use(asymjwtfiber.New(e.v, asymjwtfiber.Config{
		SuccessHandler: func(c *fiber.Ctx, id *asymjwt.Identity) error {
			if got, ok := asymjwtfiber.Identity(c); !ok || got != id {
				t.Errorf("identity not on the context in the success handler")
			}
			return fiber.ErrForbidden
		},
	}))
	app.Get("/x", func(c *fiber.Ctx) error { ran.Store(true); return nil })
	if status, _ := send(t, e.alice.plain, newRequest(t, http.MethodGet, listen(t, app)+"/x", nil)); status != http.StatusForbidden || ran.Load() {
		t.Errorf("%d, handler ran %v: want 403 and the chain stopped", status, ran.Load())
	}
}

func TestIdentityWithoutMiddleware(t *testing.T) {
	app := quiet(fiber.Config{})
	app.Get("/x", whoami)
	if status, body := send(t, nil, newRequest(t, http.MethodGet, listen(t, app)+"/x", nil)); status != http.StatusOK || body != "anonymous" {
		t.Errorf("%d %q", status, body)
	}
}

func TestNilVerifierPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New(nil) did not panic")
		}
	}()
	asymjwtfiber.New(nil)
}

// TestStacked checks that the middleware on a group under the same
// verifier's global one verifies once: twice would refuse the token as
// replayed.
func TestStacked(t *testing.T) {
	e := setup(t)
	app := quiet(fiber.Config{})
	app.Use(asymjwtfiber.New(e.v, asymjwtfiber.Config{Optional: true}))
	admin := app.Group("/admin", asymjwtfiber.New(e.v, asymjwtfiber.Config{
		SuccessHandler: func(*fiber.Ctx, *asymjwt.Identity) error { return fiber.ErrTeapot }, // must not run again
	}))
	admin.Get("/x", whoami)
	app.Get("/open", whoami)
	base := listen(t, app)
	for _, tc := range []struct {
		path     string
		signed   bool
		status   int
		body     string
		verified int // an anonymous request is checked again: no nonce to spend
	}{
		{"/admin/x", true, http.StatusOK, "alice", 1},
		{"/admin/x", false, http.StatusUnauthorized, "Unauthorized", 2},
		{"/open", true, http.StatusOK, "alice", 1},
		{"/open", false, http.StatusOK, "anonymous", 1},
	} {
		e.mu.Lock()
		e.errs = nil
		e.mu.Unlock()
		signer := map[bool]*asymjwt.Signer{true: e.alice.plain}[tc.signed]
		status, body := send(t, signer, newRequest(t, http.MethodGet, base+tc.path, nil))
		if status != tc.status || body != tc.body {
			t.Errorf("GET %s signed=%v: %d %q (%v), want %d %q", tc.path, tc.signed, status, body, e.errs, tc.status, tc.body)
		}
		if len(e.errs) != tc.verified {
			t.Errorf("GET %s signed=%v: verified %d times (%v), want %d", tc.path, tc.signed, len(e.errs), e.errs, tc.verified)
		}
	}
}

// TestErrorHandlerWritesNothing checks that an error handler that leaves
// the response untouched still gets the refusal sent, not an empty 200.
func TestErrorHandlerWritesNothing(t *testing.T) {
	e := setup(t)
	for _, tc := range []struct {
		name    string
		handler fiber.ErrorHandler
		status  int
		body    string
	}{
		{"nothing", func(*fiber.Ctx, error) error { return nil }, http.StatusUnauthorized, "Unauthorized"},
		{"a header", func(c *fiber.Ctx, _ error) error { c.Set("X-Refused", "1"); return nil }, http.StatusUnauthorized, "Unauthorized"},
		{"a status", func(c *fiber.Ctx, _ error) error { c.Status(http.StatusForbidden); return nil }, http.StatusForbidden, ""},
		{"a body", func(c *fiber.Ctx, _ error) error { return c.SendString("go away") }, http.StatusOK, "go away"},
		{"an error", func(*fiber.Ctx, error) error { return fiber.ErrForbidden }, http.StatusForbidden, "Forbidden"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ran atomic.Bool
			app := quiet(fiber.Config{})
			app.Use(asymjwtfiber.New(e.v, asymjwtfiber.Config{ErrorHandler: tc.handler}))
			app.Get("/x", func(c *fiber.Ctx) error { ran.Store(true); return nil })
			req := newRequest(t, http.MethodGet, listen(t, app)+"/x", nil)
			res, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tc.status || string(body) != tc.body || ran.Load() {
				t.Errorf("%d %q, handler ran %v: want %d %q and the chain stopped", res.StatusCode, body, ran.Load(), tc.status, tc.body)
			}
			challenge := res.Header.Get(fiber.HeaderWWWAuthenticate)
			if want := tc.status == http.StatusUnauthorized; want != (challenge == e.v.Challenge()) {
				t.Errorf("WWW-Authenticate %q on a %d", challenge, res.StatusCode)
			}
		})
	}
}

// FuzzEscapedPath checks the path hashed for qsh is the one net/http
// computes (URL.EscapedPath) from the same request line, as gin and echo
// hash, whichever bytes a client sends raw.
func FuzzEscapedPath(f *testing.F) {
	for c := 0x21; c < 0x100; c++ {
		f.Add("/items/a" + string(rune(c)) + "b")
		f.Add("/items/a" + string([]byte{byte(c)}) + "b")
	}
	for _, p := range []string{"/", "*", "/a%7bb", "/a%7Bb", "/a%2Fb", "/a%", "/a%4", "/a%zz", "/a%20b{c}", "//x/../y", "/ö"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if !strings.HasPrefix(raw, "/") && raw != "*" {
			return // a request line's path (fasthttp's PathOriginal)
		}
		u, err := url.ParseRequestURI(raw)
		if err != nil || u.RawQuery != "" || u.ForceQuery {
			return // net/http refuses it, or reads part of it as a query
		}
		if got, want := asymjwtfiber.EscapedPath([]byte(raw)), u.EscapedPath(); got != want {
			t.Errorf("EscapedPath(%q) = %q, net/http %q", raw, got, want)
		}
	})
}

// TestStreamedRefusalClosesConnection checks that with StreamRequestBody
// the body of a refused request, which nobody read, is not parsed as the
// next request on the connection: a request smuggled in it must not run.
func TestStreamedRefusalClosesConnection(t *testing.T) {
	e := setup(t)
	var smuggled atomic.Bool
	app := quiet(fiber.Config{StreamRequestBody: true})
	app.Get("/open", func(c *fiber.Ctx) error { smuggled.Store(true); return c.SendString("smuggled") })
	app.Use(asymjwtfiber.New(e.v))
	app.Post("/x", whoami)
	base := listen(t, app)

	inner := "GET /open HTTP/1.1\r\nHost: x\r\n\r\n"
	body := strings.Repeat("a", 8<<10) + inner // fasthttp reads the first 8 KiB ahead, no more
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(conn, "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	br := bufio.NewReader(conn)
	var statuses []int
	for {
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			break // the connection was closed
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		statuses = append(statuses, res.StatusCode)
	}
	if len(statuses) != 1 || statuses[0] != http.StatusUnauthorized || smuggled.Load() {
		t.Errorf("answers %v, smuggled request ran %v: want one 401 and the connection closed", statuses, smuggled.Load())
	}
}

// TestReusedRequestCtx: fasthttp reuses RequestCtx objects; one that is
// reused without a reset still carries the last identity, which must
// vouch for nothing: not for another credential, not for the same token
// sent again (a replay), not for an anonymous request in optional mode.
func TestReusedRequestCtx(t *testing.T) {
	key, err := asymjwt.GenerateKey(asymjwt.KindEd25519)
	if err != nil {
		t.Fatal(err)
	}
	keys := asymjwt.NewMemoryKeyStore()
	keys.Add("alice", key.Public())
	v, err := asymjwt.NewVerifier(keys, asymjwt.WithReplayStore(asymjwt.NewMemoryReplayStore()),
		asymjwt.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := asymjwt.NewSigner("alice", key)
	token, _ := signer.Token()
	other, _ := signer.Token()
	for _, tc := range []struct {
		name   string
		config asymjwtfiber.Config
		steps  []struct {
			auth string
			want int
		}
	}{
		{"required", asymjwtfiber.Config{}, []struct {
			auth string
			want int
		}{
			{signer.AuthorizationValue(token), fiber.StatusOK},
			{signer.AuthorizationValue(token), fiber.StatusUnauthorized}, // replayed
			{"JWT not.a.token", fiber.StatusUnauthorized},
			{"", fiber.StatusUnauthorized},
		}},
		{"optional", asymjwtfiber.Config{Optional: true}, []struct {
			auth string
			want int
		}{
			{signer.AuthorizationValue(other), fiber.StatusOK},
			{"", fiber.StatusNoContent}, // anonymous, whatever the context still carries
			{signer.AuthorizationValue(other), fiber.StatusUnauthorized},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := fiber.New()
			app.Use(asymjwtfiber.New(v, tc.config))
			app.Get("/", func(c *fiber.Ctx) error {
				if _, ok := asymjwtfiber.Identity(c); ok {
					return c.SendStatus(fiber.StatusOK)
				}
				return c.SendStatus(fiber.StatusNoContent)
			})
			h := app.Handler()
			fctx := &fasthttp.RequestCtx{}
			fctx.Request.SetRequestURI("/")
			for i, st := range tc.steps {
				fctx.Request.Header.Del("Authorization")
				if st.auth != "" {
					fctx.Request.Header.Set("Authorization", st.auth)
				}
				fctx.Response.Reset() // the user values are deliberately left as they were
				h(fctx)
				if got := fctx.Response.StatusCode(); got != st.want {
					t.Fatalf("request %d, Authorization %.20q: status %d, want %d", i, st.auth, got, st.want)
				}
			}
		})
	}
}
