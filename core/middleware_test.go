package asymjwt_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

// recorder is a handler that remembers whether it ran and what it saw.
type recorder struct {
	ran      bool
	identity *asymjwt.Identity
	body     string
}

func (h *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.ran = true
	h.identity, _ = asymjwt.FromContext(r.Context())
	b, _ := io.ReadAll(r.Body)
	h.body = string(b)
	io.WriteString(w, "ok")
}

func TestMiddleware(t *testing.T) {
	w := newWorld(t)
	signer, _ := asymjwt.NewSigner("alice", w.aliceEd.key, asymjwt.WithRequestBinding(), asymjwt.WithBodyHash())
	signed := func(method, target, body string) *http.Request {
		r := httptest.NewRequest(method, target, strings.NewReader(body))
		if err := signer.SignRequest(r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	bare := func(method, target string) *http.Request { return httptest.NewRequest(method, target, nil) }
	withAuth := func(r *http.Request, values ...string) *http.Request {
		for _, v := range values {
			r.Header.Add("Authorization", v)
		}
		return r
	}
	customError := asymjwt.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
		w.WriteHeader(http.StatusTeapot)
	})

	tests := []struct {
		name          string
		opts          []asymjwt.MiddlewareOption
		verifierOpts  []asymjwt.VerifierOption
		req           *http.Request
		wantStatus    int
		wantRan       bool
		wantUser      string
		wantChallenge bool
		wantBody      string // substring of the response body
	}{
		{name: "accepted, body still readable", req: signed("POST", "/orders?x=1", `{"n":1}`), wantStatus: 200, wantRan: true, wantUser: "alice"},
		{name: "no credentials", req: bare("GET", "/"), wantStatus: 401, wantChallenge: true, wantBody: "Unauthorized"},
		{name: "garbage token, no detail in body", req: withAuth(bare("GET", "/"), "JWT x.y.z"), wantStatus: 401, wantChallenge: true, wantBody: "Unauthorized\n"},
		{name: "two headers", req: withAuth(signed("GET", "/", ""), "JWT a.b.c"), wantStatus: 401, wantChallenge: true},
		{name: "wrong scheme", req: withAuth(bare("GET", "/"), "Bearer abc"), wantStatus: 401, wantChallenge: true},
		{name: "optional, anonymous", opts: []asymjwt.MiddlewareOption{asymjwt.Optional()}, req: bare("GET", "/"), wantStatus: 200, wantRan: true},
		{name: "optional, invalid credentials refused", opts: []asymjwt.MiddlewareOption{asymjwt.Optional()}, req: withAuth(bare("GET", "/"), "JWT x.y.z"), wantStatus: 401, wantChallenge: true},
		{name: "optional, valid credentials", opts: []asymjwt.MiddlewareOption{asymjwt.Optional()}, req: signed("GET", "/", ""), wantStatus: 200, wantRan: true, wantUser: "alice"},
		{name: "custom error handler", opts: []asymjwt.MiddlewareOption{customError}, req: bare("GET", "/"), wantStatus: http.StatusTeapot},
		{name: "exposed details (insecure)", opts: []asymjwt.MiddlewareOption{asymjwt.InsecureExposeErrorDetails()}, req: bare("GET", "/"), wantStatus: 401, wantChallenge: true, wantBody: "no credentials"},
		{name: "store down: 503, no challenge", verifierOpts: []asymjwt.VerifierOption{asymjwt.WithReplayStore(failingReplayStore{})}, req: signed("GET", "/", ""), wantStatus: 503, wantBody: "Service Unavailable"},
		{name: "realm", verifierOpts: []asymjwt.VerifierOption{asymjwt.WithRealm("orders")}, req: bare("GET", "/"), wantStatus: 401, wantChallenge: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newTestVerifier(t, w.keys, tt.verifierOpts...)
			next := &recorder{}
			rec := httptest.NewRecorder()
			v.MiddlewareWith(tt.opts...)(next).ServeHTTP(rec, tt.req)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d (body %q)", rec.Code, tt.wantStatus, rec.Body)
			}
			if next.ran != tt.wantRan {
				t.Fatalf("handler ran = %v, want %v", next.ran, tt.wantRan)
			}
			if tt.wantUser != "" && (next.identity == nil || next.identity.Username != tt.wantUser) {
				t.Fatalf("identity %+v, want %s", next.identity, tt.wantUser)
			}
			if tt.wantUser == "" && next.identity != nil {
				t.Fatalf("anonymous request carried identity %+v", next.identity)
			}
			if tt.wantUser != "" && tt.req.Method == "POST" && next.body != `{"n":1}` {
				t.Fatalf("handler read body %q", next.body)
			}
			challenge := rec.Header().Get("WWW-Authenticate")
			if tt.wantChallenge != (challenge != "") {
				t.Fatalf("WWW-Authenticate %q", challenge)
			}
			if tt.wantChallenge && (challenge != v.Challenge() || !strings.Contains(challenge, `error="invalid_token"`)) {
				t.Fatalf("WWW-Authenticate %q", challenge)
			}
			if !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Fatalf("body %q, want it to contain %q", rec.Body, tt.wantBody)
			}
		})
	}
}

