package cli_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asymjwt/asymjwt/cmd/asymjwt/internal/cli"
	asymjwt "github.com/asymjwt/asymjwt/core"
)

// runningProxy is an "asymjwt proxy" run in the test process.
type runningProxy struct {
	addr string
	logs *syncBuffer
	stop context.CancelFunc
	done chan int
}

// startProxy runs the proxy on a free loopback port with JSON logs and
// returns once it listens. The test's cleanup stops it and checks that
// it exited 0.
func startProxy(t testing.TB, args ...string) *runningProxy {
	t.Helper()
	p, code := launchProxy(t, args...)
	if p == nil {
		t.Fatalf("proxy exited %d before listening", code)
	}
	t.Cleanup(func() {
		if code := p.shutdown(t); code != 0 {
			t.Errorf("proxy exited %d:\n%s", code, p.logs)
		}
	})
	return p
}

// launchProxy starts the proxy; if it exits before listening, it returns
// nil and the exit code.
func launchProxy(t testing.TB, args ...string) (*runningProxy, int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &runningProxy{logs: &syncBuffer{}, stop: cancel, done: make(chan int, 1)}
	args = append([]string{"proxy", "--listen", "127.0.0.1:0", "--log-format", "json"}, args...)
	go func() { p.done <- cli.Run(ctx, args, strings.NewReader(""), io.Discard, p.logs) }()
	deadline := time.After(10 * time.Second)
	for {
		for _, l := range logLines(t, p.logs) {
			if l["msg"] == "asymjwt proxy: listening" {
				p.addr = l["addr"].(string)
				return p, 0
			}
		}
		select {
		case code := <-p.done:
			cancel()
			t.Logf("proxy output:\n%s", p.logs)
			return nil, code
		case <-deadline:
			cancel()
			t.Fatalf("proxy did not start:\n%s", p.logs)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (p *runningProxy) shutdown(t testing.TB) int {
	p.stop()
	select {
	case code := <-p.done:
		p.done <- code // shutdown may be called again
		return code
	case <-time.After(15 * time.Second):
		t.Fatalf("proxy did not stop:\n%s", p.logs)
		return -1
	}
}

func (p *runningProxy) url(path string) string { return "http://" + p.addr + path }

// logLines parses the JSON log lines written so far.
func logLines(t testing.TB, logs *syncBuffer) []map[string]any {
	var lines []map[string]any
	for line := range strings.Lines(logs.String()) {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil {
			lines = append(lines, m)
		}
	}
	return lines
}

// accessLog returns the proxy's access log entries.
func (p *runningProxy) accessLog(t testing.TB) []map[string]any {
	var out []map[string]any
	for _, l := range logLines(t, p.logs) {
		if l["msg"] == "request" {
			out = append(out, l)
		}
	}
	return out
}

// upstream is the service behind the proxy: it records what reaches it.
type upstream struct {
	*httptest.Server
	mu   sync.Mutex
	seen []seenRequest
}

type seenRequest struct {
	Method, Path, Query, Body string
	Header                    http.Header
}

func newUpstream(t testing.TB) *upstream {
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.seen = append(u.seen, seenRequest{r.Method, r.URL.Path, r.URL.RawQuery, string(body), r.Header.Clone()})
		u.mu.Unlock()
		w.Header().Set("X-Upstream", "yes")
		io.WriteString(w, "upstream says hi\n")
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) requests() []seenRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]seenRequest(nil), u.seen...)
}

// keysDir makes an authorized-keys directory with billing's ed25519 key.
func keysDir(t testing.TB) string {
	dir := t.TempDir()
	mustRun(t, "", "keys", "add", "--dir", dir, "--user", "billing", fixture("keys/ed25519.pem.pub"))
	return dir
}

