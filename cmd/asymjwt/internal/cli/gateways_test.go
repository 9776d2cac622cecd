package cli_test

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

// The forward-auth tests against real gateways run the example
// configurations of docs/gateways, placeholders filled in.
var gatewayDocs = filepath.Join("..", "..", "..", "..", "docs", "gateways")

// gatewayBinary finds a gateway's executable. When missing, the test is
// skipped, except under CI=true where it fails (scripts/ensure-test-servers.sh
// installs them).
func gatewayBinary(t *testing.T, name string) string {
	t.Helper()
	if path, err := exec.LookPath(name); err == nil {
		return path
	}
	if path := "/usr/sbin/" + name; isExecutable(path) {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed (scripts/ensure-test-servers.sh installs it)", name)
	}
	t.Skipf("%s is not installed (scripts/ensure-test-servers.sh installs it)", name)
	return ""
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// freeAddr returns a loopback host:port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// renderGatewayDoc returns docs/gateways/name with its {{NAME}}
// placeholders replaced.
func renderGatewayDoc(t *testing.T, name string, vars map[string]string) string {
	t.Helper()
	s := string(readFile(t, filepath.Join(gatewayDocs, name)))
	for k, v := range vars {
		s = strings.ReplaceAll(s, "{{"+k+"}}", v)
	}
	if i := strings.Index(s, "{{"); i >= 0 {
		t.Fatalf("%s: placeholder left: %.40s", name, s[i:])
	}
	return s
}

// runGateway starts cmd, stops it with SIGTERM at cleanup, and waits for
// addr to accept connections; logs() is shown on failure.
func runGateway(t *testing.T, cmd *exec.Cmd, addr string, logs func() string) {
	t.Helper()
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		select {
		case err := <-exited:
			t.Fatalf("%s exited (%v):\n%s\n%s", cmd.Path, err, out.String(), logs())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not listen on %s:\n%s", cmd.Path, addr, logs())
		}
	}
}

// startNginx runs nginx with docs/gateways/nginx.conf as its one server,
// everything else (pid, logs, temp files) in a temp dir; it returns the
// address it listens on.
func startNginx(t *testing.T, forwardAuth, upstream string) string {
	bin := gatewayBinary(t, "nginx")
	dir := t.TempDir()
	listen := freeAddr(t)
	site := renderGatewayDoc(t, "nginx.conf", map[string]string{"LISTEN": listen, "FORWARD_AUTH": forwardAuth, "UPSTREAM": upstream})
	writeFile(t, dir, "site.conf", []byte(site), 0o644)
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;" // workers read the temp dir, which only root may
	}
	conf := fmt.Sprintf(`%[1]s
daemon off;
worker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log info;
events { worker_connections 64; }
http {
	access_log %[2]s/access.log;
	client_body_temp_path %[2]s/client_body;
	proxy_temp_path %[2]s/proxy;
	fastcgi_temp_path %[2]s/fastcgi;
	uwsgi_temp_path %[2]s/uwsgi;
	scgi_temp_path %[2]s/scgi;
	include %[2]s/site.conf;
}
`, user, dir)
	path := writeFile(t, dir, "nginx.conf", []byte(conf), 0o644)
	cmd := exec.Command(bin, "-p", dir, "-c", path, "-e", filepath.Join(dir, "error.log"))
	runGateway(t, cmd, listen, func() string {
		data, _ := os.ReadFile(filepath.Join(dir, "error.log"))
		return string(data)
	})
	return listen
}