func TestObserverAndLogSeeEveryOutcome(t *testing.T) {
	w := newWorld(t)
	var (
		mu       sync.Mutex
		outcomes []asymjwt.Outcome
		logs     bytes.Buffer
	)
	v, err := asymjwt.NewVerifier(w.keys,
		asymjwt.WithObserver(func(_ context.Context, o asymjwt.Outcome) {
			mu.Lock()
			outcomes = append(outcomes, o)
			mu.Unlock()
		}),
		asymjwt.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := asymjwt.NewSigner("alice", w.aliceEd.key)
	token, _ := signer.Token()
	h := v.Middleware(&recorder{})
	for _, auth := range []string{"", "JWT " + token, "JWT " + token} {
		r := httptest.NewRequest("GET", "/", nil)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	if len(outcomes) != 3 {
		t.Fatalf("%d outcomes, want 3", len(outcomes))
	}
	if !errors.Is(outcomes[0].Err, asymjwt.ErrNoCredentials) ||
		outcomes[1].Err != nil || outcomes[1].Identity == nil || outcomes[1].Identity.Username != "alice" ||
		!errors.Is(outcomes[2].Err, asymjwt.ErrReplay) || outcomes[2].Username != "alice" {
		t.Fatalf("outcomes %+v", outcomes)
	}
	for _, want := range []string{"no credentials", "authenticated", "token replayed", "claimed_username=alice"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}

func TestFromContextEmpty(t *testing.T) {
	if id, ok := asymjwt.FromContext(context.Background()); ok || id != nil {
		t.Fatal("identity on an empty context")
	}
	if _, ok := asymjwt.FromContext(asymjwt.NewContext(context.Background(), nil)); ok {
		t.Fatal("nil identity reported present")
	}
}

// TestStackedMiddleware: the same Verifier's middleware twice on one route
// (optional everywhere, required on a group) verifies the token once.
func TestStackedMiddleware(t *testing.T) {
	w := newWorld(t)
	v := newTestVerifier(t, w.keys)
	other := newTestVerifier(t, w.keys, asymjwt.WithReplayStore(asymjwt.NewMemoryReplayStore()))
	signer, _ := asymjwt.NewSigner("alice", w.aliceEd.key)
	tests := []struct {
		name       string
		outer      func(http.Handler) http.Handler
		inner      func(http.Handler) http.Handler
		wantStatus int
	}{
		{"optional then required, same verifier", v.MiddlewareWith(asymjwt.Optional()), v.Middleware, 200},
		{"required twice", v.Middleware, v.Middleware, 200},
		{"another verifier checks the token itself", v.Middleware, other.Middleware, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := &recorder{}
			r := httptest.NewRequest("GET", "/", nil)
			if err := signer.SignRequest(r); err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			tt.outer(tt.inner(next)).ServeHTTP(rec, r)
			if rec.Code != tt.wantStatus || !next.ran || next.identity == nil {
				t.Fatalf("status %d, ran %v, identity %v", rec.Code, next.ran, next.identity)
			}
		})
	}
	// An identity put on the context by anything but this Verifier is
	// not taken as authenticated.
	forged := asymjwt.NewContext(context.Background(), &asymjwt.Identity{Username: "alice"})
	if _, ok := v.Authenticated(forged, []string{"JWT x.y.z"}); ok {
		t.Fatal("a forged identity counted as authenticated")
	}
	// A context vouches only while the request it was verified for is
	// being handled, for the credential it was verified from.
	token, _ := signer.Token()
	id, err := v.Verify(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	ctx, end := v.NewRequestContext(context.Background(), id)
	check := func(ctx context.Context, auth []string, want bool) {
		t.Helper()
		if got, ok := v.Authenticated(ctx, auth); ok != want || ok && got != id {
			t.Errorf("Authenticated with %q = %v, %v, want %v", auth, got, ok, want)
		}
	}
	for _, tc := range []struct {
		auth []string
		want bool
	}{
		{[]string{signer.AuthorizationValue(token)}, true},
		{[]string{"JWT " + token}, true},
		{[]string{"JWT x.y.z"}, false},
		{nil, false},
		{[]string{signer.AuthorizationValue(token), signer.AuthorizationValue(token)}, false},
	} {
		check(ctx, tc.auth, tc.want)
	}
	auth := []string{signer.AuthorizationValue(token)}
	type otherKey struct{}
	check(context.WithValue(ctx, otherKey{}, 1), auth, true) // derived from it
	check(asymjwt.NewContext(context.Background(), id), auth, false)
	check(asymjwt.NewContext(ctx, id), auth, false) // put on again, vouched by no one
	if _, ok := other.Authenticated(ctx, auth); ok {
		t.Error("another Verifier took v's identity as its own")
	}
	end()
	check(ctx, auth, false)
	if got, ok := asymjwt.FromContext(ctx); !ok || got != id {
		t.Errorf("FromContext after the request ended: %v %v, want the identity still there", got, ok)
	}
}

// TestIdentityVouchesOnlyForItsRequest: a request whose context already
// carries an identity (a framework reusing the last request's context,
// or one carried on by hand) is verified as if it carried none: the same
// token again is a replay, and an anonymous request is anonymous.
func TestIdentityVouchesOnlyForItsRequest(t *testing.T) {
	w := newWorld(t)
	v := newTestVerifier(t, w.keys, asymjwt.WithReplayStore(asymjwt.NewMemoryReplayStore()))
	signer, _ := asymjwt.NewSigner("alice", w.aliceEd.key)
	var seen context.Context
	capture := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Context()
		if _, ok := asymjwt.FromContext(r.Context()); ok {
			io.WriteString(w, "identified")
		} else {
			io.WriteString(w, "anonymous")
		}
	})
	for _, tc := range []struct {
		name string
		h    http.Handler
	}{
		{"required", v.Middleware(capture)},
		{"optional", v.MiddlewareWith(asymjwt.Optional())(capture)},
		{"stacked", v.MiddlewareWith(asymjwt.Optional())(v.Middleware(capture))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			serve := func(r *http.Request) (int, string) {
				rec := httptest.NewRecorder()
				tc.h.ServeHTTP(rec, r)
				return rec.Code, rec.Body.String()
			}
			r := httptest.NewRequest("GET", "/", nil)
			if err := signer.SignRequest(r); err != nil {
				t.Fatal(err)
			}
			if code, body := serve(r); code != 200 || body != "identified" {
				t.Fatalf("first use: %d %q", code, body)
			}
			// The same request again, on the context the handler saw.
			if code, _ := serve(r.WithContext(seen)); code != 401 {
				t.Errorf("the same token on the context it was verified on: %d, want 401 (replay)", code)
			}
			if code, _ := serve(r); code != 401 {
				t.Errorf("the same token again: %d, want 401 (replay)", code)
			}
			anon := httptest.NewRequest("GET", "/", nil).WithContext(seen)
			code, body := serve(anon)
			if tc.name == "optional" && (code != 200 || body != "anonymous") {
				t.Errorf("anonymous request on a context carrying an identity: %d %q, want 200 anonymous", code, body)
			}
			if tc.name != "optional" && code != 401 {
				t.Errorf("anonymous request on a context carrying an identity: %d %q, want 401", code, body)
			}
		})
	}
}

