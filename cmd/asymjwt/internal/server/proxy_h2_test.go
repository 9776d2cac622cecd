package server_test

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/asymjwt/asymjwt/cmd/asymjwt/internal/server"
)

// Over HTTP/2 (TLS, as the proxy serves it with --tls-cert) a CONNECT
// stream would be a tunnel as well: refused like over HTTP/1.1.
func TestProxyRefusesHTTP2Connect(t *testing.T) {
	t.Parallel()
	f := newUpgradeFixture(t, true)
	p := httptest.NewUnstartedServer(nil)
	p.Config.Handler = server.NewProxy(server.ProxyConfig{Verifier: f.verifier, Upstream: f.target, Logger: f.logger, AllowWebSocket: true})
	p.EnableHTTP2 = true
	p.StartTLS()
	t.Cleanup(p.Close)
	client := p.Client()
	client.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: client.Transport.(*http.Transport).TLSClientConfig.RootCAs, NextProtos: []string{"h2"}}
	client.Transport.(*http.Transport).ForceAttemptHTTP2 = true
	pr, pw := io.Pipe()
	defer pw.Close()
	req, _ := http.NewRequest("CONNECT", p.URL, pr)
	req.Host = f.up.Listener.Addr().String()
	req.Header.Set("Authorization", f.auth(t, "CONNECT", "/"))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != 405 || len(f.up.requests()) != 0 {
		t.Errorf("%s %d, upstream got %q", resp.Proto, resp.StatusCode, f.up.requests())
	}
}
