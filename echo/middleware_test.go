package asymjwtecho_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	asymjwt "github.com/asymjwt/asymjwt/core"
	"github.com/asymjwt/asymjwt/core/asymjwttest"
	asymjwtecho "github.com/asymjwt/asymjwt/echo"
	"github.com/labstack/echo/v4"
)

// setup returns a verifier trusting alice and a signer for her.
func setup(t *testing.T) (*asymjwt.Verifier, *asymjwt.Signer) {
	t.Helper()
	v, s, _ := asymjwttest.Alice(t)
	return v, s
}

// serve sends one request to e, signed by s when s is not nil.
func serve(t *testing.T, e *echo.Echo, s *asymjwt.Signer, method, target string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	if s != nil {
		if err := s.SignRequest(req); err != nil {
			t.Fatal(err)
		}
	}
	w := httptest.NewRecorder()
	e.ServeHTTP(w, req)
	return w
}

// whoami answers 200 with the caller's name, "anonymous" without one.
func whoami(c echo.Context) error {
	name := "anonymous"
	if id, ok := asymjwtecho.Identity(c); ok {
		name = id.Username
	}
	return c.String(http.StatusOK, name)
}

func TestPlacement(t *testing.T) {
	v, alice := setup(t)
	e := echo.New()
	e.GET("/open", whoami)
	e.POST("/hooks", whoami, asymjwtecho.Middleware(v))
	admin := e.Group("/admin", asymjwtecho.Middleware(v))
	admin.GET("/users/:id", whoami)
	for _, tc := range []struct {
		method, target string
		signed         bool
		status         int
		body           string
	}{
		{http.MethodGet, "/open", false, http.StatusOK, "anonymous"},
		{http.MethodGet, "/open", true, http.StatusOK, "anonymous"},
		{http.MethodPost, "/hooks", false, http.StatusUnauthorized, ""},
		{http.MethodPost, "/hooks", true, http.StatusOK, "alice"},
		{http.MethodGet, "/admin/users/7", false, http.StatusUnauthorized, ""},
		{http.MethodGet, "/admin/users/7", true, http.StatusOK, "alice"},
	} {
		signer := map[bool]*asymjwt.Signer{true: alice}[tc.signed]
		w := serve(t, e, signer, tc.method, tc.target)
		if w.Code != tc.status || tc.body != "" && w.Body.String() != tc.body {
			t.Errorf("%s %s signed=%v: %d %q, want %d %q", tc.method, tc.target, tc.signed, w.Code, w.Body, tc.status, tc.body)
		}
	}
}

func TestSkipper(t *testing.T) {
	v, _ := setup(t)
	e := echo.New()
	e.Use(asymjwtecho.MiddlewareWithConfig(v, asymjwtecho.Config{
		Skipper: func(c echo.Context) bool { return c.Path() == "/users/:id" },
	}))
	e.GET("/users/:id", whoami)
	e.GET("/users/:id/keys", whoami)
	for _, tc := range []struct {
		target string
		status int
	}{
		{"/users/42", http.StatusOK},
		{"/users/42/keys", http.StatusUnauthorized},
	} {
		if w := serve(t, e, nil, http.MethodGet, tc.target); w.Code != tc.status {
			t.Errorf("GET %s: %d, want %d", tc.target, w.Code, tc.status)
		}
	}
}

// TestHTTPErrorHandler checks the default refusal reaches the app's
// HTTPErrorHandler as an *echo.HTTPError that still matches the sentinel.
func TestHTTPErrorHandler(t *testing.T) {
	v, _ := setup(t)
	for _, tc := range []struct {
		name   string
		custom bool
		body   string
	}{
		{"default handler", false, `{"message":"Unauthorized"}` + "\n"},
		{"app handler", true, "refused: 401 true"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := echo.New()
			if tc.custom {
				e.HTTPErrorHandler = func(err error, c echo.Context) {
					var he *echo.HTTPError
					if !errors.As(err, &he) {
						t.Errorf("error %T, want *echo.HTTPError", err)
						return
					}
					c.String(he.Code, fmt.Sprintf("refused: %d %v", he.Code, errors.Is(err, asymjwt.ErrNoCredentials)))
				}
			}
			e.Use(asymjwtecho.Middleware(v))
			e.GET("/x", whoami)
			w := serve(t, e, nil, http.MethodGet, "/x")
			if w.Code != http.StatusUnauthorized || w.Body.String() != tc.body {
				t.Errorf("%d %q, want 401 %q", w.Code, w.Body, tc.body)
			}
			if got := w.Header().Get(echo.HeaderWWWAuthenticate); got != v.Challenge() {
				t.Errorf("WWW-Authenticate %q, want %q", got, v.Challenge())
			}
		})
	}
}

