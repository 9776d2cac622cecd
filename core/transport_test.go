package asymjwt_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

func TestSignerToken(t *testing.T) {
	w := newWorld(t)
	tests := []struct {
		name    string
		key     party
		opts    []asymjwt.SignerOption
		wantAlg string
		wantErr error
	}{
		{"Ed25519 default", w.aliceEd, nil, "EdDSA", nil},
		{"RSA default is RS512", w.aliceRSA, nil, "RS512", nil},
		{"RSA PS384", w.aliceRSA, []asymjwt.SignerOption{asymjwt.WithAlgorithm("PS384")}, "PS384", nil},
		{"P-384 default", w.aliceP384, nil, "ES384", nil},
		{"ES256 on P-384 refused", w.aliceP384, []asymjwt.SignerOption{asymjwt.WithAlgorithm("ES256")}, "", asymjwt.ErrAlgorithm},
		{"HS256 refused", w.aliceRSA, []asymjwt.SignerOption{asymjwt.WithAlgorithm("HS256")}, "", asymjwt.ErrAlgorithm},
		{"none refused", w.aliceEd, []asymjwt.SignerOption{asymjwt.WithAlgorithm("none")}, "", asymjwt.ErrAlgorithm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := asymjwt.NewSigner("alice", tt.key.key, tt.opts...)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if s.Algorithm() != tt.wantAlg || s.KeyID() != tt.key.kid {
				t.Fatalf("alg %s kid %s", s.Algorithm(), s.KeyID())
			}
			v := newTestVerifier(t, w.keys)
			seen := map[string]bool{}
			for range 3 {
				tok, err := s.Token()
				if err != nil {
					t.Fatal(err)
				}
				id, err := v.Verify(t.Context(), tok)
				if err != nil {
					t.Fatal(err)
				}
				if seen[id.Nonce] {
					t.Fatal("nonce repeated")
				}
				seen[id.Nonce] = true
				if raw, err := base64.RawURLEncoding.DecodeString(id.Nonce); err != nil || len(raw) < 12 {
					t.Fatalf("nonce %q carries fewer than 96 bits", id.Nonce)
				}
			}
		})
	}
	if _, err := asymjwt.NewSigner("", w.aliceEd.key); err == nil {
		t.Fatal("empty username accepted")
	}
}

func TestSignerAudience(t *testing.T) {
	w := newWorld(t)
	for _, aud := range [][]string{{"orders"}, {"orders", "billing"}} {
		s, _ := asymjwt.NewSigner("alice", w.aliceEd.key, asymjwt.WithAudience(aud...))
		tok, _ := s.Token()
		payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
		var c map[string]any
		json.Unmarshal(payload, &c)
		if len(aud) == 1 && c["aud"] != "orders" {
			t.Fatalf("one audience encoded as %v", c["aud"])
		}
		v := newTestVerifier(t, w.keys, asymjwt.WithAudience("orders"), asymjwt.RequireAudience())
		id, err := v.Verify(t.Context(), tok)
		if err != nil {
			t.Fatal(err)
		}
		if len(id.Audience) != len(aud) {
			t.Fatalf("audience %v", id.Audience)
		}
	}
}

func TestSignRequestKeepsBody(t *testing.T) {
	w := newWorld(t)
	s, _ := asymjwt.NewSigner("alice", w.aliceEd.key, asymjwt.WithBodyHash())
	tests := []struct {
		name string
		req  func() *http.Request
	}{
		{"with GetBody", func() *http.Request {
			r, _ := http.NewRequest("POST", "http://x/", strings.NewReader("payload"))
			return r
		}},
		{"without GetBody", func() *http.Request {
			r, _ := http.NewRequest("POST", "http://x/", io.NopCloser(strings.NewReader("payload")))
			return r
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.req()
			if err := s.SignRequest(r); err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(r.Body)
			if string(body) != "payload" {
				t.Fatalf("body after signing %q", body)
			}
			if r.GetBody == nil {
				t.Fatal("no GetBody for redirects")
			}
			again, _ := r.GetBody()
			body, _ = io.ReadAll(again)
			if string(body) != "payload" {
				t.Fatalf("GetBody gives %q", body)
			}
		})
	}
}

