package cli_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/asymjwt/asymjwt/cmd/asymjwt/internal/cli"
	asymjwt "github.com/asymjwt/asymjwt/core"
	"github.com/asymjwt/asymjwt/redis/redistest"
)

// startServer runs "asymjwt COMMAND --listen 127.0.0.1:0 --log-format
// json ARGS..." in the test process and returns once it listens; the
// test's cleanup stops it and checks that it exited 0.
func startServer(t testing.TB, command string, args ...string) *runningProxy {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &runningProxy{logs: &syncBuffer{}, stop: cancel, done: make(chan int, 1)}
	args = append([]string{command, "--listen", "127.0.0.1:0", "--log-format", "json"}, args...)
	go func() { p.done <- cli.Run(ctx, args, strings.NewReader(""), io.Discard, p.logs) }()
	deadline := time.After(10 * time.Second)
	for p.addr == "" {
		for _, l := range logLines(t, p.logs) {
			if l["msg"] == "asymjwt "+command+": listening" {
				p.addr = l["addr"].(string)
			}
		}
		select {
		case code := <-p.done:
			cancel()
			t.Fatalf("%s exited %d before listening:\n%s", command, code, p.logs)
		case <-deadline:
			cancel()
			t.Fatalf("%s did not start:\n%s", command, p.logs)
		case <-time.After(5 * time.Millisecond):
		}
	}
	t.Cleanup(func() {
		if code := p.shutdown(t); code != 0 {
			t.Errorf("%s exited %d:\n%s", command, code, p.logs)
		}
	})
	return p
}

// subrequest is what a gateway sends forward-auth about a client's request.
func subrequest(t testing.TB, fa *runningProxy, authorization string, header http.Header) (int, http.Header) {
	t.Helper()
	status, body, hdr := send(t, http.DefaultClient, "GET", fa.url("/verify"), "", authorization, header)
	if body != "" && status == 200 {
		t.Errorf("200 with a body %q", body)
	}
	return status, hdr
}

func original(method, uri string) http.Header {
	return http.Header{"X-Original-Method": {method}, "X-Original-Uri": {uri}}
}

func forwarded(method, uri string) http.Header {
	return http.Header{"X-Forwarded-Method": {method}, "X-Forwarded-Uri": {uri}}
}

func merge(hs ...http.Header) http.Header {
	out := http.Header{}
	for _, h := range hs {
		for k, v := range h {
			out[k] = append(out[k], v...)
		}
	}
	return out
}

