package asymjwttest_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"

	asymjwt "github.com/asymjwt/asymjwt/core"
	"github.com/asymjwt/asymjwt/core/asymjwttest"
)

// TestNetHTTP runs the suite against core's own net/http middleware: it
// checks the suite as much as the middleware. net/http has no skip or
// success option; a mux serves the skipped route without the middleware,
// and the handler plays the success handler.
func TestNetHTTP(t *testing.T) {
	asymjwttest.Run(t, func(t testing.TB, app *asymjwttest.App) string {
		return serveApp(t, app, app.Verifier.MiddlewareWith(options(app)...))
	})
}

// options maps the App's optional mode and error handler to core's.
func options(app *asymjwttest.App) []asymjwt.MiddlewareOption {
	var opts []asymjwt.MiddlewareOption
	if app.Optional {
		opts = append(opts, asymjwt.Optional())
	}
	if app.ErrorHandler != nil {
		opts = append(opts, asymjwt.WithErrorHandler(func(w http.ResponseWriter, _ *http.Request, err error) {
			status, body := app.ErrorHandler(err)
			w.WriteHeader(status)
			io.WriteString(w, body)
		}))
	}
	return opts
}

// TestNetHTTPRules holds core's net/http middleware to the rules every
// adapter shares, in process. It has no skip option: a route without it
// is not skipped, only unprotected.
func TestNetHTTPRules(t *testing.T) {
	asymjwttest.RunDriver(t, asymjwttest.HTTPDriver(func(t testing.TB, app *asymjwttest.App) http.Handler {
		if app.SkipPublic {
			return nil
		}
		return appHandler(app, app.Verifier.MiddlewareWith(options(app)...))
	}))
}

// serveApp serves the App's routes behind mw; PublicRoute without it when
// the App asks for the skip option.
func serveApp(t testing.TB, app *asymjwttest.App, mw func(http.Handler) http.Handler) string {
	return serve(t, appHandler(app, mw))
}

// appHandler is the App's routes behind mw (and an optional layer
// before it when the App is Stacked); PublicRoute without them when the
// App asks for the skip option.
func appHandler(app *asymjwttest.App, mw func(http.Handler) http.Handler) http.Handler {
	if app.Stacked {
		inner, outer := mw, app.Verifier.MiddlewareWith(asymjwt.Optional())
		mw = func(h http.Handler) http.Handler { return outer(inner(h)) }
	}
	handle := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		id, _ := asymjwt.FromContext(r.Context())
		if id != nil && app.SuccessHandler != nil {
			w.Header().Set(asymjwttest.SuccessHeader, app.SuccessHandler(id))
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(app.Handle(r.Context(), id, body))
	})
	mux := http.NewServeMux()
	mux.Handle("/items/", mw(handle))
	if app.SkipPublic {
		mux.Handle("/public", handle)
	} else {
		mux.Handle("/public", mw(handle))
	}
	return mux
}

// broken are middlewares the suite must fail, with a subtest each must
// fail in.
var broken = map[string]struct {
	start   asymjwttest.StartFunc
	failsIn string
}{
	"no middleware": {func(t testing.TB, app *asymjwttest.App) string {
		return serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			w.Write(app.Handle(r.Context(), nil, body))
		}))
	}, "Refused"},
	"handler runs after refusal": {func(t testing.TB, app *asymjwttest.App) string {
		return serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id, err := app.Verifier.VerifyRequest(r)
			if err != nil {
				app.Verifier.WriteError(w, err, false)
			}
			body, _ := io.ReadAll(r.Body)
			w.Write(app.Handle(asymjwt.NewContext(r.Context(), id), id, body))
		}))
	}, "Refused"},
	"details exposed": {func(t testing.TB, app *asymjwttest.App) string {
		return serve(t, app.Verifier.MiddlewareWith(asymjwt.InsecureExposeErrorDetails())(
			http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				id, _ := asymjwt.FromContext(r.Context())
				body, _ := io.ReadAll(r.Body)
				w.Write(app.Handle(r.Context(), id, body))
			})))
	}, "Refused"},
	"body not restored": {func(t testing.TB, app *asymjwttest.App) string {
		return serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			req := asymjwt.HTTPRequest(r)
			body := req.Body
			req.Body = func(limit int64) ([]byte, error) {
				data, err := body(limit)
				r.Body = http.NoBody
				return data, err
			}
			id, err := app.Verifier.Authenticate(r.Context(), r.Header.Values("Authorization"), req)
			if err != nil {
				app.Verifier.WriteError(w, err, false)
				return
			}
			ctx := asymjwt.NewContext(r.Context(), id)
			data, _ := io.ReadAll(r.Body)
			w.Write(app.Handle(ctx, id, data))
		}))
	}, "Binding"},
	"reason in the refusal": {func(t testing.TB, app *asymjwttest.App) string {
		opts := options(app)
		if app.ErrorHandler == nil {
			opts = append(opts, asymjwt.WithErrorHandler(func(w http.ResponseWriter, _ *http.Request, err error) {
				// Names the failed check in words of its own, not
				// asymjwt's: only comparing refusals shows it.
				reason := "refused"
				for _, s := range []error{asymjwt.ErrSignature, asymjwt.ErrUnknownUser, asymjwt.ErrUnknownKey, asymjwt.ErrStale, asymjwt.ErrReplay} {
					if errors.Is(err, s) {
						reason = strings.TrimPrefix(s.Error(), "asymjwt: ")
					}
				}
				status := asymjwt.StatusCode(err)
				if status == http.StatusUnauthorized {
					w.Header().Set("WWW-Authenticate", app.Verifier.Challenge())
				}
				http.Error(w, reason, status)
			}))
		}
		return serveApp(t, app, app.Verifier.MiddlewareWith(opts...))
	}, "Refused"},
	"identity carried over": {func(t testing.TB, app *asymjwttest.App) string {
		// Gives the last identity to the next anonymous request, as a
		// pooled context that is not reset would.
		var last atomic.Pointer[asymjwt.Identity]
		return serveApp(t, app, func(next http.Handler) http.Handler {
			return app.Verifier.MiddlewareWith(options(app)...)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if id, ok := asymjwt.FromContext(r.Context()); ok {
					last.Store(id)
				} else if id := last.Load(); id != nil {
					r = r.WithContext(asymjwt.NewContext(r.Context(), id))
				}
				next.ServeHTTP(w, r)
			}))
		})
	}, "Optional"},
}

