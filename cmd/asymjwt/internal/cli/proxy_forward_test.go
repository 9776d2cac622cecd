package cli_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

// A query that does not parse cleanly (";" separators, bad escapes, too
// many parameters) is one that net/http and the upstream may read
// differently from the verifier: refused with 400 before authentication,
// so it never reaches the upstream and spends no token.
func TestProxyMalformedQuery(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	dir := keysDir(t)
	p := startProxy(t, "--upstream", up.URL, "--keys", dir, "--aud", "orders", "--strict")
	billing := signer(t, "billing", "keys/ed25519.pem", asymjwt.WithAudience("orders"), asymjwt.WithBodyHash())
	for _, tt := range []struct{ name, query string }{
		{"semicolon", "filter=a;b"},
		{"semicolon in a key", "z=1&a;b=2"},
		{"bad escape", "a=%zz"},
		{"cut escape", "a=%4"},
		{"lone percent", "a=%"},
		{"too many parameters", strings.Repeat("a&", 10000) + "a"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := len(up.requests())
			if status, _, _ := send(t, http.DefaultClient, "GET", p.url("/x?"+tt.query), "", "", nil); status != 400 {
				t.Errorf("without credentials: %d, want 400", status)
			}
			// A token bound to the query, where the signer can make one.
			if tok, err := billing.TokenFor("GET", "/x", tt.query, nil); err == nil {
				if status, _, _ := send(t, http.DefaultClient, "GET", p.url("/x?"+tt.query), "", billing.AuthorizationValue(tok), nil); status != 400 {
					t.Errorf("with a bound token: %d, want 400", status)
				}
			}
			if n := len(up.requests()) - before; n != 0 {
				t.Errorf("%d requests reached the upstream", n)
			}
		})
	}
	// The same token bound to the same path works without the bad query:
	// the 400 came before authentication and did not spend it.
	auth := boundAuth(t, billing, "GET", "/x", "", "")
	if status, _, _ := send(t, http.DefaultClient, "GET", p.url("/x?a=%zz"), "", auth, nil); status != 400 {
		t.Fatalf("bad escape: %d", status)
	}
	if status, _, _ := send(t, http.DefaultClient, "GET", p.url("/x"), "", auth, nil); status != 200 {
		t.Errorf("token after a 400: %d, want 200", status)
	}
	if !strings.Contains(p.logs.String(), "asymjwt proxy: malformed query") {
		t.Errorf("the refusal is not logged:\n%s", p.logs)
	}
}

// The upstream gets the query exactly as sent (and verified), after the
// upstream URL's own.
func TestProxyForwardsQueryVerbatim(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	p := startProxy(t, "--upstream", up.URL+"/base?tenant=1", "--keys", keysDir(t), "--aud", "orders", "--strict")
	billing := signer(t, "billing", "keys/ed25519.pem", asymjwt.WithAudience("orders"), asymjwt.WithBodyHash())
	for _, q := range []string{"", "b=2&a=1", "a=%7e&b=%7E", "a+b=c%20d", "a&&b=", "x=%2F&x=1"} {
		auth := boundAuth(t, billing, "GET", "/x", q, "")
		target := "/x"
		if q != "" {
			target += "?" + q
		}
		if status, _, _ := send(t, http.DefaultClient, "GET", p.url(target), "", auth, nil); status != 200 {
			t.Fatalf("%q: status %d", q, status)
		}
		want := "tenant=1"
		if q != "" {
			want += "&" + q
		}
		reqs := up.requests()
		if got := reqs[len(reqs)-1].Query; got != want {
			t.Errorf("sent %q: upstream got %q, want %q", q, got, want)
		}
	}
}

// With GODEBUG=urlmaxqueryparams set, httputil.ReverseProxy re-encodes
// (sorts, unescapes) every query; the proxy must forward it as verified
// all the same. Not parallel: t.Setenv changes the whole process.
func TestProxyForwardsQueryVerbatimUnderGODEBUG(t *testing.T) {
	t.Setenv("GODEBUG", "urlmaxqueryparams=1000")
	up := newUpstream(t)
	p := startProxy(t, "--upstream", up.URL, "--keys", keysDir(t), "--aud", "orders", "--strict")
	billing := signer(t, "billing", "keys/ed25519.pem", asymjwt.WithAudience("orders"), asymjwt.WithBodyHash())
	q := "b=2&a=%7e"
	if status, _, _ := send(t, http.DefaultClient, "GET", p.url("/x?"+q), "", boundAuth(t, billing, "GET", "/x", q, ""), nil); status != 200 {
		t.Fatalf("status %d", status)
	}
	reqs := up.requests()
	if got := reqs[len(reqs)-1].Query; got != q {
		t.Errorf("sent %q, upstream got %q", q, got)
	}
}

