package server

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

// Internal: the authorized-keys directory (and keys add) may refuse such
// names before the proxy sees them; a MemoryKeyStore does not, which lets
// the proxy's own check be shown to refuse them.
func TestProxyRefusesUsernameUnsafeInHeader(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get(DefaultUserHeader))
		mu.Unlock()
	}))
	t.Cleanup(up.Close)
	upstream, _ := url.Parse(up.URL)
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		user string
		ok   bool
	}{
		{"billing", true},
		{"first last", true},
		{"josé", true},
		{"a;b=c", true},
		{" admin", false},
		{"admin ", false},
		{"\tadmin", false},
		{"admin\t", false},
		{"admin\u00a0", false},
		{"\u3000admin", false},
		{"admin,root", false},
		{"ad\x00min", false},
		{"ad\rmin", false},
		{"ad\nX-Admin: 1", false},
		{"ad\x7fmin", false},
	}
	keys := asymjwt.NewMemoryKeyStore()
	for _, tt := range tests {
		if _, err := keys.Add(tt.user, pub); err != nil {
			t.Fatal(err)
		}
	}
	v, err := asymjwt.NewVerifier(keys, asymjwt.WithReplayStore(asymjwt.NewMemoryReplayStore()))
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		logMu.Lock()
		defer logMu.Unlock()
		return logs.Write(p)
	}), nil))
	proxy := httptest.NewServer(NewProxy(ProxyConfig{Verifier: v, Upstream: upstream, HealthPath: "/healthz", Logger: logger}))
	t.Cleanup(proxy.Close)

	for _, tt := range tests {
		s, err := asymjwt.NewSigner(tt.user, priv)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := s.Token()
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("GET", proxy.URL+"/x", nil)
		req.Header.Set("Authorization", s.AuthorizationValue(tok))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		mu.Lock()
		got := seen
		seen = nil
		mu.Unlock()
		switch {
		case tt.ok && (resp.StatusCode != 200 || len(got) != 1 || got[0] != tt.user):
			t.Errorf("%q: status %d, upstream saw %q; want 200 and the name as it is", tt.user, resp.StatusCode, got)
		case !tt.ok && (resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" || len(got) != 0):
			t.Errorf("%q: status %d, upstream saw %q; want 401 with a challenge, nothing upstream", tt.user, resp.StatusCode, got)
		}
	}
	logMu.Lock()
	defer logMu.Unlock()
	if !strings.Contains(logs.String(), "username cannot be forwarded") {
		t.Errorf("refusals are not logged:\n%s", logs.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