func TestForwardAuth(t *testing.T) {
	t.Parallel()
	dir := keysDir(t)
	fa := startServer(t, "forward-auth", "--keys", dir, "--aud", "orders")
	strict := startServer(t, "forward-auth", "--keys", dir, "--aud", "orders", "--strict", "--user-header", "X-Remote-User")
	bound := signer(t, "billing", "keys/ed25519.pem", asymjwt.WithAudience("orders"))
	bodyBound := signer(t, "billing", "keys/ed25519.pem", asymjwt.WithAudience("orders"), asymjwt.WithBodyHash())
	plain := signer(t, "billing", "keys/ed25519.pem")
	qsh := func(method, path, query string) string { return boundAuth(t, bound, method, path, query, "") }
	plainAuth := func() string {
		tok, _ := plain.Token()
		return plain.AuthorizationValue(tok)
	}
	const query = "x=1&x=2&y=%20a%2Fb&z=caf%C3%A9&empty="

	t.Run("accepted", func(t *testing.T) {
		for _, tt := range []struct {
			name, auth string
			header     http.Header
		}{
			{"nginx headers", qsh("GET", "/v1/orders", query), original("GET", "/v1/orders?"+query)},
			{"Traefik and Caddy headers", qsh("POST", "/v1/orders", ""), forwarded("POST", "/v1/orders")},
			{"both pairs agreeing", qsh("DELETE", "/v1/a%2Fb", ""), merge(original("DELETE", "/v1/a%2Fb"), forwarded("DELETE", "/v1/a%2Fb"))},
			{"method in lower case", qsh("GET", "/x", ""), original("get", "/x")},
			{"unbound token, no request headers", plainAuth(), nil},
			{"unbound token with request headers", plainAuth(), original("GET", "/anything")},
		} {
			status, hdr := subrequest(t, fa, tt.auth, tt.header)
			if status != 200 || hdr.Values("X-Authenticated-User")[0] != "billing" || hdr.Get("Cache-Control") != "no-store" {
				t.Errorf("%s: %d %v", tt.name, status, hdr)
			}
		}
		status, hdr := subrequest(t, strict, qsh("GET", "/x", "a=1"), forwarded("GET", "/x?a=1"))
		if status != 200 || hdr.Get("X-Remote-User") != "billing" {
			t.Errorf("strict, --user-header: %d %v", status, hdr)
		}
	})

	t.Run("refused", func(t *testing.T) {
		for _, tt := range []struct {
			name string
			fa   *runningProxy
			auth string
			hdr  http.Header
		}{
			{"no credentials", fa, "", original("GET", "/x")},
			{"garbage", fa, "JWT garbage", original("GET", "/x")},
			{"tampered path", fa, qsh("GET", "/v1/orders/1", ""), original("GET", "/v1/orders/2")},
			{"tampered query", fa, qsh("GET", "/x", "a=1"), original("GET", "/x?a=2")},
			{"tampered method", fa, qsh("GET", "/x", ""), original("DELETE", "/x")},
			{"bound token, no request headers", fa, qsh("GET", "/x", ""), nil},
			{"pairs disagreeing (client-sent X-Forwarded-*)", fa, qsh("GET", "/public", ""), merge(original("GET", "/admin"), forwarded("GET", "/public"))},
			{"method without URI", fa, qsh("GET", "/x", ""), http.Header{"X-Original-Method": {"GET"}}},
			{"URI repeated", fa, qsh("GET", "/x", ""), http.Header{"X-Forwarded-Method": {"GET"}, "X-Forwarded-Uri": {"/x", "/y"}}},
			{"absolute URI", fa, qsh("GET", "/x", ""), original("GET", "http://evil/x")},
			{"malformed query", fa, qsh("GET", "/x", ""), original("GET", "/x?a=%zz")},
			{"body-bound token (bh)", fa, boundAuth(t, bodyBound, "GET", "/x", "", ""), original("GET", "/x")},
			{"strict: unbound token", strict, plainAuth(), original("GET", "/x")},
			{"strict: no request headers", strict, qsh("GET", "/x", ""), nil},
		} {
			status, hdr := subrequest(t, tt.fa, tt.auth, tt.hdr)
			if status != 401 || hdr.Get("WWW-Authenticate") != `JWT realm="asymjwt", error="invalid_token"` || hdr.Get("X-Authenticated-User") != "" {
				t.Errorf("%s: %d %v", tt.name, status, hdr)
			}
		}
		for _, want := range []string{"run asymjwt proxy in front of this service", "the gateway sent neither X-Original-Method", "disagree"} {
			if !strings.Contains(fa.logs.String(), want) {
				t.Errorf("no log line says %q:\n%s", want, fa.logs)
			}
		}
	})

	t.Run("replayed", func(t *testing.T) {
		auth := qsh("GET", "/x", "")
		if status, _ := subrequest(t, fa, auth, original("GET", "/x")); status != 200 {
			t.Fatalf("first use: %d", status)
		}
		if status, _ := subrequest(t, fa, auth, original("GET", "/x")); status != 401 {
			t.Fatalf("replay: %d", status)
		}
	})

	t.Run("a refused subrequest does not spend the token", func(t *testing.T) {
		auth := qsh("GET", "/x", "")
		subrequest(t, fa, auth, merge(original("GET", "/x"), forwarded("GET", "/y")))
		if status, _ := subrequest(t, fa, auth, original("GET", "/x")); status != 200 {
			t.Fatalf("%d", status)
		}
	})
}

// Usage errors: what forward-auth cannot run without.
func TestForwardAuthUsage(t *testing.T) {
	t.Parallel()
	dir := keysDir(t)
	wantFail(t, run(t, "", "forward-auth", "--listen", "127.0.0.1:0"), 2, "--keys (or --keys-db) are required")
	wantFail(t, run(t, "", "forward-auth", "--listen", "127.0.0.1:0", "--keys", dir, "--strict"), 2, "--strict needs --aud")
	wantFail(t, run(t, "", "forward-auth", "--listen", "127.0.0.1:0", "--keys", dir, "--user-header", "a b"), 2, "not a header name")
}

// Redis shares the replay store between instances; a store that is down
// gives 503, never a pass.
func TestForwardAuthRedis(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	dir := keysDir(t)
	a := startServer(t, "forward-auth", "--keys", dir, "--redis", rs.URL())
	b := startServer(t, "forward-auth", "--keys", dir, "--redis", rs.URL())
	billing := signer(t, "billing", "keys/ed25519.pem")
	auth := boundAuth(t, billing, "GET", "/x", "", "")
	if status, _ := subrequest(t, a, auth, original("GET", "/x")); status != 200 {
		t.Fatalf("first use at a: %d", status)
	}
	if status, _ := subrequest(t, b, auth, original("GET", "/x")); status != 401 {
		t.Fatalf("replay at b: %d", status)
	}
	rs.Stop()
	if status, _ := subrequest(t, a, boundAuth(t, billing, "GET", "/x", "", ""), original("GET", "/x")); status != 503 {
		t.Fatalf("redis down: %d, want 503", status)
	}
}
