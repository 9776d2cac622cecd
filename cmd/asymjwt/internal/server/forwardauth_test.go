package server_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/asymjwt/asymjwt/cmd/asymjwt/internal/server"
	asymjwt "github.com/asymjwt/asymjwt/core"
)

// A username that would not read back unchanged from the response
// header is refused (a MemoryKeyStore takes such names; the
// authorized-keys directory may refuse them first).
func TestForwardAuthRefusesUsernameUnsafeInHeader(t *testing.T) {
	t.Parallel()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keys := asymjwt.NewMemoryKeyStore()
	for _, user := range []string{"billing", " admin", "admin,root", "ad\nmin"} {
		if _, err := keys.Add(user, pub); err != nil {
			t.Fatal(err)
		}
	}
	logger := slog.New(slog.DiscardHandler)
	v, err := asymjwt.NewVerifier(keys, asymjwt.WithReplayStore(asymjwt.NewMemoryReplayStore()), asymjwt.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	h := server.NewForwardAuth(server.ForwardAuthConfig{Verifier: v, Logger: logger})
	for _, tt := range []struct {
		user string
		want int
	}{{"billing", 200}, {" admin", 401}, {"admin,root", 401}, {"ad\nmin", 401}} {
		s, err := asymjwt.NewSigner(tt.user, priv)
		if err != nil {
			t.Fatal(err)
		}
		tok, _ := s.TokenFor("GET", "/x", "", nil)
		req := httptest.NewRequest("GET", "/verify", nil)
		req.Header.Set("Authorization", s.AuthorizationValue(tok))
		req.Header.Set("X-Original-Method", "GET")
		req.Header.Set("X-Original-URI", "/x")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		got := rec.Result()
		if got.StatusCode != tt.want || (tt.want == 200) != (got.Header.Get(server.DefaultUserHeader) == tt.user) {
			t.Errorf("%q: %d, header %q", tt.user, got.StatusCode, got.Header.Values(server.DefaultUserHeader))
		}
		if tt.want == 401 && got.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%q: no challenge", tt.user)
		}
	}
}

// Exactly one credential, whatever the spelling of the header key: a
// header map built in process (a gateway embedding forward-auth, a test)
// can hold "Authorization" and "authorization" apart; the second one
// counts as a second credential, as in every adapter.
func TestForwardAuthCountsEverySpellingOfAuthorization(t *testing.T) {
	t.Parallel()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keys := asymjwt.NewMemoryKeyStore()
	if _, err := keys.Add("billing", pub); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	v, err := asymjwt.NewVerifier(keys, asymjwt.WithReplayStore(asymjwt.NewMemoryReplayStore()), asymjwt.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	h := server.NewForwardAuth(server.ForwardAuthConfig{Verifier: v, Logger: logger})
	s, err := asymjwt.NewSigner("billing", priv)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		extra []string // under the key "authorization"
		want  int
	}{
		{"one credential", nil, 200},
		{"a second one under another spelling", []string{"junk"}, 401},
	} {
		tok, _ := s.TokenFor("GET", "/x", "", nil)
		req := httptest.NewRequest("GET", "/verify", nil)
		req.Header.Set("Authorization", s.AuthorizationValue(tok))
		if tt.extra != nil {
			req.Header["authorization"] = tt.extra
		}
		req.Header.Set("X-Original-Method", "GET")
		req.Header.Set("X-Original-URI", "/x")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if got := rec.Result().StatusCode; got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
}
