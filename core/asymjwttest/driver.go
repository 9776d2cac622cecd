package asymjwttest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Driver builds an adapter's server for app, in process, and returns the
// function that makes one call through it. [RunDriver] holds the server
// to the rules every adapter shares, whatever its transport: it is how
// an adapter that is not HTTP (gRPC) runs the suite, and how an HTTP
// adapter is tried on what a loopback server cannot send (keys spelled in
// any case, contexts handed from one request to the next).
//
// The server must serve ItemRoute and PublicRoute (gRPC: a method of
// each) with [App.Handle] behind the adapter's middleware, configured by
// the App: Optional, SkipPublic (the skip or exempt option, for
// PublicRoute) and Stacked. ErrorHandler and SuccessHandler are never
// set by RunDriver. A Driver returns nil for an App it cannot build (an
// adapter without a skip option, asked for SkipPublic): the tests that
// need it are skipped.
type Driver func(t testing.TB, app *App) CallFunc

// CallFunc makes one call and returns how it was answered.
type CallFunc func(t testing.TB, c Call) Answer

// Call is one call made through a Driver.
type Call struct {
	// Public sends the call to PublicRoute instead of ItemRoute.
	Public bool
	// Credentials are the credential fields to send, each one value under
	// its key, spelled as given ("Authorization", "authorization",
	// "AUTHORIZATION"...). The driver puts them on the request as they
	// are, without canonicalizing the keys: an HTTP driver in the header
	// map, a gRPC driver in the incoming metadata.
	Credentials []Field
	// Context, when not nil, is the context the request's context must
	// derive from (fiber: its user context), as a framework that reuses
	// or hands on contexts would: RunDriver passes the context an earlier
	// call's handler saw, or one carrying a made-up identity.
	Context context.Context
}

// Field is one key and value of a request's header or metadata.
type Field struct{ Key, Value string }

// Kind is how a call ended.
type Kind string

// Kinds of Answer.
const (
	// Handled: the handler answered (HTTP 200, gRPC OK).
	Handled Kind = "handled"
	// Unauthenticated: refused for its credentials (HTTP 401, gRPC
	// Unauthenticated).
	Unauthenticated Kind = "unauthenticated"
	// Unavailable: refused because a store failed (HTTP 503, gRPC
	// Unavailable).
	Unavailable Kind = "unavailable"
)

// Answer is how a call was answered.
type Answer struct {
	Kind Kind
	// Reply is what App.Handle returned, when Handled.
	Reply Reply
	// Seen is everything else the caller saw of a refusal, for comparing
	// refusals with each other: HTTP the body and WWW-Authenticate, gRPC
	// the status message.
	Seen string
	// Other describes an answer of no Kind above (a 500, another code).
	Other string
}

// HTTPDriver is the Driver of an HTTP adapter whose server is an
// http.Handler (net/http, gin, echo): build returns the handler for app
// (nil when it cannot build it),
// and each call is a GET served in process with a header map holding the
// credentials exactly as given.
func HTTPDriver(build func(t testing.TB, app *App) http.Handler) Driver {
	return func(t testing.TB, app *App) CallFunc {
		h := build(t, app)
		if h == nil {
			return nil
		}
		return func(t testing.TB, c Call) Answer {
			t.Helper()
			target := "/items/1"
			if c.Public {
				target = PublicRoute
			}
			r := httptest.NewRequest(http.MethodGet, target, nil)
			for _, f := range c.Credentials {
				r.Header[f.Key] = append(r.Header[f.Key], f.Value)
			}
			if c.Context != nil {
				r = r.WithContext(c.Context)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			res := w.Result()
			body, _ := io.ReadAll(res.Body)
			return HTTPAnswer(t, res.StatusCode, res.Header.Values("WWW-Authenticate"), body)
		}
	}
}

// HTTPAnswer turns an HTTP response into an Answer: 200 with App.Handle's
// reply, 401, 503, or another status.
func HTTPAnswer(t testing.TB, status int, challenge []string, body []byte) Answer {
	t.Helper()
	switch status {
	case http.StatusOK:
		a := Answer{Kind: Handled}
		if err := json.Unmarshal(body, &a.Reply); err != nil {
			t.Fatalf("200 with a body that is not App.Handle's reply: %q", body)
		}
		return a
	case http.StatusUnauthorized:
		return Answer{Kind: Unauthenticated, Seen: fmt.Sprintf("body %q, WWW-Authenticate %q", body, strings.Join(challenge, ", "))}
	case http.StatusServiceUnavailable:
		return Answer{Kind: Unavailable, Seen: fmt.Sprintf("body %q, WWW-Authenticate %q", body, strings.Join(challenge, ", "))}
	}
	return Answer{Other: fmt.Sprintf("status %d, body %q", status, body)}
}