// startCaddy runs caddy with docs/gateways/Caddyfile, with global
// options that keep its state in a temp dir and turn off its admin API
// and automatic HTTPS; it returns the address it listens on.
func startCaddy(t *testing.T, forwardAuth, upstream string) string {
	bin := gatewayBinary(t, "caddy")
	dir := t.TempDir()
	listen := freeAddr(t)
	site := renderGatewayDoc(t, "Caddyfile", map[string]string{"SITE": "http://" + listen, "FORWARD_AUTH": forwardAuth, "UPSTREAM": upstream})
	conf := "{\n\tadmin off\n\tauto_https off\n\tstorage file_system " + filepath.Join(dir, "data") + "\n}\n\n" + site
	path := writeFile(t, dir, "Caddyfile", []byte(conf), 0o644)
	cmd := exec.Command(bin, "run", "--config", path, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+filepath.Join(dir, "data"), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"))
	runGateway(t, cmd, listen, func() string { return "" })
	return listen
}

func TestForwardAuthNginx(t *testing.T) {
	t.Parallel()
	testGateway(t, startNginx)
}

func TestForwardAuthCaddy(t *testing.T) {
	t.Parallel()
	testGateway(t, startCaddy)
}

// testGateway puts a real gateway, configured by its docs/gateways
// example, in front of an upstream, asking forward-auth --strict.
func testGateway(t *testing.T, start func(t *testing.T, forwardAuth, upstream string) string) {
	up := newUpstream(t)
	fa := startServer(t, "forward-auth", "--keys", keysDir(t), "--aud", "orders", "--strict")
	gw := "http://" + start(t, fa.addr, strings.TrimPrefix(up.URL, "http://"))
	billing := signer(t, "billing", "keys/ed25519.pem", asymjwt.WithAudience("orders"))
	bodyBound := signer(t, "billing", "keys/ed25519.pem", asymjwt.WithAudience("orders"), asymjwt.WithBodyHash())
	// Every spelling of the identity header a client may try.
	spoof := http.Header{
		"X-Authenticated-User": {"admin"},
		"X_Authenticated_User": {"admin"},
		"X-Authenticated_User": {"admin"},
		"X_Authenticated-User": {"admin"},
	}
	const query = "b=2&a=1&a=0&s=%20x%2Fy&e=caf%C3%A9"
	const challenge = `JWT realm="asymjwt", error="invalid_token"`

	// checkUpstream checks what the last request reaching the upstream
	// carried: billing's name, once, in the one spelling; no token.
	checkUpstream := func(t *testing.T, method, path, rawQuery, body string) {
		t.Helper()
		reqs := up.requests()
		got := reqs[len(reqs)-1]
		if got.Method != method || got.Path != path || got.Query != rawQuery || got.Body != body {
			t.Errorf("upstream saw %s %s ? %s %q", got.Method, got.Path, got.Query, got.Body)
		}
		for name, values := range got.Header {
			if strings.EqualFold(strings.ReplaceAll(name, "_", "-"), "X-Authenticated-User") &&
				(name != "X-Authenticated-User" || len(values) != 1 || values[0] != "billing") {
				t.Errorf("upstream got %s: %q", name, values)
			}
		}
		if got.Header.Get("X-Authenticated-User") != "billing" || got.Header.Get("Authorization") != "" {
			t.Errorf("upstream headers: %v", got.Header)
		}
	}

	auth := boundAuth(t, billing, "GET", "/v1/orders", query, "")
	t.Run("accepted, spoofed identity headers dropped", func(t *testing.T) {
		before := len(up.requests())
		status, body, _ := send(t, http.DefaultClient, "GET", gw+"/v1/orders?"+query, "", auth, spoof)
		if status != 200 || body != "upstream says hi\n" || len(up.requests()) != before+1 {
			t.Fatalf("%d %q", status, body)
		}
		checkUpstream(t, "GET", "/v1/orders", query, "")
	})
	t.Run("accepted with a body", func(t *testing.T) {
		status, _, _ := send(t, http.DefaultClient, "POST", gw+"/v1/orders", `{"id":1}`, boundAuth(t, billing, "POST", "/v1/orders", "", ""), nil)
		if status != 200 {
			t.Fatalf("%d", status)
		}
		checkUpstream(t, "POST", "/v1/orders", "", `{"id":1}`)
	})
	for _, tt := range []struct {
		name, method, target, auth string
	}{
		{"replayed", "GET", "/v1/orders?" + query, auth},
		{"tampered path", "GET", "/v1/admin", boundAuth(t, billing, "GET", "/v1/orders", "", "")},
		{"tampered query", "GET", "/v1/orders?all=1", boundAuth(t, billing, "GET", "/v1/orders", "", "")},
		{"tampered method", "DELETE", "/v1/orders", boundAuth(t, billing, "GET", "/v1/orders", "", "")},
		{"no credentials", "GET", "/v1/orders", ""},
		{"body-bound token", "GET", "/v1/orders", boundAuth(t, bodyBound, "GET", "/v1/orders", "", "")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := len(up.requests())
			status, _, hdr := send(t, http.DefaultClient, tt.method, gw+tt.target, "", tt.auth, spoof)
			if status != 401 || hdr.Get("WWW-Authenticate") != challenge {
				t.Errorf("%d, WWW-Authenticate %q; want 401 with the challenge", status, hdr.Get("WWW-Authenticate"))
			}
			if n := len(up.requests()) - before; n != 0 {
				t.Errorf("%d requests reached the upstream", n)
			}
		})
	}
}
