package asymjwttest_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"

	asymjwt "github.com/asymjwt/asymjwt/core"
	"github.com/asymjwt/asymjwt/core/asymjwttest"
)

// TestNetHTTP runs the suite against core's own net/http middleware: it
// checks the suite as much as the middleware. net/http has no skip or
// success option; a mux serves the skipped route without the middleware,
// and a wrapper plays the success handler.
func TestNetHTTP(t *testing.T) {
	asymjwttest.Run(t, func(t testing.TB, app *asymjwttest.App) string {
		handle := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			id, _ := asymjwt.FromContext(r.Context())
			w.Header().Set("Content-Type", "application/json")
			w.Write(app.Handle(r.Context(), id, body))
		})
		var next http.Handler = handle
		if app.SuccessHandler != nil {
			next = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if id, ok := asymjwt.FromContext(r.Context()); ok {
					w.Header().Set(asymjwttest.SuccessHeader, app.SuccessHandler(id))
				}
				handle.ServeHTTP(w, r)
			})
		}
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
		protected := app.Verifier.MiddlewareWith(opts...)(next)
		mux := http.NewServeMux()
		mux.Handle("/items/", protected)
		if app.SkipPublic {
			mux.Handle("/public", handle)
		} else {
			mux.Handle("/public", protected)
		}
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		return srv.URL
	})
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
