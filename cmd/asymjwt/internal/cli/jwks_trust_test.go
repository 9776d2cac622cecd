package cli_test

import (
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

// verify --jwks trusts the keys a client publishes, for --user only.
func TestVerifyJWKS(t *testing.T) {
	handler, err := asymjwt.NewJWKSHandler(publicKey(t, "keys/ed25519.pem.pub"), publicKey(t, "keys/rsa.pem.pub"))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(asymjwt.JWKSPath, handler)
	mux.HandleFunc("/broken", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusInternalServerError) })
	srv := quietTLSServer(t, mux)
	ca := writeFile(t, t.TempDir(), "ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644)
	jwksURL := srv.URL + asymjwt.JWKSPath

	sign := func(key, user string) string {
		return strings.TrimSpace(mustRun(t, "", "sign", "--key", fixture(key), "--user", user))
	}
	for _, key := range []string{"keys/ed25519.pem", "keys/rsa.pem"} {
		out := mustRun(t, "", "verify", "--jwks", jwksURL, "--cacert", ca, "--user", "billing", sign(key, "billing"))
		if !strings.Contains(out, "kid:           "+kidOf(t, key+".pub")) {
			t.Errorf("%s: %s", key, out)
		}
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"another user", []string{"--jwks", jwksURL, "--cacert", ca, "--user", "shipping", sign("keys/ed25519.pem", "billing")}, asymjwt.ErrUnknownUser.Error()},
		{"unpublished key", []string{"--jwks", jwksURL, "--cacert", ca, "--user", "billing", sign("keys/p256.pem", "billing")}, asymjwt.ErrUnknownKey.Error()},
		{"endpoint failing", []string{"--jwks", srv.URL + "/broken", "--cacert", ca, "--user", "billing", sign("keys/ed25519.pem", "billing")}, asymjwt.ErrStoreUnavailable.Error()},
		{"untrusted certificate", []string{"--jwks", jwksURL, "--user", "billing", sign("keys/ed25519.pem", "billing")}, "certificate"},
		{"plain http", []string{"--jwks", strings.Replace(jwksURL, "https:", "http:", 1), "--cacert", ca, "--user", "billing", sign("keys/ed25519.pem", "billing")}, "use https"},
		{"bad CA file", []string{"--jwks", jwksURL, "--cacert", fixture("token.txt"), "--user", "billing", sign("keys/ed25519.pem", "billing")}, "no PEM certificate"},
		{"missing CA file", []string{"--jwks", jwksURL, "--cacert", filepath.Join(t.TempDir(), "none"), "--user", "billing", sign("keys/ed25519.pem", "billing")}, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantFail(t, run(t, "", append([]string{"verify"}, tt.args...)...), 1, tt.want)
		})
	}
	wantFail(t, run(t, "", "verify", "--pub", fixture("keys/ed25519.pem.pub"), "--cacert", ca, "x.y.z"), 2, "--cacert needs --jwks")
}

// request --cacert talks to a service with a private CA.
func TestRequestCACert(t *testing.T) {
	srv := quietTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" {
			http.Error(w, "unsigned", http.StatusUnauthorized)
			return
		}
		w.Write([]byte("hello over TLS\n"))
	}))
	ca := writeFile(t, t.TempDir(), "ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644)
	args := []string{"request", "--key", fixture("keys/ed25519.pem"), "--user", "billing"}
	if out := mustRun(t, "", append(args, "--cacert", ca, srv.URL)...); out != "hello over TLS\n" {
		t.Errorf("got %q", out)
	}
	wantFail(t, run(t, "", append(args, srv.URL)...), 1, "certificate")
}

// quietTLSServer is httptest.NewTLSServer without logging the handshakes
// the tests make fail on purpose.
func quietTLSServer(t *testing.T, h http.Handler) *httptest.Server {
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}
