package cli_test

import (
	"crypto"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

// echoed is what the test service saw of a request.
type echoed struct {
	User, Method, Path, Query, Body, Test, Host, ContentType string
}

// strictService is a service that requires aud "orders", qsh and bh from
// billing's ed25519 key, and echoes what it saw.
func strictService(t testing.TB) *httptest.Server {
	t.Helper()
	keys := asymjwt.NewMemoryKeyStore()
	if _, err := keys.Add("billing", publicKey(t, "keys/ed25519.pem.pub")); err != nil {
		t.Fatal(err)
	}
	v, err := asymjwt.NewVerifier(keys, asymjwt.WithAudience("orders"),
		asymjwt.RequireAudience(), asymjwt.RequireRequestBinding(), asymjwt.RequireBodyHash(),
		asymjwt.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		id, _ := asymjwt.FromContext(r.Context())
		body, _ := io.ReadAll(r.Body)
		json.NewEncoder(w).Encode(echoed{id.Username, r.Method, r.URL.Path, r.URL.RawQuery, string(body),
			r.Header.Get("X-Test"), r.Host, r.Header.Get("Content-Type")})
	})
	mux.HandleFunc("/missing", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no such order", http.StatusNotFound)
	})
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/echo?moved=1", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	srv := httptest.NewServer(v.Middleware(mux))
	t.Cleanup(srv.Close)
	return srv
}

func publicKey(t testing.TB, name string) crypto.PublicKey {
	t.Helper()
	pub, err := asymjwt.ParsePublicKey(readFile(t, fixture(name)))
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

func TestRequest(t *testing.T) {
	srv := strictService(t)
	host := strings.TrimPrefix(srv.URL, "http://")
	base := []string{"request", "--key", fixture("keys/ed25519.pem"), "--user", "billing", "--aud", "orders"}
	body := string(readFile(t, fixture("token.txt")))
	tests := []struct {
		name  string
		stdin string
		args  []string
		want  echoed
	}{
		{"GET", "", []string{srv.URL + "/echo?b=2&a=1"}, echoed{Method: "GET", Path: "/echo", Query: "b=2&a=1", Host: host}},
		{"POST from a file", "", []string{"-d", "@" + fixture("token.txt"), srv.URL + "/echo"}, echoed{Method: "POST", Path: "/echo", Body: body, Host: host}},
		{"literal data", "", []string{"-d", `{"id":1}`, "-H", "Content-Type: application/json", srv.URL + "/echo"}, echoed{Method: "POST", Path: "/echo", Body: `{"id":1}`, Host: host, ContentType: "application/json"}},
		{"stdin", "from stdin", []string{"-X", "put", "-d", "-", srv.URL + "/echo"}, echoed{Method: "PUT", Path: "/echo", Body: "from stdin", Host: host}},
		{"stdin with @-", "from stdin", []string{"-d", "@-", srv.URL + "/echo"}, echoed{Method: "POST", Path: "/echo", Body: "from stdin", Host: host}},
		{"empty body", "", []string{"-d", "", srv.URL + "/echo"}, echoed{Method: "POST", Path: "/echo", Host: host}},
		{"headers and Host", "", []string{"-H", "X-Test: yes", "-H", "Host: orders.internal", "-X", "DELETE", srv.URL + "/echo"}, echoed{Method: "DELETE", Path: "/echo", Test: "yes", Host: "orders.internal"}},
		{"redirect, signed again", "", []string{srv.URL + "/moved"}, echoed{Method: "GET", Path: "/echo", Query: "moved=1", Host: host}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := mustRun(t, tt.stdin, append(append([]string{}, base...), tt.args...)...)
			var got echoed
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("%v: %q", err, out)
			}
			tt.want.User = "billing"
			if got != tt.want {
				t.Errorf("service saw %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestRequestFailures(t *testing.T) {
	srv := strictService(t)
	key := fixture("keys/ed25519.pem")
	// A port nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/"
	ln.Close()

	tests := []struct {
		name       string
		args       []string
		wantStdout string
		wantStderr string
	}{
		{"refused: wrong audience", []string{"--key", key, "--user", "billing", "--aud", "shipping", srv.URL + "/echo"}, "Unauthorized\n", "HTTP 401 Unauthorized"},
		{"refused: no audience", []string{"--key", key, "--user", "billing", srv.URL + "/echo"}, "Unauthorized\n", "HTTP 401 Unauthorized"},
		{"refused: unknown user", []string{"--key", key, "--user", "shipping", "--aud", "orders", srv.URL + "/echo"}, "Unauthorized\n", "HTTP 401 Unauthorized"},
		{"refused: another key", []string{"--key", fixture("keys/p256.pem"), "--user", "billing", "--aud", "orders", srv.URL + "/echo"}, "Unauthorized\n", "HTTP 401 Unauthorized"},
		{"404 prints the body", []string{"--key", key, "--user", "billing", "--aud", "orders", srv.URL + "/missing"}, "no such order\n", "HTTP 404 Not Found"},
		{"timeout", []string{"--key", key, "--user", "billing", "--aud", "orders", "--timeout", "200ms", srv.URL + "/slow"}, "", "asymjwt request: Get"},
		{"connection refused", []string{"--key", key, "--user", "billing", closed}, "", "connection refused"},
		{"body file missing", []string{"--key", key, "--user", "billing", "-d", "@/nonexistent", srv.URL + "/echo"}, "", "no such file"},
		{"bad key", []string{"--key", fixture("keys/ed25519.pem.pub"), "--user", "billing", srv.URL + "/echo"}, "", asymjwt.ErrInvalidKey.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, "", append([]string{"request"}, tt.args...)...)
			wantFail(t, r, 1, tt.wantStderr)
			if r.stdout != tt.wantStdout {
				t.Errorf("stdout %q, want %q", r.stdout, tt.wantStdout)
			}
		})
	}
}
