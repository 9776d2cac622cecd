package cli_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// tokenParts decodes a token's header and claims, unverified.
func tokenParts(t testing.TB, authorization string) (header, claims map[string]any) {
	t.Helper()
	tok, ok := strings.CutPrefix(authorization, "JWT ")
	parts := strings.Split(tok, ".")
	if !ok || len(parts) != 3 {
		t.Fatalf("not a JWT Authorization: %q", authorization)
	}
	for i, dst := range []*map[string]any{&header, &claims} {
		data, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil || json.Unmarshal(data, dst) != nil {
			t.Fatalf("part %d of %q does not decode", i, tok)
		}
	}
	return header, claims
}

// rawUpstream records every request's Authorization header, and answers
// through handle when set.
type rawUpstream struct {
	*httptest.Server
	mu     sync.Mutex
	auths  []string
	handle func(w http.ResponseWriter, r *http.Request) bool // true: answered
}

func newRawUpstream(t testing.TB, tls bool) *rawUpstream {
	u := &rawUpstream{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		u.mu.Lock()
		u.auths = append(u.auths, r.Header.Get("Authorization"))
		handle := u.handle
		u.mu.Unlock()
		if handle != nil && handle(w, r) {
			return
		}
		io.WriteString(w, "ok\n")
	})
	if tls {
		u.Server = httptest.NewTLSServer(h)
	} else {
		u.Server = httptest.NewServer(h)
	}
	t.Cleanup(u.Close)
	return u
}

func (u *rawUpstream) seen() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.auths...)
}

func (u *rawUpstream) setHandler(h func(w http.ResponseWriter, r *http.Request) bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.handle = h
}

