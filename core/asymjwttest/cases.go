package asymjwttest

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

func (f *fixture) testAccepted(t *testing.T) {
	s := f.serve(t, nil, nil)
	alice := f.alice(t)
	for _, r := range []request{
		{},
		{method: http.MethodPost, body: `{"amount":42}`},
		{method: http.MethodDelete, path: "/items/7?force=1"},
	} {
		t.Run(r.method, func(t *testing.T) {
			reply := s.send(t, alice, r).accepted(t)
			if reply.Username != "alice" || reply.KeyID != alice.KeyID() {
				t.Errorf("identity %q %q, want alice %q", reply.Username, reply.KeyID, alice.KeyID())
			}
			if reply.RequestBound || reply.BodyBound {
				t.Errorf("unbound token reported bound: %+v", reply)
			}
			if reply.Body != r.body {
				t.Errorf("handler read body %q, want %q", reply.Body, r.body)
			}
		})
	}
}

func (f *fixture) testRefused(t *testing.T) {
	s := f.serve(t, nil, nil, asymjwt.WithAudience("conformance"), asymjwt.WithMaxTokenSize(1024))
	alice := f.alice(t)
	oneMinute := func(d time.Duration) asymjwt.ClockOption {
		return asymjwt.WithClock(func() time.Time { return time.Now().Add(d) })
	}
	for _, tc := range []struct {
		name   string
		signer *asymjwt.Signer
		req    request
		want   error
	}{
		{"no Authorization", nil, request{}, asymjwt.ErrNoCredentials},
		{"empty Authorization", nil, request{header: authorization("")}, asymjwt.ErrNoCredentials},
		{"no credentials on POST", nil, request{method: http.MethodPost, body: "x"}, asymjwt.ErrNoCredentials},
		{"two Authorization values", alice, request{tamper: func(r *http.Request) {
			r.Header.Add("Authorization", r.Header.Get("Authorization"))
		}}, asymjwt.ErrMultipleCredentials},
		{"other scheme", alice, request{tamper: rewriteAuthorization(func(v string) string {
			return "Bearer " + strings.TrimPrefix(v, "JWT ")
		})}, asymjwt.ErrScheme},
		{"malformed", nil, request{header: authorization("JWT not.a.token")}, asymjwt.ErrMalformed},
		{"oversized", nil, request{header: authorization("JWT " + strings.Repeat("a", 2048))}, asymjwt.ErrTokenTooLarge},
		{"unknown user", f.signer(t, "mallory", f.otherKey), request{}, asymjwt.ErrUnknownUser},
		{"unknown key", f.signer(t, "alice", f.otherKey), request{}, asymjwt.ErrUnknownKey},
		{"bad signature", alice, request{tamper: rewriteAuthorization(flipSignature)}, asymjwt.ErrSignature},
		{"stale", f.alice(t, oneMinute(-time.Minute)), request{}, asymjwt.ErrStale},
		{"from the future", f.alice(t, oneMinute(time.Minute)), request{}, asymjwt.ErrStale},
		{"other audience", f.alice(t, asymjwt.WithAudience("another-service")), request{}, asymjwt.ErrAudience},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.send(t, tc.signer, tc.req).refused(t, s.app.Verifier, http.StatusUnauthorized, tc.want)
		})
	}
	t.Run("right audience", func(t *testing.T) {
		s.send(t, f.alice(t, asymjwt.WithAudience("conformance")), request{}).accepted(t)
	})
}