const brokenEnv = "ASYMJWTTEST_BROKEN"

// TestBrokenMiddleware runs the suite against one broken middleware; only
// TestSuiteFailsBrokenMiddleware runs it, in a child process.
func TestBrokenMiddleware(t *testing.T) {
	name := os.Getenv(brokenEnv)
	if name == "" {
		t.Skip("run by TestSuiteFailsBrokenMiddleware")
	}
	asymjwttest.Run(t, broken[name].start)
}

// TestSuiteFailsBrokenMiddleware proves the suite is not vacuous: each
// broken middleware must fail it, in the subtest that checks what it breaks.
func TestSuiteFailsBrokenMiddleware(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the test binary again")
	}
	for name, b := range broken {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenMiddleware$", "-test.v")
			cmd.Env = append(os.Environ(), brokenEnv+"="+name)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a broken middleware:\n%s", out)
			}
			if want := "--- FAIL: TestBrokenMiddleware/" + b.failsIn; !strings.Contains(string(out), want) {
				t.Errorf("no %q in the output:\n%s", want, out)
			}
		})
	}
}

func serve(t testing.TB, h http.Handler) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// faulty is core's middleware with one fault or another, for proving
// that RunDriver catches each.
type faulty struct {
	oneSpelling  bool // reads only the canonical Authorization key
	stackBlind   bool // never asks Authenticated: verifies again when stacked
	trustAny     bool // takes any identity on the context as this request's
	keepIdentity bool // lets an identity on the context through to anonymous requests
	expose       bool // puts the reason in the refusal
	failOpen     bool // lets a request through when a store failed
}

func (fm faulty) middleware(v *asymjwt.Verifier, optional bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			values := asymjwt.AuthorizationValues(r.Header)
			if fm.oneSpelling {
				values = r.Header.Values("Authorization")
			}
			if _, ok := asymjwt.FromContext(r.Context()); ok && fm.trustAny {
				next.ServeHTTP(w, r)
				return
			}
			if _, ok := v.Authenticated(r.Context(), values); ok && !fm.stackBlind {
				next.ServeHTTP(w, r)
				return
			}
			id, err := v.Authenticate(r.Context(), values, asymjwt.HTTPRequest(r))
			switch {
			case err == nil:
				ctx, end := v.NewRequestContext(r.Context(), id)
				defer end()
				next.ServeHTTP(w, r.WithContext(ctx))
			case optional && asymjwt.IsAnonymous(err), fm.failOpen && errors.Is(err, asymjwt.ErrStoreUnavailable):
				if !fm.keepIdentity {
					r = r.WithContext(asymjwt.WithoutIdentity(r.Context()))
				}
				next.ServeHTTP(w, r)
			default:
				v.WriteError(w, err, fm.expose)
			}
		})
	}
}

// faultyDrivers are middlewares RunDriver must fail, with a rule each
// must fail in.
var faultyDrivers = map[string]struct {
	fault   faulty
	failsIn string
}{
	"one spelling only":           {faulty{oneSpelling: true}, "ExactlyOneCredential"},
	"verifies again when stacked": {faulty{stackBlind: true}, "Stacked"},
	"trusts any identity":         {faulty{trustAny: true}, "NoCarryOver"},
	"identity kept for anonymous": {faulty{keepIdentity: true}, "NoCarryOver"},
	"reason in the refusal":       {faulty{expose: true}, "ExactlyOneCredential"},
	"fails open":                  {faulty{failOpen: true}, "StoreFailure"},
}

const faultyEnv = "ASYMJWTTEST_FAULTY"

// TestFaultyDriver runs RunDriver against one faulty middleware; only
// TestRulesFailFaultyMiddleware runs it, in a child process.
func TestFaultyDriver(t *testing.T) {
	name := os.Getenv(faultyEnv)
	if name == "" {
		t.Skip("run by TestRulesFailFaultyMiddleware")
	}
	fm := faultyDrivers[name].fault
	asymjwttest.RunDriver(t, asymjwttest.HTTPDriver(func(t testing.TB, app *asymjwttest.App) http.Handler {
		if app.SkipPublic {
			return nil
		}
		return appHandler(app, fm.middleware(app.Verifier, app.Optional))
	}))
}

// TestRulesFailFaultyMiddleware proves RunDriver is not vacuous: each
// faulty middleware must fail it, in the rule that checks its fault.
func TestRulesFailFaultyMiddleware(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the test binary again")
	}
	for name, b := range faultyDrivers {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestFaultyDriver$", "-test.v")
			cmd.Env = append(os.Environ(), faultyEnv+"="+name)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the rules passed a faulty middleware:\n%s", out)
			}
			if want := "--- FAIL: TestFaultyDriver/" + b.failsIn; !strings.Contains(string(out), want) {
				t.Errorf("no %q in the output:\n%s", want, out)
			}
		})
	}
}