var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func TestSignProxy(t *testing.T) {
	t.Parallel()
	up := newRawUpstream(t, false)
	dir := t.TempDir()
	key := writeFile(t, dir, "client.pem", readFile(t, fixture("keys/ed25519.pem")), 0o600)
	sp := startServer(t, "sign-proxy", "--upstream", up.URL+"/base", "--key", key, "--user", "billing", "--aud", "orders", "--max-body", "1000")
	edKid := mustRun(t, "", "fingerprint", fixture("keys/ed25519.pem"))

	t.Run("fresh token per request; the client's Authorization replaced", func(t *testing.T) {
		before := len(up.seen())
		for range 2 {
			if status, _, _ := send(t, http.DefaultClient, "POST", sp.url("/v1/orders?a=1"), "{}", "Bearer client-secret", nil); status != 200 {
				t.Fatalf("status %d", status)
			}
		}
		got := up.seen()[before:]
		if len(got) != 2 || got[0] == got[1] {
			t.Fatalf("upstream got %q", got)
		}
		for _, a := range got {
			h, c := tokenParts(t, a)
			if c["username"] != "billing" || c["aud"] != "orders" || c["qsh"] == nil || c["bh"] == nil || h["kid"] != strings.TrimSpace(edKid) {
				t.Errorf("token %v %v", h, c)
			}
		}
	})

	t.Run("a body over --max-body gets 413 and is not sent", func(t *testing.T) {
		before := len(up.seen())
		if status, _, _ := send(t, http.DefaultClient, "POST", sp.url("/x"), strings.Repeat("a", 1001), "", nil); status != 413 {
			t.Errorf("status %d", status)
		}
		if n := len(up.seen()) - before; n != 0 {
			t.Errorf("%d requests reached the upstream", n)
		}
	})

	t.Run("redirects passed back, never followed", func(t *testing.T) {
		for _, tt := range []struct{ location, want string }{
			{up.URL + "/base/next?x=1", "/next?x=1"},
			{"/base/v2/orders", "/v2/orders"},
			{"http://elsewhere.example/x", "http://elsewhere.example/x"},
			{up.URL + "/other", up.URL + "/other"},
			{"next", "next"},
		} {
			up.setHandler(func(w http.ResponseWriter, r *http.Request) bool {
				w.Header().Set("Location", tt.location)
				w.WriteHeader(http.StatusFound)
				return true
			})
			before := len(up.seen())
			resp, err := noRedirects.Get(sp.url("/start"))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 302 || resp.Header.Get("Location") != tt.want {
				t.Errorf("%s: %d Location %q, want %q", tt.location, resp.StatusCode, resp.Header.Get("Location"), tt.want)
			}
			if n := len(up.seen()) - before; n != 1 {
				t.Errorf("%s: the upstream got %d requests", tt.location, n)
			}
		}
		up.setHandler(nil)
	})

	t.Run("a failed GET is retried once with a new token", func(t *testing.T) {
		var calls int
		up.setHandler(func(w http.ResponseWriter, r *http.Request) bool {
			calls++
			if r.ContentLength != 0 || len(r.TransferEncoding) != 0 {
				t.Errorf("a GET with a body: %d %q", r.ContentLength, r.TransferEncoding)
			}
			if calls == 1 {
				conn, _, _ := http.NewResponseController(w).Hijack()
				conn.Close() // no response at all
				return true
			}
			return false
		})
		before := len(up.seen())
		if status, _, _ := send(t, http.DefaultClient, "GET", sp.url("/flaky"), "", "", nil); status != 200 {
			t.Fatalf("status %d", status)
		}
		got := up.seen()[before:]
		if len(got) != 2 || got[0] == got[1] || got[1] == "" {
			t.Errorf("attempts carried %q", got)
		}
		// The operator sees the retry and why (it was logged before the
		// rule moved to core's Signer.Transport, then no more).
		if !strings.Contains(sp.logs.String(), "asymjwt sign-proxy: retrying with a new token") {
			t.Errorf("the retry is not logged:\n%s", sp.logs)
		}
		up.setHandler(nil)
	})

	t.Run("protocol upgrades refused", func(t *testing.T) {
		before := len(up.seen())
		status, _, _ := send(t, http.DefaultClient, "GET", sp.url("/x"), "", "", http.Header{"Connection": {"Upgrade"}, "Upgrade": {"h2c"}})
		if status != 400 || len(up.seen()) != before {
			t.Errorf("status %d", status)
		}
	})

	t.Run("the key is reloaded when it changes", func(t *testing.T) {
		// A file that does not load: logged, the last good key kept.
		bad := writeFile(t, dir, "bad.pem", []byte("not a key"), 0o600)
		if err := os.Rename(bad, key); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1100 * time.Millisecond)
		send(t, http.DefaultClient, "GET", sp.url("/x"), "", "", nil)
		if h, _ := tokenParts(t, up.seen()[len(up.seen())-1]); h["kid"] != strings.TrimSpace(edKid) {
			t.Errorf("kid %v after a bad key file", h["kid"])
		}
		if !strings.Contains(sp.logs.String(), "does not load") {
			t.Errorf("the bad key file is not logged:\n%s", sp.logs)
		}
		next := writeFile(t, dir, "next.pem", readFile(t, fixture("keys/p256.pem")), 0o600)
		if err := os.Rename(next, key); err != nil {
			t.Fatal(err)
		}
		want := strings.TrimSpace(mustRun(t, "", "fingerprint", fixture("keys/p256.pem")))
		deadline := time.Now().Add(5 * time.Second)
		for {
			send(t, http.DefaultClient, "GET", sp.url("/x"), "", "", nil)
			h, _ := tokenParts(t, up.seen()[len(up.seen())-1])
			if h["kid"] == want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("still signing with kid %v", h["kid"])
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
}

// The upstream's certificate is verified: against --cacert, or refused.
// An encrypted key opens with --passphrase-file.
func TestSignProxyTLSAndPassphrase(t *testing.T) {
	t.Parallel()
	up := newRawUpstream(t, true)
	ca := writeFile(t, t.TempDir(), "ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: up.Certificate().Raw}), 0o644)
	untrusting := startServer(t, "sign-proxy", "--upstream", up.URL, "--key", fixture("keys/ed25519.pem"), "--user", "billing")
	if status, _, _ := send(t, http.DefaultClient, "GET", untrusting.url("/x"), "", "", nil); status != 502 || len(up.seen()) != 0 {
		t.Errorf("unverified upstream: %d, upstream got %d requests", status, len(up.seen()))
	}
	trusting := startServer(t, "sign-proxy", "--upstream", up.URL, "--key", fixture("keys/p384-enc.pem"), "--passphrase-file", fixture("keys/passphrase.txt"),
		"--user", "billing", "--cacert", ca)
	if status, _, _ := send(t, http.DefaultClient, "GET", trusting.url("/x"), "", "", nil); status != 200 {
		t.Errorf("with --cacert: %d", status)
	}
	if h, _ := tokenParts(t, up.seen()[0]); h["alg"] != "ES384" {
		t.Errorf("header %v", h)
	}
}

func TestSignProxyUsage(t *testing.T) {
	t.Parallel()
	base := []string{"sign-proxy", "--upstream", "http://127.0.0.1:1", "--key", fixture("keys/ed25519.pem"), "--user", "billing"}
	for _, listen := range []string{":0", "0.0.0.0:0", "[::]:0", "192.0.2.1:80", "example.com:80"} {
		wantFail(t, run(t, "", append(base, "--listen", listen)...), 2, "not a loopback address")
	}
	wantFail(t, run(t, "", "sign-proxy", "--user", "billing"), 2, "are required")
	wantFail(t, run(t, "", append(base, "--bind", "all")...), 2, "--bind must be")
	wantFail(t, run(t, "", "sign-proxy", "--upstream", "ftp://x", "--key", fixture("keys/ed25519.pem"), "--user", "b", "--listen", "127.0.0.1:0"), 2, "--upstream must be")
	wantFail(t, run(t, "", "sign-proxy", "--upstream", "http://x", "--key", fixture("keys/p384-enc.pem"), "--user", "b", "--listen", "127.0.0.1:0"), 1, "passphrase")
}

// With --bind request, bodies are streamed: the upstream reads the start
// of the body before the client has sent the rest, through sign-proxy
// and asymjwt proxy (which verifies qsh).
func TestSignProxyStreamsBodies(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	var got struct {
		sync.Mutex
		n   int64
		sum [32]byte
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		br := bufio.NewReader(r.Body)
		if _, err := br.Peek(1); err != nil {
			t.Error(err)
			return
		}
		close(started)
		h := sha256.New()
		n, _ := io.Copy(h, br)
		got.Lock()
		got.n = n
		copy(got.sum[:], h.Sum(nil))
		got.Unlock()
	}))
	t.Cleanup(up.Close)
	p := startProxy(t, "--upstream", up.URL, "--keys", keysDir(t), "--aud", "orders")
	sp := startServer(t, "sign-proxy", "--upstream", p.url(""), "--key", fixture("keys/ed25519.pem"), "--user", "billing", "--aud", "orders", "--bind", "request")

	chunk := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	pr, pw := io.Pipe()
	go func() {
		pw.Write(chunk)
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			pw.CloseWithError(fmt.Errorf("the upstream saw nothing of the body before its end: not streamed"))
			return
		}
		for range 7 {
			pw.Write(chunk)
		}
		pw.Close()
	}()
	req, _ := http.NewRequest("PUT", sp.url("/upload?part=1"), pr)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	want := sha256.Sum256(bytes.Repeat(chunk, 8))
	got.Lock()
	defer got.Unlock()
	if resp.StatusCode != 200 || got.n != 8<<20 || got.sum != want {
		t.Errorf("status %d, upstream got %d bytes", resp.StatusCode, got.n)
	}
}

