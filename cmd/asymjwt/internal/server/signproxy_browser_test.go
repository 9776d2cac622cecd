package server_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/asymjwt/asymjwt/cmd/asymjwt/internal/server"
	asymjwt "github.com/asymjwt/asymjwt/core"
)

// A web page in a browser on the machine reaches the loopback sign-proxy
// too: requests that carry browser headers, or a Host that does not name
// loopback (DNS rebinding), are refused and never signed.
func TestSignProxyRefusesBrowsers(t *testing.T) {
	var reached atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		w.Write([]byte("ok"))
	}))
	defer up.Close()
	upstream, err := url.Parse(up.URL)
	if err != nil {
		t.Fatal(err)
	}
	key, err := asymjwt.GenerateKey(asymjwt.KindEd25519)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := asymjwt.NewSigner("billing", key, asymjwt.WithRequestBinding())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		host    string
		header  http.Header
		anyHost bool
		want    int
	}{
		{"local client", "127.0.0.1:8080", nil, false, http.StatusOK},
		{"localhost", "localhost:8080", nil, false, http.StatusOK},
		{"IPv6 loopback", "[::1]:8080", nil, false, http.StatusOK},
		{"Origin", "127.0.0.1:8080", http.Header{"Origin": {"https://evil.example"}}, false, http.StatusForbidden},
		{"Origin, any host", "127.0.0.1:8080", http.Header{"Origin": {"null"}}, true, http.StatusForbidden},
		{"Sec-Fetch-Site", "127.0.0.1:8080", http.Header{"Sec-Fetch-Site": {"cross-site"}}, false, http.StatusForbidden},
		{"DNS rebinding", "rebind.evil.example:8080", nil, false, http.StatusForbidden},
		{"non-loopback Host, any host", "proxy.internal:8080", nil, true, http.StatusOK},
		{"empty host", ":8080", nil, false, http.StatusForbidden},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := server.NewSignProxy(server.SignProxyConfig{
				Signer: func() *asymjwt.Signer { return signer }, Upstream: upstream, MaxBody: 1 << 20,
				Logger: slog.New(slog.DiscardHandler), AnyHost: c.anyHost,
			})
			before := reached.Load()
			req := httptest.NewRequest(http.MethodPost, "http://"+c.host+"/v1/orders", nil)
			req.Host = c.host
			for k, vs := range c.header {
				req.Header[k] = vs
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != c.want {
				t.Fatalf("status %d, want %d", rec.Code, c.want)
			}
			if got := reached.Load() - before; (got == 1) != (c.want == http.StatusOK) {
				t.Fatalf("upstream reached %d times", got)
			}
		})
	}
}

// The client's credentials never reach the upstream, whatever the
// spelling of their header key: a header map built in process can hold
// "authorization" beside the canonical key, and only the sign-proxy's
// token may go out.
func TestSignProxyDropsEverySpellingOfAuthorization(t *testing.T) {
	var seen atomic.Value
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(asymjwt.AuthorizationValues(r.Header))
		w.Write([]byte("ok"))
	}))
	defer up.Close()
	upstream, err := url.Parse(up.URL)
	if err != nil {
		t.Fatal(err)
	}
	key, err := asymjwt.GenerateKey(asymjwt.KindEd25519)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := asymjwt.NewSigner("billing", key, asymjwt.WithRequestBinding())
	if err != nil {
		t.Fatal(err)
	}
	h := server.NewSignProxy(server.SignProxyConfig{
		Signer: func() *asymjwt.Signer { return signer }, Upstream: upstream,
		MaxBody: 1 << 20, Logger: slog.New(slog.DiscardHandler),
	})
	req := httptest.NewRequest("GET", "/v1/orders", nil)
	req.Host = "127.0.0.1"
	req.Header.Set("Authorization", "Bearer client-secret")
	req.Header["authorization"] = []string{"Bearer other-secret"}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	got, _ := seen.Load().([]string)
	if len(got) != 1 || got[0] == "Bearer client-secret" || got[0] == "Bearer other-secret" {
		t.Fatalf("upstream saw Authorization %q, want only the sign-proxy's token", got)
	}
}