func (f *fixture) testReplay(t *testing.T) {
	s := f.serve(t, nil, nil)
	alice := f.alice(t)
	t.Run("sequential", func(t *testing.T) {
		var sent string
		s.send(t, alice, request{tamper: func(r *http.Request) {
			sent = r.Header.Get("Authorization")
		}}).accepted(t)
		s.send(t, nil, request{header: authorization(sent)}).refused(t, s.app.Verifier, http.StatusUnauthorized, asymjwt.ErrReplay)
	})
	t.Run("concurrent", func(t *testing.T) {
		token, err := alice.Token()
		if err != nil {
			t.Fatal(err)
		}
		const n = 8
		statuses := make([]int, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				var r *response
				if r, errs[i] = s.do(nil, request{header: authorization(alice.AuthorizationValue(token))}); r != nil {
					statuses[i] = r.status
				}
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		ok := 0
		for _, st := range statuses {
			switch st {
			case http.StatusOK:
				ok++
			case http.StatusUnauthorized:
			default:
				t.Errorf("status %d, want 200 or 401", st)
			}
		}
		if ok != 1 {
			t.Errorf("%d of %d concurrent uses of one token accepted, want exactly 1 (statuses %v)", ok, n, statuses)
		}
	})
}

func (f *fixture) testBinding(t *testing.T) {
	const limit = 64
	s := f.serve(t, nil, nil, asymjwt.RequireRequestBinding(), asymjwt.RequireBodyHash(), asymjwt.WithMaxBodySize(limit))
	bound := f.alice(t, asymjwt.WithRequestBinding(), asymjwt.WithBodyHash())
	atLimit := strings.Repeat("a", limit)
	for _, r := range []request{
		{},
		{path: "/items/1?b=2&a=1&a=0&empty="},
		{path: "/items/hello%20w%C3%B6rld%2Bx?q=a%20b"},
		{method: http.MethodPost, body: `{"amount":42}`},
		{method: http.MethodPost},
		{method: http.MethodPut, body: atLimit},
		{method: http.MethodPatch, body: "sent in chunks", tamper: chunked},
	} {
		t.Run("accepted "+r.method+" "+r.path, func(t *testing.T) {
			reply := s.send(t, bound, r).accepted(t)
			if !reply.RequestBound || !reply.BodyBound {
				t.Errorf("identity not reported bound: %+v", reply)
			}
			if reply.Body != r.body {
				t.Errorf("handler read body %q after the middleware, want %q", reply.Body, r.body)
			}
		})
	}
	// Targets as a client other than Go's may send them: the token binds
	// the path net/http reads (URL.EscapedPath), which re-escapes some
	// characters and keeps every other byte as sent.
	for _, target := range []string{
		"/items/a{b}",
		"/items/a{b}|c^d\"e<f>g`h\\i%20j?q={x}|y",
		"/items/a!$&'()*+,;=:@[]~-._%7b%C3%B6?q=1",
	} {
		t.Run("accepted raw "+target, func(t *testing.T) {
			reply := s.sendRaw(t, bound, http.MethodGet, target).accepted(t)
			if !reply.RequestBound || !reply.BodyBound {
				t.Errorf("identity not reported bound: %+v", reply)
			}
		})
	}
	for _, tc := range []struct {
		name   string
		signer *asymjwt.Signer
		req    request
		want   error
	}{
		{"path changed", bound, request{tamper: func(r *http.Request) {
			r.URL.Path, r.URL.RawPath = "/items/2", ""
		}}, asymjwt.ErrRequestMismatch},
		{"escaped path changed", bound, request{path: "/items/a%20b", tamper: func(r *http.Request) {
			r.URL.Path, r.URL.RawPath = "/items/a+b", ""
		}}, asymjwt.ErrRequestMismatch},
		{"query changed", bound, request{path: "/items/1?amount=1", tamper: func(r *http.Request) {
			r.URL.RawQuery = "amount=1000"
		}}, asymjwt.ErrRequestMismatch},
		{"query added", bound, request{tamper: func(r *http.Request) {
			r.URL.RawQuery = "admin=1"
		}}, asymjwt.ErrRequestMismatch},
		{"method changed", bound, request{tamper: func(r *http.Request) {
			r.Method = http.MethodDelete
		}}, asymjwt.ErrRequestMismatch},
		{"body changed", bound, request{method: http.MethodPost, body: `{"amount":42}`, tamper: replaceBody(`{"amount":99}`)}, asymjwt.ErrRequestMismatch},
		{"body dropped", bound, request{method: http.MethodPost, body: `{"amount":42}`, tamper: replaceBody("")}, asymjwt.ErrRequestMismatch},
		{"chunked body changed", bound, request{method: http.MethodPost, body: "sent in chunks", tamper: func(r *http.Request) {
			replaceBody("sent in chunkz")(r)
			chunked(r)
		}}, asymjwt.ErrRequestMismatch},
		{"body over the limit", bound, request{method: http.MethodPost, body: atLimit + "a"}, asymjwt.ErrBodyTooLarge},
		{"chunked body over the limit", bound, request{method: http.MethodPost, body: atLimit + "a", tamper: chunked}, asymjwt.ErrBodyTooLarge},
		{"unbound token", f.alice(t), request{}, asymjwt.ErrRequestMismatch},
		{"token without bh", f.alice(t, asymjwt.WithRequestBinding()), request{method: http.MethodPost, body: "x"}, asymjwt.ErrRequestMismatch},
	} {
		t.Run("refused "+tc.name, func(t *testing.T) {
			s.send(t, tc.signer, tc.req).refused(t, s.app.Verifier, http.StatusUnauthorized, tc.want)
		})
	}
}

func (f *fixture) testOptional(t *testing.T) {
	s := f.serve(t, nil, func(a *App) { a.Optional = true })
	alice := f.alice(t)
	t.Run("no credentials", func(t *testing.T) {
		s.send(t, nil, request{}).anonymous(t, 1)
	})
	t.Run("empty Authorization", func(t *testing.T) {
		s.send(t, nil, request{header: authorization("")}).anonymous(t, 1)
	})
	t.Run("no credentials on POST", func(t *testing.T) {
		r := s.send(t, nil, request{method: http.MethodPost, body: "anonymous body"})
		r.anonymous(t, 1)
		if r.reply.Body != "anonymous body" {
			t.Errorf("handler read %q", r.reply.Body)
		}
	})
	t.Run("valid", func(t *testing.T) {
		if reply := s.send(t, alice, request{}).accepted(t); reply.Username != "alice" {
			t.Errorf("username %q", reply.Username)
		}
	})
	t.Run("no carry-over", func(t *testing.T) {
		s.noCarryOver(t, alice, request{}, 1)
	})
	for _, tc := range []struct {
		name   string
		signer *asymjwt.Signer
		req    request
		want   error
	}{
		{"malformed", nil, request{header: authorization("JWT not.a.token")}, asymjwt.ErrMalformed},
		{"other scheme", nil, request{header: authorization("Bearer abc")}, asymjwt.ErrScheme},
		{"two Authorization values", alice, request{tamper: func(r *http.Request) {
			r.Header.Add("Authorization", "JWT second")
		}}, asymjwt.ErrMultipleCredentials},
		{"unknown user", f.signer(t, "mallory", f.otherKey), request{}, asymjwt.ErrUnknownUser},
		{"bad signature", alice, request{tamper: rewriteAuthorization(flipSignature)}, asymjwt.ErrSignature},
	} {
		t.Run("invalid "+tc.name, func(t *testing.T) {
			s.send(t, tc.signer, tc.req).refused(t, s.app.Verifier, http.StatusUnauthorized, tc.want)
		})
	}
	t.Run("invalid replayed", func(t *testing.T) {
		var sent string
		s.send(t, alice, request{tamper: func(r *http.Request) { sent = r.Header.Get("Authorization") }}).accepted(t)
		s.send(t, nil, request{header: authorization(sent)}).refused(t, s.app.Verifier, http.StatusUnauthorized, asymjwt.ErrReplay)
	})
	t.Run("store down", func(t *testing.T) {
		down := f.serve(t, nil, func(a *App) { a.Optional = true }, asymjwt.WithReplayStore(downReplayStore{}))
		down.send(t, alice, request{}).refused(t, down.app.Verifier, http.StatusServiceUnavailable, asymjwt.ErrStoreUnavailable)
	})
}

func (f *fixture) testSkip(t *testing.T) {
	s := f.serve(t, nil, func(a *App) { a.SkipPublic = true })
	alice := f.alice(t)
	t.Run("no credentials", func(t *testing.T) {
		s.send(t, nil, request{path: "/public"}).anonymous(t, 0)
	})
	t.Run("invalid credentials not checked", func(t *testing.T) {
		s.send(t, nil, request{path: "/public", header: authorization("JWT not.a.token")}).anonymous(t, 0)
	})
	t.Run("token not consumed", func(t *testing.T) {
		var sent string
		s.send(t, alice, request{path: "/public", tamper: func(r *http.Request) {
			sent = r.Header.Get("Authorization")
		}}).anonymous(t, 0)
		// The skipped request never recorded the nonce: the token still works.
		s.send(t, nil, request{header: authorization(sent)}).accepted(t)
	})
	t.Run("no carry-over", func(t *testing.T) {
		s.noCarryOver(t, alice, request{path: "/public"}, 0)
	})
	t.Run("other routes still checked", func(t *testing.T) {
		s.send(t, nil, request{}).refused(t, s.app.Verifier, http.StatusUnauthorized, asymjwt.ErrNoCredentials)
	})
}

func (f *fixture) testErrorHandler(t *testing.T) {
	const status, body = http.StatusTeapot, "custom refusal"
	var (
		mu     sync.Mutex
		called []error
	)
	handler := func(a *App) {
		a.ErrorHandler = func(err error) (int, string) {
			mu.Lock()
			called = append(called, err)
			mu.Unlock()
			return status, body
		}
	}
	take := func() []error {
		mu.Lock()
		defer mu.Unlock()
		c := called
		called = nil
		return c
	}
	alice := f.alice(t)
	check := func(t *testing.T, r *response, want error) {
		t.Helper()
		r.refusedWith(t, status, want)
		if r.body != body {
			t.Errorf("body %q, want the error handler's %q", r.body, body)
		}
		if c := take(); len(c) != 1 || len(r.outcomes) != 1 || c[0] != r.outcomes[0].Err {
			t.Errorf("error handler got %v, want the verifier's %v", c, r.errs())
		}
	}
	s := f.serve(t, nil, handler)
	t.Run("no credentials", func(t *testing.T) {
		check(t, s.send(t, nil, request{}), asymjwt.ErrNoCredentials)
	})
	t.Run("replayed", func(t *testing.T) {
		var sent string
		s.send(t, alice, request{tamper: func(r *http.Request) { sent = r.Header.Get("Authorization") }}).accepted(t)
		check(t, s.send(t, nil, request{header: authorization(sent)}), asymjwt.ErrReplay)
	})
	t.Run("accepted", func(t *testing.T) {
		s.send(t, alice, request{}).accepted(t)
		if c := take(); len(c) != 0 {
			t.Errorf("error handler called on success with %v", c)
		}
	})
	t.Run("store down", func(t *testing.T) {
		down := f.serve(t, nil, handler, asymjwt.WithReplayStore(downReplayStore{}))
		check(t, down.send(t, alice, request{}), asymjwt.ErrStoreUnavailable)
	})
	t.Run("optional", func(t *testing.T) {
		opt := f.serve(t, nil, func(a *App) { handler(a); a.Optional = true })
		opt.send(t, nil, request{}).anonymous(t, 1)
		if c := take(); len(c) != 0 {
			t.Errorf("error handler called for an anonymous request in optional mode with %v", c)
		}
		check(t, opt.send(t, nil, request{header: authorization("JWT not.a.token")}), asymjwt.ErrMalformed)
	})
}

func (f *fixture) testSuccessHandler(t *testing.T) {
	var (
		mu     sync.Mutex
		called []*asymjwt.Identity
	)
	handler := func(a *App) {
		a.SuccessHandler = func(id *asymjwt.Identity) string {
			mu.Lock()
			called = append(called, id)
			mu.Unlock()
			return id.Username
		}
	}
	take := func() []*asymjwt.Identity {
		mu.Lock()
		defer mu.Unlock()
		c := called
		called = nil
		return c
	}
	alice := f.alice(t)
	s := f.serve(t, nil, handler)
	t.Run("accepted", func(t *testing.T) {
		r := s.send(t, alice, request{})
		r.accepted(t)
		if got := r.header.Get(SuccessHeader); got != "alice" {
			t.Errorf("%s %q, want the success handler's alice", SuccessHeader, got)
		}
		if c := take(); len(c) != 1 || c[0].Username != "alice" || c[0].KeyID != alice.KeyID() {
			t.Errorf("success handler got %+v, want alice's identity once", c)
		}
	})
	t.Run("refused", func(t *testing.T) {
		r := s.send(t, nil, request{header: authorization("JWT not.a.token")})
		r.refused(t, s.app.Verifier, http.StatusUnauthorized, asymjwt.ErrMalformed)
		if got := r.header.Get(SuccessHeader); got != "" {
			t.Errorf("%s %q on a refusal", SuccessHeader, got)
		}
		if c := take(); len(c) != 0 {
			t.Errorf("success handler called on a refusal with %+v", c)
		}
	})
	t.Run("optional anonymous", func(t *testing.T) {
		opt := f.serve(t, nil, func(a *App) { handler(a); a.Optional = true })
		r := opt.send(t, nil, request{})
		r.anonymous(t, 1)
		if c := take(); len(c) != 0 || r.header.Get(SuccessHeader) != "" {
			t.Errorf("success handler called for an anonymous request with %+v", c)
		}
	})
}

func (f *fixture) testStoreFailure(t *testing.T) {
	alice := f.alice(t)
	for _, tc := range []struct {
		name string
		keys asymjwt.KeyStore
		opts []asymjwt.VerifierOption
	}{
		{"replay store down", nil, []asymjwt.VerifierOption{asymjwt.WithReplayStore(downReplayStore{})}},
		{"key store down", downKeyStore{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := f.serve(t, tc.keys, nil, tc.opts...)
			s.send(t, alice, request{}).refused(t, s.app.Verifier, http.StatusServiceUnavailable, asymjwt.ErrStoreUnavailable)
			s.send(t, alice, request{method: http.MethodPost, body: "x"}).refused(t, s.app.Verifier, http.StatusServiceUnavailable, asymjwt.ErrStoreUnavailable)
		})
	}
}

// noCarryOver sends an accepted request, then anon unsigned on the same
// kept-alive connection, a few times: anon must reach the handler with no
// identity, after verifications verifications. An identity kept in a
// pooled context or in connection state would show here.
func (s *server) noCarryOver(t *testing.T, signer *asymjwt.Signer, anon request, verifications int) {
	t.Helper()
	for range 3 {
		s.send(t, signer, request{}).accepted(t)
		r := s.send(t, nil, anon)
		r.anonymous(t, verifications)
		if !r.reused {
			t.Errorf("the anonymous request after an accepted one went on a new connection: the server must keep it alive")
		}
	}
}
