package asymjwtgin_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	asymjwt "github.com/asymjwt/asymjwt/core"
	"github.com/asymjwt/asymjwt/core/asymjwttest"
	asymjwtgin "github.com/asymjwt/asymjwt/gin"
	"github.com/gin-gonic/gin"
)

// setup returns a verifier trusting alice and a signer for her.
func setup(t *testing.T) (*asymjwt.Verifier, *asymjwt.Signer) {
	t.Helper()
	v, s, _ := asymjwttest.Alice(t)
	return v, s
}

// serve sends one request to r, signed by s when s is not nil.
func serve(t *testing.T, r http.Handler, s *asymjwt.Signer, method, target string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	if s != nil {
		if err := s.SignRequest(req); err != nil {
			t.Fatal(err)
		}
	}
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	return w
}

// whoami answers 200 with the caller's name, "anonymous" without one.
func whoami(c *gin.Context) {
	name := "anonymous"
	if id, ok := asymjwtgin.Identity(c); ok {
		name = id.Username
	}
	c.String(http.StatusOK, name)
}

func TestPlacement(t *testing.T) {
	v, alice := setup(t)
	r := gin.New()
	r.GET("/open", whoami)
	r.POST("/hooks", asymjwtgin.Middleware(v), whoami)
	admin := r.Group("/admin", asymjwtgin.Middleware(v))
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
		w := serve(t, r, signer, tc.method, tc.target)
		if w.Code != tc.status || tc.body != "" && w.Body.String() != tc.body {
			t.Errorf("%s %s signed=%v: %d %q, want %d %q", tc.method, tc.target, tc.signed, w.Code, w.Body, tc.status, tc.body)
		}
	}
}

func TestSkip(t *testing.T) {
	v, _ := setup(t)
	r := gin.New()
	r.Use(asymjwtgin.Middleware(v,
		asymjwtgin.WithSkipPaths("/users/:id", "/healthz"),
		asymjwtgin.WithSkipper(func(c *gin.Context) bool { return c.Request.Method == http.MethodOptions }),
	))
	r.Any("/users/:id", whoami)
	r.GET("/users/:id/keys", whoami)
	r.GET("/healthz", whoami)
	r.GET("/admin", whoami)
	for _, tc := range []struct {
		method, target string
		status         int
	}{
		{http.MethodGet, "/healthz", http.StatusOK},
		{http.MethodGet, "/users/42", http.StatusOK},
		{http.MethodGet, "/users/%34%32", http.StatusOK}, // the route, however spelled
		{http.MethodDelete, "/users/42", http.StatusOK},
		{http.MethodGet, "/users/42/keys", http.StatusUnauthorized},
		{http.MethodGet, "/admin", http.StatusUnauthorized},
		{http.MethodOptions, "/admin", http.StatusNotFound}, // skipped, then no OPTIONS route
		{http.MethodGet, "/users/:id", http.StatusOK},       // a request path is not a pattern: it matches the route
		{http.MethodGet, "/nowhere", http.StatusUnauthorized},
	} {
		if w := serve(t, r, nil, tc.method, tc.target); w.Code != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.target, w.Code, tc.status)
		}
	}
}

func TestDefaultRefusal(t *testing.T) {
	v, alice := setup(t)
	var logged []error
	r := gin.New()
	r.Use(func(c *gin.Context) {
		c.Next()
		for _, e := range c.Errors {
			logged = append(logged, e.Err)
		}
	})
	r.Use(asymjwtgin.Middleware(v))
	r.GET("/x", whoami)

	w := serve(t, r, nil, http.MethodGet, "/x")
	if w.Code != http.StatusUnauthorized || w.Header().Get("WWW-Authenticate") != v.Challenge() {
		t.Errorf("%d, WWW-Authenticate %q", w.Code, w.Header().Get("WWW-Authenticate"))
	}
	if len(logged) != 1 || !errors.Is(logged[0], asymjwt.ErrNoCredentials) {
		t.Errorf("c.Errors %v, want the reason for gin's logger", logged)
	}
	logged = nil
	if w := serve(t, r, alice, http.MethodGet, "/x"); w.Code != http.StatusOK || len(logged) != 0 {
		t.Errorf("accepted request: %d, c.Errors %v", w.Code, logged)
	}
}

