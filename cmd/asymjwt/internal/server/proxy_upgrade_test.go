package server_test

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asymjwt/asymjwt/cmd/asymjwt/internal/server"
	asymjwt "github.com/asymjwt/asymjwt/core"
)

// laxUpstream switches protocols whenever asked (h2c, websocket, any
// token) and then reads further HTTP/1.1 requests from the raw
// connection, trusting their X-Authenticated-User: the upstream of
// issue 11 §3. It records every identity it was given.
type laxUpstream struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string // "METHOD PATH user" of every request, inside tunnels too
}

func newLaxUpstream(t *testing.T) *laxUpstream {
	u := &laxUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.record(r)
		up := r.Header.Get("Upgrade")
		if up == "" {
			io.WriteString(w, "plain\n")
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: %s\r\n\r\n", up)
		brw.Flush()
		if strings.EqualFold(up, "websocket") {
			// Echo: stands for frames, which nothing verifies.
			io.Copy(conn, brw)
			return
		}
		for {
			inner, err := http.ReadRequest(brw.Reader)
			if err != nil {
				return
			}
			u.record(inner)
			io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\ninner\n")
		}
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *laxUpstream) record(r *http.Request) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.seen = append(u.seen, r.Method+" "+r.URL.Path+" "+r.Header.Get(server.DefaultUserHeader))
}

func (u *laxUpstream) requests() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.seen...)
}

type upgradeFixture struct {
	signer   *asymjwt.Signer
	verifier *asymjwt.Verifier
	target   *url.URL
	logger   *slog.Logger
	up       *laxUpstream
	proxy    string // host:port
}

func newUpgradeFixture(t *testing.T, allowWebSocket bool) *upgradeFixture {
	t.Helper()
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
	s, err := asymjwt.NewSigner("billing", priv)
	if err != nil {
		t.Fatal(err)
	}
	up := newLaxUpstream(t)
	target, _ := url.Parse(up.URL)
	p := httptest.NewServer(server.NewProxy(server.ProxyConfig{Verifier: v, Upstream: target, Logger: logger, AllowWebSocket: allowWebSocket}))
	t.Cleanup(p.Close)
	return &upgradeFixture{signer: s, verifier: v, target: target, logger: logger, up: up, proxy: p.Listener.Addr().String()}
}

// auth is a valid Authorization value bound to method and path.
func (f *upgradeFixture) auth(t *testing.T, method, path string) string {
	tok, err := f.signer.TokenFor(method, path, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	return f.signer.AuthorizationValue(tok)
}

// exchange sends raw (a request head, "\r\n" line ends) on a new
// connection and returns the response and the connection.
func (f *upgradeFixture) exchange(t *testing.T, raw string) (*http.Response, net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", f.proxy)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	return resp, conn, br
}

// Issue 11 §3: through an h2c upgrade the proxy used to copy raw bytes
// both ways, and requests sent inside the tunnel, with their own
// X-Authenticated-User, reached the upstream unverified. Every kind of
// upgrade is now refused before it reaches the upstream, valid token or
// not; only a WebSocket handshake passes, and only when allowed.
func TestProxyRefusesUpgrades(t *testing.T) {
	t.Parallel()
	const h2cSettings = "AAMAAABkAAQCAAAAAAIAAAAA"
	tests := []struct {
		name, method, headers string
		allowWebSocket        bool
		want                  int
	}{
		{"h2c", "GET", "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: " + h2cSettings + "\r\n", false, 400},
		{"h2c with --allow-websocket", "GET", "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: " + h2cSettings + "\r\n", true, 400},
		{"h2c, Connection in capitals among other tokens", "GET", "Connection: keep-alive ,\tUPGRADE\r\nUpgrade: H2C\r\n", false, 400},
		{"h2c over POST", "POST", "Content-Length: 0\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n", false, 400},
		{"Upgrade without Connection", "GET", "Upgrade: h2c\r\n", false, 400},
		{"Connection: upgrade without Upgrade", "GET", "Connection: upgrade\r\n", false, 400},
		{"Connection split over two lines", "GET", "Connection: keep-alive\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n", false, 400},
		{"any other token", "GET", "Connection: Upgrade\r\nUpgrade: TLS/1.2\r\n", false, 400},
		{"websocket not allowed", "GET", "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", false, 400},
		{"websocket listed with h2c", "GET", "Connection: Upgrade\r\nUpgrade: websocket, h2c\r\n", true, 400},
		{"websocket and h2c on two lines", "GET", "Connection: Upgrade\r\nUpgrade: websocket\r\nUpgrade: h2c\r\n", true, 400},
		{"websocket over POST", "POST", "Content-Length: 0\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n", true, 400},
		{"CONNECT", "CONNECT", "", false, 405},
		{"CONNECT with --allow-websocket", "CONNECT", "", true, 405},
	}
	fixtures := map[bool]*upgradeFixture{false: newUpgradeFixture(t, false), true: newUpgradeFixture(t, true)}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := fixtures[tt.allowWebSocket]
			target := "/v1/orders"
			if tt.method == "CONNECT" {
				target = f.up.Listener.Addr().String()
			}
			before := len(f.up.requests())
			resp, conn, br := f.exchange(t, tt.method+" "+target+" HTTP/1.1\r\nHost: orders\r\nAuthorization: "+
				f.auth(t, tt.method, target)+"\r\n"+tt.headers+"\r\n")
			if resp.StatusCode == http.StatusSwitchingProtocols {
				// What an attacker does next: requests inside the tunnel.
				io.WriteString(conn, "GET /admin HTTP/1.1\r\nHost: orders\r\nX-Authenticated-User: admin\r\n\r\n")
				if inner, err := http.ReadResponse(br, nil); err == nil {
					inner.Body.Close()
				}
			} else {
				resp.Body.Close()
			}
			if resp.StatusCode != tt.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.want)
			}
			if got := f.up.requests()[before:]; len(got) != 0 {
				t.Errorf("the upstream got %q", got)
			}
		})
	}
}

// With --allow-websocket, a verified WebSocket handshake switches
// protocols (the frames are then copied unverified, as documented); one
// without a valid token never reaches the upstream.
func TestProxyAllowWebSocket(t *testing.T) {
	t.Parallel()
	f := newUpgradeFixture(t, true)
	const hs = "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"

	resp, _, _ := f.exchange(t, "GET /ws HTTP/1.1\r\nHost: orders\r\n"+hs+"\r\n")
	resp.Body.Close()
	if resp.StatusCode != 401 || len(f.up.requests()) != 0 {
		t.Fatalf("no token: status %d, upstream got %q", resp.StatusCode, f.up.requests())
	}

	resp, conn, br := f.exchange(t, "GET /ws HTTP/1.1\r\nHost: orders\r\nAuthorization: "+f.auth(t, "GET", "/ws")+"\r\n"+hs+"\r\n")
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d, want 101", resp.StatusCode)
	}
	io.WriteString(conn, "frame")
	buf := make([]byte, 5)
	if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "frame" {
		t.Fatalf("echo through the socket: %q %v", buf, err)
	}
	if got := f.up.requests(); len(got) != 1 || got[0] != "GET /ws billing" {
		t.Errorf("the upstream got %q", got)
	}
}