// End to end: curl, Python's urllib and Node's fetch → sign-proxy →
// asymjwt proxy --strict → upstream: GET with repeated and encoded query
// parameters, POST with a body, and a large body sent chunked.
func TestSignProxyClients(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	const maxBody = "8388608"
	p := startProxy(t, "--upstream", up.URL, "--keys", keysDir(t), "--aud", "orders", "--strict", "--max-body", maxBody)
	sp := startServer(t, "sign-proxy", "--upstream", p.url(""), "--key", fixture("keys/ed25519.pem"), "--user", "billing", "--aud", "orders", "--max-body", maxBody)

	dir := t.TempDir()
	large := bytes.Repeat([]byte("large body, "), 1<<18) // 3 MiB
	largeFile := writeFile(t, dir, "large.bin", large, 0o644)
	const query = "a=1&a=2&b=%20c%2Fd&e=caf%C3%A9&plus=a+b&empty="
	const body = `{"id":1,"note":"caf\u00e9"}`

	clients := []struct {
		name string
		argv func(base string) []string
	}{
		{"curl", func(base string) []string {
			return []string{"sh", "-c", fmt.Sprintf(`set -e
curl -sSf -H 'Authorization: Bearer client-secret' '%[1]s/v1/orders?%[2]s' >/dev/null
curl -sSf -H 'Content-Type: application/json' --data-binary '%[3]s' '%[1]s/v1/orders' >/dev/null
curl -sSf -H 'Transfer-Encoding: chunked' --data-binary @'%[4]s' '%[1]s/v1/upload' >/dev/null`, base, query, body, largeFile)}
		}},
		{"python3", func(base string) []string {
			return []string{"python3", "-c", fmt.Sprintf(`
import urllib.request
base, query, body, large = %[1]q, %[2]q, %[3]q, %[4]q
def send(req):
    with urllib.request.urlopen(req) as resp:
        assert resp.status == 200, resp.status
        resp.read()
send(urllib.request.Request(base + "/v1/orders?" + query, headers={"Authorization": "Bearer client-secret"}))
send(urllib.request.Request(base + "/v1/orders", data=body.encode(), headers={"Content-Type": "application/json"}))
def chunks():
    with open(large, "rb") as f:
        while True:
            b = f.read(65536)
            if not b:
                return
            yield b
send(urllib.request.Request(base + "/v1/upload", data=chunks(), method="POST"))
`, base, query, body, largeFile)}
		}},
		{"node", func(base string) []string {
			return []string{"node", "-e", fmt.Sprintf(`
const fs = require("fs");
const [base, query, body, large] = [%[1]q, %[2]q, %[3]q, %[4]q];
async function send(url, init) {
  const resp = await fetch(url, init);
  await resp.arrayBuffer();
  if (resp.status !== 200) throw new Error(url + ": " + resp.status);
}
(async () => {
  await send(base + "/v1/orders?" + query, { headers: { Authorization: "Bearer client-secret" } });
  await send(base + "/v1/orders", { method: "POST", body, headers: { "Content-Type": "application/json" } });
  const stream = require("stream").Readable.toWeb(fs.createReadStream(large));
  await send(base + "/v1/upload", { method: "POST", body: stream, duplex: "half" });
})().catch((e) => { console.error(e); process.exit(1); });
`, base, query, body, largeFile)}
		}},
	}
	for _, c := range clients {
		t.Run(c.name, func(t *testing.T) {
			argv := c.argv(sp.url(""))
			if _, err := exec.LookPath(argv[0]); err != nil {
				if os.Getenv("CI") == "true" {
					t.Fatalf("%s is not installed", argv[0])
				}
				t.Skipf("%s is not installed", argv[0])
			}
			before := len(up.requests())
			cmd := exec.Command(argv[0], argv[1:]...)
			cmd.Dir = filepath.Dir(largeFile)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%v\n%s\nsign-proxy:\n%s\nproxy:\n%s", err, out, sp.logs, p.logs)
			}
			got := up.requests()[before:]
			if len(got) != 3 {
				t.Fatalf("upstream got %d requests", len(got))
			}
			for i, want := range []seenRequest{
				{Method: "GET", Path: "/v1/orders", Query: query},
				{Method: "POST", Path: "/v1/orders", Body: body},
				{Method: "POST", Path: "/v1/upload", Body: string(large)},
			} {
				g := got[i]
				if g.Method != want.Method || g.Path != want.Path || g.Query != want.Query || g.Body != want.Body {
					t.Errorf("request %d: upstream saw %s %s ? %s (%d bytes of body)", i, g.Method, g.Path, g.Query, len(g.Body))
				}
				if g.Header.Get("X-Authenticated-User") != "billing" {
					t.Errorf("request %d: user %q", i, g.Header.Get("X-Authenticated-User"))
				}
				for name, values := range g.Header {
					if strings.Contains(strings.Join(values, " "), "client-secret") {
						t.Errorf("the client's credential reached the upstream in %s", name)
					}
				}
			}
		})
	}
}