// Request trailers are headers the client controls: none reaches the
// upstream, so neither a spoofed user header nor a token can arrive there
// that way.
func TestProxyDropsRequestTrailers(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var gotTrailer, gotHeader http.Header
	var gotBody string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		gotTrailer, gotHeader, gotBody = r.Trailer.Clone(), r.Header.Clone(), string(body)
		mu.Unlock()
	}))
	t.Cleanup(up.Close)
	p := startProxy(t, "--upstream", up.URL, "--keys", keysDir(t))
	for _, tt := range []struct {
		name string
		opts []asymjwt.SignerOption
	}{
		{"body hashed (read before forwarding)", []asymjwt.SignerOption{asymjwt.WithBodyHash()}},
		{"body streamed", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			billing := signer(t, "billing", "keys/ed25519.pem", tt.opts...)
			tok, err := billing.TokenFor("POST", "/x", "", []byte("hello"))
			if err != nil {
				t.Fatal(err)
			}
			conn, err := net.Dial("tcp", p.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "POST /x HTTP/1.1\r\nHost: a\r\nAuthorization: %s\r\nTransfer-Encoding: chunked\r\n"+
				"Trailer: X-Authenticated-User, Authorization, X-Other\r\n\r\n"+
				"5\r\nhello\r\n0\r\nX-Authenticated-User: root\r\nAuthorization: JWT stolen\r\nX-Other: 1\r\n\r\n",
				billing.AuthorizationValue(tok))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			mu.Lock()
			defer mu.Unlock()
			if gotBody != "hello" || gotHeader.Get("X-Authenticated-User") != "billing" {
				t.Errorf("upstream got body %q, user %q", gotBody, gotHeader.Get("X-Authenticated-User"))
			}
			if len(gotTrailer) != 0 || gotHeader.Get("Trailer") != "" {
				t.Errorf("upstream got trailers %v (Trailer header %q)", gotTrailer, gotHeader.Get("Trailer"))
			}
		})
	}
}

// Headers some frameworks honour to change the method or the URL of a
// request would let an upstream run a token bound to one request as
// another: they are removed, in every spelling a gateway folds together.
func TestProxyStripsOverrideHeaders(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	p := startProxy(t, "--upstream", up.URL, "--keys", keysDir(t), "--aud", "orders", "--strict")
	billing := signer(t, "billing", "keys/ed25519.pem", asymjwt.WithAudience("orders"), asymjwt.WithBodyHash())
	override := http.Header{
		"X-Http-Method-Override": {"DELETE"},
		"X_http_method_override": {"DELETE"},
		"X-Http-Method":          {"DELETE"},
		"X-Method-Override":      {"DELETE"},
		"X-Original-Url":         {"/admin/users?all=1"},
		"X_original_url":         {"/admin"},
		"X-Rewrite-Url":          {"/admin"},
		"X-Kept":                 {"yes"},
	}
	if status, _, _ := send(t, http.DefaultClient, "GET", p.url("/v1/orders"), "", boundAuth(t, billing, "GET", "/v1/orders", "", ""), override); status != 200 {
		t.Fatalf("status %d", status)
	}
	reqs := up.requests()
	got := reqs[len(reqs)-1].Header
	for name := range got {
		switch strings.ToLower(strings.ReplaceAll(name, "_", "-")) {
		case "x-http-method-override", "x-http-method", "x-method-override", "x-original-url", "x-rewrite-url":
			t.Errorf("upstream got %s: %q", name, got[name])
		}
	}
	if got.Get("X-Kept") != "yes" {
		t.Errorf("other headers lost: %v", got)
	}
}

// A user whose name differs from another's by surrounding whitespace, or
// holds a ",", would read as someone else once the upstream parses the
// header: the proxy refuses to forward it.
func TestProxyUsernameNotForwardable(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	dir := t.TempDir()
	pub := readFile(t, fixture("keys/ed25519.pem.pub"))
	// Written directly: "keys add" may refuse these names.
	for _, name := range []string{" admin ", "admin,root"} {
		if err := os.WriteFile(filepath.Join(dir, name), pub, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p := startProxy(t, "--upstream", up.URL, "--keys", dir)
	for _, name := range []string{" admin ", "admin,root"} {
		s := signer(t, name, "keys/ed25519.pem")
		tok, _ := s.Token()
		if status, _, _ := send(t, http.DefaultClient, "GET", p.url("/x"), "", s.AuthorizationValue(tok), nil); status != 401 {
			t.Errorf("user %q: status %d, want 401", name, status)
		}
	}
	if n := len(up.requests()); n != 0 {
		t.Errorf("%d requests reached the upstream", n)
	}
}