// TestAuthorizationSpellings: a header built in process may hold the key
// in any case; every value under every spelling counts.
func TestAuthorizationSpellings(t *testing.T) {
	w := newWorld(t)
	signer, _ := asymjwt.NewSigner("alice", w.aliceEd.key)
	for _, tc := range []struct {
		name   string
		header func(valid string) http.Header
		want   int
		err    error
	}{
		{"lower case only", func(v string) http.Header { return http.Header{"authorization": {v}} }, 200, nil},
		{"upper case only", func(v string) http.Header { return http.Header{"AUTHORIZATION": {v}} }, 200, nil},
		{"canonical and lower case", func(v string) http.Header {
			return http.Header{"Authorization": {v}, "authorization": {"JWT junk"}}
		}, 401, asymjwt.ErrMultipleCredentials},
		{"lower and mixed case", func(v string) http.Header {
			return http.Header{"authorization": {v}, "AuThOrIzAtIoN": {v}}
		}, 401, asymjwt.ErrMultipleCredentials},
		{"two values in lower case", func(v string) http.Header {
			return http.Header{"authorization": {v, v}}
		}, 401, asymjwt.ErrMultipleCredentials},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got error
			v := newTestVerifier(t, w.keys, asymjwt.WithReplayStore(asymjwt.NewMemoryReplayStore()),
				asymjwt.WithObserver(func(_ context.Context, o asymjwt.Outcome) { got = o.Err }))
			token, _ := signer.Token()
			r := httptest.NewRequest("GET", "/", nil)
			r.Header = tc.header(signer.AuthorizationValue(token))
			rec := httptest.NewRecorder()
			v.Middleware(&recorder{}).ServeHTTP(rec, r)
			if rec.Code != tc.want || !errors.Is(got, tc.err) || (tc.err == nil) != (got == nil) {
				t.Errorf("status %d (%v), want %d (%v)", rec.Code, got, tc.want, tc.err)
			}
			if n := len(asymjwt.AuthorizationValues(r.Header)); n != len(slices.Concat(slices.Collect(maps.Values(r.Header))...)) {
				t.Errorf("AuthorizationValues found %d values in %v", n, r.Header)
			}
		})
	}
}
