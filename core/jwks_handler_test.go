package asymjwt_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

func TestJWKSHandler(t *testing.T) {
	ed := ksNewParty(t, "svc", nil)
	p384 := ksNewParty(t, "svc", must(asymjwt.GenerateKey(asymjwt.KindP384)))
	rsaPub := ksRSAKey(t).Public()
	pinned := must(asymjwt.NewPinnedKey(rsaPub, asymjwt.PS256))
	pubs := []crypto.PublicKey{ed.key.Public(), p384.key.Public(), rsaPub}
	h := must(asymjwt.NewJWKSHandler(append(pubs, ed.key.Public())...)) // a duplicate is served once

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, asymjwt.JWKSPath, nil))
	res := rec.Result()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	for name, want := range map[string]string{
		"Content-Type":  "application/json",
		"Cache-Control": asymjwt.JWKSHandlerCacheControl,
	} {
		if got := res.Header.Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	etag := res.Header.Get("ETag")
	if len(etag) < 3 || etag[0] != '"' || etag[len(etag)-1] != '"' {
		t.Errorf("ETag %q is not a strong entity tag", etag)
	}
	body := must(io.ReadAll(res.Body))
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Keys) != len(pubs) {
		t.Fatalf("%d keys served, want %d", len(doc.Keys), len(pubs))
	}
	for i, raw := range doc.Keys {
		// Each key parses back to the key served, with its fingerprint as kid.
		pub, err := asymjwt.ParsePublicKey(raw)
		if err != nil {
			t.Fatalf("key %d: %v", i, err)
		}
		want, got := must(asymjwt.Fingerprint(pubs[i])), must(asymjwt.Fingerprint(pub))
		if got != want {
			t.Errorf("key %d parses back as %s, want %s", i, got, want)
		}
		var j asymjwt.JWK
		if err := json.Unmarshal(raw, &j); err != nil {
			t.Fatal(err)
		}
		if j.Kid != want || j.Use != "sig" {
			t.Errorf("key %d: kid %q use %q", i, j.Kid, j.Use)
		}
	}
	if got := must(asymjwt.ParseJWKS(body)); len(got) != len(pubs) {
		t.Errorf("ParseJWKS reads %d keys back", len(got))
	}

	// A pinned key is served with its own alg.
	rec = httptest.NewRecorder()
	must(asymjwt.NewJWKSHandler(pinned)).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	var one asymjwt.JWKS
	if err := json.Unmarshal(rec.Body.Bytes(), &one); err != nil || len(one.Keys) != 1 || one.Keys[0].Alg != asymjwt.PS256 || one.Keys[0].Kty != "RSA" {
		t.Errorf("pinned key served as %s (%v)", rec.Body.Bytes(), err)
	}
}

func TestJWKSHandlerPythonForm(t *testing.T) {
	// The RSA key served exactly as the Python library's as_jwk.
	var want struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(ksFixture(t, "python-jwks.json"), &want); err != nil {
		t.Fatal(err)
	}
	file := ksFixture(t, "alice") // its PEM block is the Python library's RSA test key
	pub := must(asymjwt.ParsePublicKey(file[bytes.Index(file, []byte("-----BEGIN")):]))
	rec := httptest.NewRecorder()
	must(asymjwt.NewJWKSHandler(pub)).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	var got struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Keys) != 1 || len(got.Keys[0]) != len(want.Keys[0]) {
		t.Fatalf("served %v, want %v", got.Keys, want.Keys)
	}
	for k, v := range want.Keys[0] {
		if got.Keys[0][k] != v {
			t.Errorf("%s: %q, want %q", k, got.Keys[0][k], v)
		}
	}
}

func TestJWKSHandlerConditionalAndMethods(t *testing.T) {
	h := must(asymjwt.NewJWKSHandler(ksNewParty(t, "svc", nil).key.Public()))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	etag, full := rec.Header().Get("ETag"), rec.Body.Len()
	tests := []struct {
		name, method, ifNoneMatch string
		status, bodyLen           int
	}{
		{"matching etag", http.MethodGet, etag, http.StatusNotModified, 0},
		{"weak form", http.MethodGet, "W/" + etag, http.StatusNotModified, 0},
		{"in a list", http.MethodGet, `"old", ` + etag, http.StatusNotModified, 0},
		{"any", http.MethodGet, "*", http.StatusNotModified, 0},
		{"other etag", http.MethodGet, `"old"`, http.StatusOK, full},
		{"HEAD", http.MethodHead, "", http.StatusOK, 0},
		{"POST refused", http.MethodPost, "", http.StatusMethodNotAllowed, -1},
		{"PUT refused", http.MethodPut, etag, http.StatusMethodNotAllowed, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, "/", nil)
			if tt.ifNoneMatch != "" {
				req.Header.Set("If-None-Match", tt.ifNoneMatch)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d", rec.Code, tt.status)
			}
			if tt.bodyLen >= 0 && rec.Body.Len() != tt.bodyLen {
				t.Errorf("body of %d bytes, want %d", rec.Body.Len(), tt.bodyLen)
			}
			switch tt.status {
			case http.StatusMethodNotAllowed:
				if rec.Header().Get("Allow") != "GET, HEAD" {
					t.Errorf("Allow: %q", rec.Header().Get("Allow"))
				}
			default:
				if rec.Header().Get("ETag") != etag || rec.Header().Get("Cache-Control") == "" {
					t.Errorf("headers %v", rec.Header())
				}
			}
		})
	}
}

func TestNewJWKSHandlerRefusals(t *testing.T) {
	weak := must(rsa.GenerateKey(rand.Reader, 1024))
	tests := []struct {
		name string
		pubs []crypto.PublicKey
	}{
		{"no keys", nil},
		{"a private key", []crypto.PublicKey{ksRSAKey(t)}},
		{"not a key", []crypto.PublicKey{"key"}},
		{"a pin that does not fit", []crypto.PublicKey{&asymjwt.PinnedKey{PublicKey: ksRSAKey(t).Public(), Algorithm: asymjwt.EdDSA}}},
		{"weak RSA", []crypto.PublicKey{&weak.PublicKey}},
		{"one bad among good", []crypto.PublicKey{ksRSAKey(t).Public(), &weak.PublicKey}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := asymjwt.NewJWKSHandler(tt.pubs...); err == nil {
				t.Error("accepted")
			}
		})
	}
}

func TestJWKSHandlerFeedsJWKSTrust(t *testing.T) {
	ksLeakCheck(t)
	svc := ksNewParty(t, "billing", nil)
	mux := http.NewServeMux()
	mux.Handle(asymjwt.JWKSPath, must(asymjwt.NewJWKSHandler(svc.key.Public())))
	srv := httptest.NewTLSServer(mux)
	defer srv.Close()
	tr := asymjwt.NewJWKSTrust(asymjwt.WithJWKSHTTPClient(srv.Client()), asymjwt.WithJWKSLogger(ksQuiet))
	defer tr.Close()
	ksMustTrust(t, tr, "billing", srv.URL+asymjwt.JWKSPath)
	v := ksVerifier(t, tr)
	if err := ksVerify(t, v, svc); err != nil {
		t.Fatal(err)
	}
	st, _ := tr.Status("billing")
	if d := st.NextRefresh.Sub(st.Fetched); d != 5*time.Minute { // max-age=300
		t.Errorf("the handler's max-age gave a refresh in %v", d)
	}
	if err := ksVerify(t, v, ksNewParty(t, "billing", nil)); !errors.Is(err, asymjwt.ErrUnknownKey) {
		t.Errorf("another key: %v", err)
	}
}