func signer(t testing.TB, user, keyFile string, opts ...asymjwt.SignerOption) *asymjwt.Signer {
	t.Helper()
	key, err := asymjwt.ParsePrivateKey(readFile(t, fixture(keyFile)), nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := asymjwt.NewSigner(user, key, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// send sends a request with the given Authorization (none when empty)
// and extra headers, and returns the status and body.
func send(t testing.TB, client *http.Client, method, url, body, authorization string, header http.Header) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data), resp.Header
}

// boundAuth is an Authorization value bound to method, path and body.
func boundAuth(t testing.TB, s *asymjwt.Signer, method, path, query, body string) string {
	t.Helper()
	tok, err := s.TokenFor(method, path, query, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return s.AuthorizationValue(tok)
}

func TestProxyStrict(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	dir := keysDir(t)
	p := startProxy(t, "--upstream", up.URL+"/base", "--keys", dir, "--aud", "orders", "--strict")
	client := &http.Client{}
	billing := signer(t, "billing", "keys/ed25519.pem", asymjwt.WithAudience("orders"), asymjwt.WithBodyHash())

	t.Run("accepted, forwarded with the user and without the token", func(t *testing.T) {
		before := len(up.requests())
		status, body, hdr := send(t, client, "POST", p.url("/v1/orders?b=2&a=1"), `{"id":1}`,
			boundAuth(t, billing, "POST", "/v1/orders", "b=2&a=1", `{"id":1}`), nil)
		if status != 200 || body != "upstream says hi\n" || hdr.Get("X-Upstream") != "yes" {
			t.Fatalf("%d %q %v", status, body, hdr)
		}
		reqs := up.requests()
		if len(reqs) != before+1 {
			t.Fatalf("upstream got %d requests, want 1", len(reqs)-before)
		}
		got := reqs[len(reqs)-1]
		if got.Method != "POST" || got.Path != "/base/v1/orders" || got.Query != "b=2&a=1" || got.Body != `{"id":1}` {
			t.Errorf("upstream saw %+v", got)
		}
		if v := got.Header.Values("X-Authenticated-User"); len(v) != 1 || v[0] != "billing" {
			t.Errorf("X-Authenticated-User %q", v)
		}
		if a := got.Header.Get("Authorization"); a != "" {
			t.Errorf("Authorization forwarded: %q", a)
		}
		if got.Header.Get("X-Forwarded-For") != "127.0.0.1" || got.Header.Get("X-Forwarded-Host") != p.addr {
			t.Errorf("X-Forwarded-*: %v", got.Header)
		}
	})

	t.Run("spoofed user headers removed", func(t *testing.T) {
		spoof := http.Header{
			"X-Authenticated-User": {"root", "admin"},
			"X_authenticated_user": {"root"}, // what CGI and WSGI gateways read as the same header
			"X-Authenticated_User": {"root"},
		}
		status, _, _ := send(t, client, "GET", p.url("/v1/me"), "", boundAuth(t, billing, "GET", "/v1/me", "", ""), spoof)
		if status != 200 {
			t.Fatalf("status %d", status)
		}
		reqs := up.requests()
		got := reqs[len(reqs)-1]
		for name, values := range got.Header {
			if strings.EqualFold(strings.ReplaceAll(name, "_", "-"), "X-Authenticated-User") &&
				(name != "X-Authenticated-User" || len(values) != 1 || values[0] != "billing") {
				t.Errorf("upstream got %s: %q", name, values)
			}
		}
		if got.Header.Get("X-Authenticated-User") != "billing" {
			t.Errorf("user header %q", got.Header.Get("X-Authenticated-User"))
		}
	})

	t.Run("refusals never reach the upstream", func(t *testing.T) {
		other := signer(t, "billing", "keys/p256.pem", asymjwt.WithAudience("orders"), asymjwt.WithBodyHash())
		stranger := signer(t, "mallory", "keys/ed25519.pem", asymjwt.WithAudience("orders"), asymjwt.WithBodyHash())
		elsewhere := signer(t, "billing", "keys/ed25519.pem", asymjwt.WithAudience("shipping"), asymjwt.WithBodyHash())
		unbound := signer(t, "billing", "keys/ed25519.pem", asymjwt.WithAudience("orders"))
		noAud := signer(t, "billing", "keys/ed25519.pem", asymjwt.WithBodyHash())
		plainToken, _ := unbound.Token()
		tests := []struct {
			name, method, path, body, auth string
		}{
			{"no credentials", "GET", "/v1/orders", "", ""},
			{"not a token", "GET", "/v1/orders", "", "JWT garbage"},
			{"other scheme", "GET", "/v1/orders", "", "Bearer " + plainToken},
			{"unregistered key", "GET", "/v1/orders", "", boundAuth(t, other, "GET", "/v1/orders", "", "")},
			{"unknown user", "GET", "/v1/orders", "", boundAuth(t, stranger, "GET", "/v1/orders", "", "")},
			{"other audience", "GET", "/v1/orders", "", boundAuth(t, elsewhere, "GET", "/v1/orders", "", "")},
			{"no audience", "GET", "/v1/orders", "", boundAuth(t, noAud, "GET", "/v1/orders", "", "")},
			{"not bound (strict)", "GET", "/v1/orders", "", unbound.AuthorizationValue(plainToken)},
			{"tampered path", "GET", "/v1/orders/2", "", boundAuth(t, billing, "GET", "/v1/orders/1", "", "")},
			{"tampered query", "GET", "/v1/orders?all=1", "", boundAuth(t, billing, "GET", "/v1/orders", "", "")},
			{"tampered method", "DELETE", "/v1/orders", "", boundAuth(t, billing, "GET", "/v1/orders", "", "")},
			{"tampered body", "POST", "/v1/orders", `{"amount":1000}`, boundAuth(t, billing, "POST", "/v1/orders", "", `{"amount":1}`)},
		}
		before := len(up.requests())
		for _, tt := range tests {
			status, _, hdr := send(t, client, tt.method, p.url(tt.path), tt.body, tt.auth, nil)
			if status != 401 || hdr.Get("WWW-Authenticate") != `JWT realm="asymjwt", error="invalid_token"` {
				t.Errorf("%s: status %d, WWW-Authenticate %q", tt.name, status, hdr.Get("WWW-Authenticate"))
			}
		}
		if n := len(up.requests()) - before; n != 0 {
			t.Errorf("%d refused requests reached the upstream", n)
		}
	})

	t.Run("replay refused", func(t *testing.T) {
		auth := boundAuth(t, billing, "GET", "/v1/orders", "", "")
		before := len(up.requests())
		if status, _, _ := send(t, client, "GET", p.url("/v1/orders"), "", auth, nil); status != 200 {
			t.Fatalf("first use: %d", status)
		}
		if status, _, _ := send(t, client, "GET", p.url("/v1/orders"), "", auth, nil); status != 401 {
			t.Fatalf("replay: %d", status)
		}
		if n := len(up.requests()) - before; n != 1 {
			t.Errorf("upstream got %d requests, want 1", n)
		}
	})

	t.Run("healthz needs no credentials", func(t *testing.T) {
		before := len(up.requests())
		status, body, hdr := send(t, client, "GET", p.url("/healthz"), "", "", nil)
		if status != 200 || body != "ok\n" || hdr.Get("Cache-Control") != "no-store" {
			t.Errorf("GET /healthz: %d %q", status, body)
		}
		if status, body, _ := send(t, client, "HEAD", p.url("/healthz"), "", "", nil); status != 200 || body != "" {
			t.Errorf("HEAD /healthz: %d %q", status, body)
		}
		// Other methods on that path are the upstream's, behind authentication.
		if status, _, _ := send(t, client, "POST", p.url("/healthz"), "", "", nil); status != 401 {
			t.Errorf("POST /healthz without credentials: %d", status)
		}
		if n := len(up.requests()) - before; n != 0 {
			t.Errorf("health checks reached the upstream %d times", n)
		}
	})

	t.Run("keys added while running are picked up", func(t *testing.T) {
		shipping := signer(t, "shipping", "keys/p256.pem", asymjwt.WithAudience("orders"), asymjwt.WithBodyHash())
		if status, _, _ := send(t, client, "GET", p.url("/v1/x"), "", boundAuth(t, shipping, "GET", "/v1/x", "", ""), nil); status != 401 {
			t.Fatalf("before keys add: %d", status)
		}
		mustRun(t, "", "keys", "add", "--dir", dir, "--user", "shipping", fixture("keys/p256.pem.pub"))
		deadline := time.Now().Add(10 * time.Second)
		for {
			status, _, _ := send(t, client, "GET", p.url("/v1/x"), "", boundAuth(t, shipping, "GET", "/v1/x", "", ""), nil)
			if status == 200 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("still %d after keys add", status)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	t.Run("access log", func(t *testing.T) {
		var ok, refused, health bool
		for _, l := range p.accessLog(t) {
			switch {
			case l["path"] == "/v1/orders" && l["status"] == 200.0 && l["user"] == "billing" && l["method"] == "POST":
				ok = true
			case l["status"] == 401.0 && l["user"] == "":
				refused = true
			case l["path"] == "/healthz" && l["status"] == 200.0:
				health = true
			}
		}
		if !ok || !refused || !health {
			t.Errorf("access log lacks entries (accepted %v, refused %v, health %v):\n%s", ok, refused, health, p.logs)
		}
		if !strings.Contains(p.logs.String(), `"msg":"asymjwt: authentication refused"`) {
			t.Error("refusal reasons are not logged")
		}
		if strings.Contains(p.logs.String(), "JWT ey") {
			t.Error("a token was logged")
		}
	})
}

func TestProxyOptions(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	p := startProxy(t, "--upstream", up.URL, "--keys", keysDir(t), "--user-header", "x-remote-user", "--health-path", "/status")
	billing := signer(t, "billing", "keys/ed25519.pem")
	tok, _ := billing.Token()
	// Not strict: a plain token from a Python-library-style client passes.
	spoof := http.Header{"X-Remote-User": {"root"}, "X_remote_user": {"root"}}
	if status, _, _ := send(t, http.DefaultClient, "GET", p.url("/any"), "", billing.AuthorizationValue(tok), spoof); status != 200 {
		t.Fatalf("status %d", status)
	}
	reqs := up.requests()
	got := reqs[len(reqs)-1].Header
	if v := got.Values("X-Remote-User"); len(v) != 1 || v[0] != "billing" || got.Get("X_remote_user") != "" {
		t.Errorf("upstream headers %v", got)
	}
	if status, _, _ := send(t, http.DefaultClient, "GET", p.url("/status"), "", "", nil); status != 200 {
		t.Errorf("--health-path: %d", status)
	}
	if status, _, _ := send(t, http.DefaultClient, "GET", p.url("/healthz"), "", "", nil); status != 401 {
		t.Errorf("/healthz with another --health-path: %d", status)
	}
}

func TestProxyUpstreamDown(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	p := startProxy(t, "--upstream", closed, "--keys", keysDir(t))
	billing := signer(t, "billing", "keys/ed25519.pem")
	tok, _ := billing.Token()
	if status, _, _ := send(t, http.DefaultClient, "GET", p.url("/x"), "", billing.AuthorizationValue(tok), nil); status != 502 {
		t.Errorf("upstream down: %d, want 502", status)
	}
	if status, _, _ := send(t, http.DefaultClient, "GET", p.url("/x"), "", "", nil); status != 401 {
		t.Errorf("unauthenticated with upstream down: %d, want 401", status)
	}
	if !strings.Contains(p.logs.String(), "asymjwt proxy: upstream failed") {
		t.Errorf("upstream failure not logged:\n%s", p.logs)
	}
}

// Stopping lets the request in flight finish, then exits 0.
func TestProxyGracefulShutdown(t *testing.T) {
	t.Parallel()
	arrived, release := make(chan struct{}), make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-release
		io.WriteString(w, "finished\n")
	}))
	t.Cleanup(up.Close)
	p, _ := launchProxy(t, "--upstream", up.URL, "--keys", keysDir(t))
	if p == nil {
		t.Fatal("proxy did not start")
	}
	billing := signer(t, "billing", "keys/ed25519.pem")
	tok, _ := billing.Token()
	type response struct {
		status int
		body   string
	}
	responses := make(chan response, 1)
	go func() {
		status, body, _ := send(t, http.DefaultClient, "GET", p.url("/slow"), "", billing.AuthorizationValue(tok), nil)
		responses <- response{status, body}
	}()
	<-arrived
	p.stop()
	select {
	case code := <-p.done:
		t.Fatalf("proxy exited %d with a request in flight", code)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	if r := <-responses; r.status != 200 || r.body != "finished\n" {
		t.Errorf("request in flight got %d %q", r.status, r.body)
	}
	if code := p.shutdown(t); code != 0 {
		t.Errorf("exit %d:\n%s", code, p.logs)
	}
	if _, err := net.Dial("tcp", p.addr); err == nil {
		t.Error("still accepting connections after shutdown")
	}
	if !strings.Contains(p.logs.String(), "asymjwt proxy: stopped") {
		t.Errorf("logs:\n%s", p.logs)
	}
}

func TestProxyTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certPEM, keyPEM := selfSignedCert(t)
	cert := writeFile(t, dir, "cert.pem", certPEM, 0o644)
	key := writeFile(t, dir, "key.pem", keyPEM, 0o600)
	up := newUpstream(t)
	p := startProxy(t, "--upstream", up.URL, "--keys", keysDir(t), "--tls-cert", cert, "--tls-key", key)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	billing := signer(t, "billing", "keys/ed25519.pem")
	tok, _ := billing.Token()
	if status, body, _ := send(t, client, "GET", "https://"+p.addr+"/x", "", billing.AuthorizationValue(tok), nil); status != 200 || body != "upstream says hi\n" {
		t.Errorf("over TLS: %d %q", status, body)
	}
	// The same key file as certificate: refused at start, exit 1.
	r := run(t, "", "proxy", "--listen", "127.0.0.1:0", "--upstream", up.URL, "--keys", keysDir(t), "--tls-cert", key, "--tls-key", key)
	wantFail(t, r, 1, "TLS:")
}

func selfSignedCert(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}

// Failures before listening: exit 1 with the reason.
func TestProxyStartFailures(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	dir := keysDir(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() })
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing keys dir", []string{"--listen", "127.0.0.1:0", "--upstream", up.URL, "--keys", filepath.Join(dir, "nope")}, "no such file"},
		{"address in use", []string{"--listen", busy.Addr().String(), "--upstream", up.URL, "--keys", dir}, "address already in use"},
		{"bad --max-body", []string{"--listen", "127.0.0.1:0", "--upstream", up.URL, "--keys", dir, "--max-body", "-1"}, "size limits must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, "", append([]string{"proxy"}, tt.args...)...)
			if r.code == 0 || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want failure with %q", r.code, r.stderr, tt.want)
			}
		})
	}
}