func TestSuccessHandlerAborts(t *testing.T) {
	v, alice := setup(t)
	ran := false
	r := gin.New()
	r.Use(asymjwtgin.Middleware(v, asymjwtgin.WithSuccessHandler(func(c *gin.Context, id *asymjwt.Identity) {
		if got, ok := asymjwtgin.Identity(c); !ok || got != id {
			t.Errorf("identity not on the context in the success handler")
		}
		c.AbortWithStatus(http.StatusForbidden)
	})))
	r.GET("/x", func(c *gin.Context) { ran = true })
	if w := serve(t, r, alice, http.MethodGet, "/x"); w.Code != http.StatusForbidden || ran {
		t.Errorf("%d, handler ran %v: want 403 and the chain stopped", w.Code, ran)
	}
}

func TestContextWithFallback(t *testing.T) {
	v, alice := setup(t)
	r := gin.New()
	r.ContextWithFallback = true
	r.Use(asymjwtgin.Middleware(v))
	r.GET("/x", func(c *gin.Context) {
		// With fallback, the gin.Context is a context.Context that
		// reaches the request's: core's accessor works on c directly.
		id, ok := asymjwt.FromContext(c)
		if !ok {
			c.Status(http.StatusInternalServerError)
			return
		}
		c.String(http.StatusOK, id.Username)
	})
	if w := serve(t, r, alice, http.MethodGet, "/x"); w.Code != http.StatusOK || w.Body.String() != "alice" {
		t.Errorf("%d %q", w.Code, w.Body)
	}
}

func TestIdentityWithoutMiddleware(t *testing.T) {
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	if id, ok := asymjwtgin.Identity(c); ok || id != nil {
		t.Errorf("Identity without a request = %v, %v", id, ok)
	}
	c.Request = httptest.NewRequest(http.MethodGet, "/", nil)
	if id, ok := asymjwtgin.Identity(c); ok || id != nil {
		t.Errorf("Identity of an unauthenticated request = %v, %v", id, ok)
	}
}

func TestNilVerifierPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Middleware(nil) did not panic")
		}
	}()
	asymjwtgin.Middleware(nil)
}

// TestStacked checks that the middleware on a group under the same
// verifier's global one verifies once: twice would refuse the token as
// replayed.
func TestStacked(t *testing.T) {
	v, alice, verified := asymjwttest.Alice(t)
	r := gin.New()
	r.Use(asymjwtgin.Middleware(v, asymjwtgin.Optional()))
	admin := r.Group("/admin", asymjwtgin.Middleware(v, asymjwtgin.WithSuccessHandler(func(c *gin.Context, _ *asymjwt.Identity) {
		c.AbortWithStatus(http.StatusTeapot) // must not run again
	})))
	admin.GET("/x", whoami)
	r.GET("/open", whoami)
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
		w := serve(t, r, signer, http.MethodGet, tc.target)
		if w.Code != tc.status || tc.body != "" && w.Body.String() != tc.body || verified.Load() != int64(tc.verified) {
			t.Errorf("GET %s signed=%v: %d %q, verified %d times; want %d %q, %d", tc.target, tc.signed, w.Code, w.Body, verified.Load(), tc.status, tc.body, tc.verified)
		}
	}
}

// TestErrorHandlerWritesNothing checks that an error handler that writes
// nothing still gets the refusal sent, not an empty 200.
func TestErrorHandlerWritesNothing(t *testing.T) {
	v, _ := setup(t)
	for _, tc := range []struct {
		name    string
		handler func(*gin.Context, error)
		status  int
		body    string
	}{
		{"nothing", func(*gin.Context, error) {}, http.StatusUnauthorized, "Unauthorized\n"},
		{"a header", func(c *gin.Context, _ error) { c.Header("X-Refused", "1") }, http.StatusUnauthorized, "Unauthorized\n"},
		{"a status", func(c *gin.Context, _ error) { c.Status(http.StatusForbidden) }, http.StatusForbidden, ""},
		{"a body", func(c *gin.Context, _ error) { c.String(http.StatusOK, "go away") }, http.StatusOK, "go away"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ran := false
			r := gin.New()
			r.Use(asymjwtgin.Middleware(v, asymjwtgin.WithErrorHandler(tc.handler)))
			r.GET("/x", func(c *gin.Context) { ran = true })
			w := serve(t, r, nil, http.MethodGet, "/x")
			if w.Code != tc.status || w.Body.String() != tc.body || ran {
				t.Errorf("%d %q, handler ran %v: want %d %q and the chain stopped", w.Code, w.Body, ran, tc.status, tc.body)
			}
			challenge := w.Header().Get("WWW-Authenticate")
			if want := tc.status == http.StatusUnauthorized; want != (challenge == v.Challenge()) {
				t.Errorf("WWW-Authenticate %q on a %d", challenge, w.Code)
			}
		})
	}
}
