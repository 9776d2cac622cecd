package cli_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkProxy compares a request sent straight to a service with the
// same request through the proxy: signed by the client (a fresh token),
// verified, stripped of the token and forwarded with the user header. The
// difference is what the proxy costs, on loopback, keep-alive on both legs.
func BenchmarkProxy(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
	}))
	b.Cleanup(up.Close)
	p := startProxy(b, "--upstream", up.URL, "--keys", keysDir(b))
	get := func(b *testing.B, client *http.Client, url string) {
		resp, err := client.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	b.Run("direct", func(b *testing.B) {
		client := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
		for b.Loop() {
			get(b, client, up.URL+"/v1/orders")
		}
	})
	b.Run("proxy", func(b *testing.B) {
		base := http.DefaultTransport.(*http.Transport).Clone()
		client := &http.Client{Transport: signer(b, "billing", "keys/ed25519.pem").Transport(base)}
		for b.Loop() {
			get(b, client, p.url("/v1/orders"))
		}
	})
}