// With --allow-websocket a WebSocket handshake goes through signed, and
// the socket then carries bytes both ways.
func TestSignProxyWebSocket(t *testing.T) {
	t.Parallel()
	up := newRawUpstream(t, false)
	up.setHandler(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Header.Get("Upgrade") != "websocket" {
			return false
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return true
		}
		defer conn.Close()
		io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
		io.Copy(conn, brw)
		return true
	})
	sp := startServer(t, "sign-proxy", "--upstream", up.URL, "--key", fixture("keys/ed25519.pem"), "--user", "billing", "--allow-websocket")
	conn, err := net.Dial("tcp", sp.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(conn, "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("%v %v", resp, err)
	}
	io.WriteString(conn, "frame")
	buf := make([]byte, 5)
	if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "frame" {
		t.Fatalf("echo: %q %v", buf, err)
	}
	if got := up.seen(); len(got) != 1 || !strings.HasPrefix(got[0], "JWT ") {
		t.Errorf("handshake carried %q", got)
	}
}

// Refusals before anything is sent: a query ReverseProxy would rewrite,
// and a chunked body over --max-body.
func TestSignProxyRefusals(t *testing.T) {
	t.Parallel()
	up := newRawUpstream(t, false)
	sp := startServer(t, "sign-proxy", "--upstream", up.URL, "--key", fixture("keys/ed25519.pem"), "--user", "billing", "--max-body", "100")
	for _, q := range []string{"a=1;b=2", "a=%zz"} {
		if status, _, _ := send(t, http.DefaultClient, "GET", sp.url("/x?"+q), "", "", nil); status != 400 {
			t.Errorf("query %q: %d, want 400", q, status)
		}
	}
	req, _ := http.NewRequest("POST", sp.url("/x"), io.MultiReader(strings.NewReader(strings.Repeat("a", 101))))
	req.ContentLength = -1 // chunked: the limit is found while reading
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Errorf("chunked body over the limit: %d", resp.StatusCode)
	}
	if n := len(up.seen()); n != 0 {
		t.Errorf("%d requests reached the upstream", n)
	}
}