// TestTransport drives a real loopback server: fresh tokens per request,
// per re-send of the same request, and per redirect hop (with the body
// re-sent and re-hashed); cross-host redirects go out unsigned.
func TestTransport(t *testing.T) {
	w := newWorld(t)
	v := newTestVerifier(t, w.keys, asymjwt.RequireRequestBinding(), asymjwt.RequireBodyHash())
	var (
		mu    sync.Mutex
		seen  []string
		other *httptest.Server
	)
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		id, _ := asymjwt.FromContext(r.Context())
		mu.Lock()
		seen = append(seen, id.Nonce)
		mu.Unlock()
		io.Copy(w, r.Body)
	})
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/echo", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/peek", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/chain", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/hop", http.StatusTemporaryRedirect)
	})
	srv := httptest.NewServer(v.Middleware(mux))
	defer srv.Close()
	var leaked []string
	other = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a := r.Header.Get("Authorization"); a != "" {
			leaked = append(leaked, r.URL.Path+": "+a)
		}
		if r.URL.Path == "/hop" { // a second hop on the foreign host
			http.Redirect(w, r, "/admin", http.StatusTemporaryRedirect)
		}
	}))
	defer other.Close()

	s, _ := asymjwt.NewSigner("alice", w.aliceEd.key, asymjwt.WithRequestBinding(), asymjwt.WithBodyHash())
	client := &http.Client{Transport: s.Transport(nil)}

	post := func(path, body string) *http.Response {
		t.Helper()
		resp, err := client.Post(srv.URL+path, "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for _, path := range []string{"/echo", "/moved"} {
		resp := post(path, "hello")
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(got) != "hello" {
			t.Fatalf("%s: %d %q", path, resp.StatusCode, got)
		}
	}
	// The same request sent twice: each send signs anew.
	req, _ := http.NewRequest("POST", srv.URL+"/echo", bytes.NewReader([]byte("again")))
	for i := range 2 {
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("send %d: %d", i, resp.StatusCode)
		}
		req.Body, _ = req.GetBody()
	}
	if req.Header.Get("Authorization") != "" {
		t.Fatal("Transport modified the caller's request")
	}
	if len(seen) != 4 || seen[0] == seen[1] || seen[2] == seen[3] {
		t.Fatalf("nonces %v", seen)
	}
	for _, path := range []string{"/elsewhere", "/chain"} {
		resp := post(path, "secret")
		resp.Body.Close()
	}
	if len(leaked) != 0 {
		t.Fatalf("tokens sent to another host on redirect: %q", leaked)
	}
}

// TestTransportRetryGetsFreshToken: a server that reads a request on a
// reused connection and closes it without answering makes http.Transport
// resend an idempotent request on its own. Each attempt must carry its
// own token (the server has recorded the first), and the call succeeds.
func TestTransportRetryGetsFreshToken(t *testing.T) {
	w := newWorld(t)
	v := newTestVerifier(t, w.keys)
	var (
		mu     sync.Mutex
		tokens []string
		calls  int
	)
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		tokens = append(tokens, r.Header.Get("Authorization"))
		calls++
		drop := calls == 2
		mu.Unlock()
		if drop { // the second request: read, then the connection closes unanswered
			conn, _, err := http.NewResponseController(rw).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		if _, err := v.VerifyRequest(r); err != nil {
			http.Error(rw, err.Error(), http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	s, _ := asymjwt.NewSigner("alice", w.aliceEd.key)
	client := &http.Client{Transport: s.Transport(&http.Transport{})}
	for i := range 2 {
		resp, err := client.Get(srv.URL + "/x")
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("call %d: status %d, want 200", i, resp.StatusCode)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(tokens) != 3 {
		t.Fatalf("server saw %d attempts, want 3 (one, then one dropped and its retry)", len(tokens))
	}
	if tokens[1] == tokens[2] {
		t.Error("the retry of a dropped request carried the token of the attempt the server had read")
	}
}

// SignRequest replaces every Authorization value, under any spelling of
// the key: a header map built in process can hold "authorization" beside
// the canonical key, and only the new token may go out.
func TestSignRequestReplacesEverySpelling(t *testing.T) {
	w := newWorld(t)
	s, err := asymjwt.NewSigner("alice", w.aliceEd.key)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "http://127.0.0.1/x", nil)
	req.Header.Set("Authorization", "Bearer client-secret")
	req.Header["authorization"] = []string{"Bearer other-secret"}
	if err := s.SignRequest(req); err != nil {
		t.Fatal(err)
	}
	got := asymjwt.AuthorizationValues(req.Header)
	if len(got) != 1 || !strings.HasPrefix(got[0], "JWT ") {
		t.Fatalf("Authorization values %q, want the token alone", got)
	}
}