func TestSuccessHandlerStopsChain(t *testing.T) {
	v, alice := setup(t)
	ran := false
	e := echo.New()
	e.Use(asymjwtecho.MiddlewareWithConfig(v, asymjwtecho.Config{
		SuccessHandler: func(c echo.Context, id *asymjwt.Identity) error {
			if got, ok := asymjwtecho.Identity(c); !ok || got != id {
				t.Errorf("identity not on the context in the success handler")
			}
			return echo.ErrForbidden
		},
	}))
	e.GET("/x", func(c echo.Context) error { ran = true; return nil })
	if w := serve(t, e, alice, http.MethodGet, "/x"); w.Code != http.StatusForbidden || ran {
		t.Errorf("%d, handler ran %v: want 403 and the chain stopped", w.Code, ran)
	}
}

func TestIdentityWithoutMiddleware(t *testing.T) {
	e := echo.New()
	c := e.NewContext(httptest.NewRequest(http.MethodGet, "/", nil), httptest.NewRecorder())
	if id, ok := asymjwtecho.Identity(c); ok || id != nil {
		t.Errorf("Identity of an unauthenticated request = %v, %v", id, ok)
	}
	c.SetRequest(nil)
	if id, ok := asymjwtecho.Identity(c); ok || id != nil {
		t.Errorf("Identity without a request = %v, %v", id, ok)
	}
}

func TestNilVerifierPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Middleware(nil) did not panic")
		}
	}()
	asymjwtecho.Middleware(nil)
}

// TestStacked checks that the middleware on a group under the same
// verifier's global one verifies once: twice would refuse the token as
// replayed.
func TestStacked(t *testing.T) {
	v, alice, verified := asymjwttest.Alice(t)
	e := echo.New()
	e.Use(asymjwtecho.MiddlewareWithConfig(v, asymjwtecho.Config{Optional: true}))
	admin := e.Group("/admin", asymjwtecho.MiddlewareWithConfig(v, asymjwtecho.Config{
		SuccessHandler: func(echo.Context, *asymjwt.Identity) error { return echo.NewHTTPError(http.StatusTeapot) }, // must not run again
	}))
	admin.GET("/x", whoami)
	e.GET("/open", whoami)
	for _, tc := range []struct {
		target   string
		signed   bool
		status   int
		body     string
		verified int // an anonymous request is checked again: no nonce to spend
	}{
		{"/admin/x", true, http.StatusOK, "alice", 1},
		{"/admin/x", false, http.StatusUnauthorized, "", 2},
		{"/open", true, http.StatusOK, "alice", 1},
		{"/open", false, http.StatusOK, "anonymous", 1},
	} {
		verified.Store(0)
		signer := map[bool]*asymjwt.Signer{true: alice}[tc.signed]
		w := serve(t, e, signer, http.MethodGet, tc.target)
		if w.Code != tc.status || tc.body != "" && w.Body.String() != tc.body || verified.Load() != int64(tc.verified) {
			t.Errorf("GET %s signed=%v: %d %q, verified %d times; want %d %q, %d", tc.target, tc.signed, w.Code, w.Body, verified.Load(), tc.status, tc.body, tc.verified)
		}
	}
}

// TestErrorHandlerWritesNothing checks that an error handler that returns
// nil without writing still gets the refusal sent, not an empty 200.
func TestErrorHandlerWritesNothing(t *testing.T) {
	v, _ := setup(t)
	for _, tc := range []struct {
		name    string
		handler func(echo.Context, error) error
		status  int
		body    string
	}{
		{"nothing", func(echo.Context, error) error { return nil }, http.StatusUnauthorized, `{"message":"Unauthorized"}` + "\n"},
		{"a header", func(c echo.Context, _ error) error { c.Response().Header().Set("X-Refused", "1"); return nil }, http.StatusUnauthorized, `{"message":"Unauthorized"}` + "\n"},
		{"a status", func(c echo.Context, _ error) error { return c.NoContent(http.StatusForbidden) }, http.StatusForbidden, ""},
		{"a body", func(c echo.Context, _ error) error { return c.String(http.StatusOK, "go away") }, http.StatusOK, "go away"},
		{"an error", func(echo.Context, error) error { return echo.ErrForbidden }, http.StatusForbidden, `{"message":"Forbidden"}` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ran := false
			e := echo.New()
			e.Use(asymjwtecho.MiddlewareWithConfig(v, asymjwtecho.Config{ErrorHandler: tc.handler}))
			e.GET("/x", func(c echo.Context) error { ran = true; return nil })
			w := serve(t, e, nil, http.MethodGet, "/x")
			if w.Code != tc.status || w.Body.String() != tc.body || ran {
				t.Errorf("%d %q, handler ran %v: want %d %q and the chain stopped", w.Code, w.Body, ran, tc.status, tc.body)
			}
			challenge := w.Header().Get(echo.HeaderWWWAuthenticate)
			if want := tc.status == http.StatusUnauthorized; want != (challenge == v.Challenge()) {
				t.Errorf("WWW-Authenticate %q on a %d", challenge, w.Code)
			}
		})
	}
}
