package asymjwt_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

// pythonVector is one token made the way the Python library makes them
// (testdata/python/gen_vectors.py).
type pythonVector struct {
	Name        string          `json:"name"`
	KeyPrivate  string          `json:"key_private"`
	KeyPublic   string          `json:"key_public"`
	Fingerprint string          `json:"fingerprint"`
	Alg         string          `json:"alg"`
	Username    string          `json:"username"`
	Time        int64           `json:"time"`
	Nonce       string          `json:"nonce"`
	HeaderJSON  string          `json:"header_json"`
	Token       string          `json:"token"`
	JWK         json.RawMessage `json:"jwk"`
}

func loadPythonVectors(t testing.TB) []pythonVector {
	var vectors []pythonVector
	if err := json.Unmarshal(readFixture(t, "python", "vectors.json"), &vectors); err != nil {
		t.Fatal(err)
	}
	if len(vectors) < 2 {
		t.Fatal("no vectors")
	}
	return vectors
}

// TestPythonTokensVerify: tokens from the Python library verify here, and
// keys, fingerprints and JWKs agree byte for byte.
func TestPythonTokensVerify(t *testing.T) {
	for _, vec := range loadPythonVectors(t) {
		t.Run(vec.Name, func(t *testing.T) {
			pemText := readFixture(t, "python", vec.KeyPublic)
			pub, err := asymjwt.ParsePublicKey(pemText)
			if err != nil {
				t.Fatal(err)
			}
			again, _ := asymjwt.MarshalPublicKeyPEM(pub)
			if !bytes.Equal(again, pemText) {
				t.Fatal("MarshalPublicKeyPEM differs from the Python library's PEM")
			}
			fp, _ := asymjwt.Fingerprint(pub)
			if fp != vec.Fingerprint {
				t.Fatalf("fingerprint %s, Python %s", fp, vec.Fingerprint)
			}
			if len(vec.JWK) > 0 {
				ours, _ := asymjwt.NewJWK(pub)
				var theirs asymjwt.JWK
				if err := json.Unmarshal(vec.JWK, &theirs); err != nil {
					t.Fatal(err)
				}
				if ours != theirs {
					t.Fatalf("JWK\n ours   %+v\n theirs %+v", ours, theirs)
				}
			}
			keys := asymjwt.NewMemoryKeyStore()
			if _, err := keys.Add(vec.Username, pub); err != nil {
				t.Fatal(err)
			}
			v := newTestVerifier(t, keys, asymjwt.WithClock(fixedClock(vec.Time)))
			id, err := v.Verify(context.Background(), vec.Token)
			if err != nil {
				t.Fatal(err)
			}
			if id.Username != vec.Username || id.KeyID != vec.Fingerprint || id.Nonce != vec.Nonce ||
				id.Algorithm != vec.Alg || id.Time.Unix() != vec.Time {
				t.Fatalf("identity %+v", id)
			}
		})
	}
}

// TestTokensInPythonShape: our tokens carry the header the Python library
// writes, byte for byte, and claims its verifier reads.
func TestTokensInPythonShape(t *testing.T) {
	for _, vec := range loadPythonVectors(t) {
		t.Run(vec.Name, func(t *testing.T) {
			key, err := asymjwt.ParsePrivateKey(readFixture(t, "python", vec.KeyPrivate), nil)
			if err != nil {
				t.Fatal(err)
			}
			s, err := asymjwt.NewSigner(vec.Username, key, asymjwt.WithClock(fixedClock(vec.Time)))
			if err != nil {
				t.Fatal(err)
			}
			token, err := s.Token()
			if err != nil {
				t.Fatal(err)
			}
			parts := strings.Split(token, ".")
			header, _ := base64.RawURLEncoding.DecodeString(parts[0])
			if string(header) != vec.HeaderJSON {
				t.Fatalf("header %s, Python %s", header, vec.HeaderJSON)
			}
			payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
			var claims struct {
				Username string `json:"username"`
				Time     int64  `json:"time"`
				Nonce    string `json:"nonce"`
			}
			if err := json.Unmarshal(payload, &claims); err != nil {
				t.Fatal(err)
			}
			if claims.Username != vec.Username || claims.Time != vec.Time || len(claims.Nonce) < 16 {
				t.Fatalf("claims %s", payload)
			}
			if !strings.HasPrefix(string(payload), `{"username":`) {
				t.Fatalf("claims order differs from the Python library's: %s", payload)
			}
		})
	}
}

type qshVector struct {
	Source    string `json:"source"`
	Method    string `json:"method"`
	Path      string `json:"path"`
	RawQuery  string `json:"rawQuery"`
	Canonical string `json:"canonical"`
	QSH       string `json:"qsh"`
}

// TestQueryStringHashVectors runs Atlassian Connect's published vectors.
func TestQueryStringHashVectors(t *testing.T) {
	var vectors []qshVector
	if err := json.Unmarshal(readFixture(t, "qsh_vectors.json"), &vectors); err != nil {
		t.Fatal(err)
	}
	if len(vectors) < 10 {
		t.Fatalf("only %d vectors", len(vectors))
	}
	for _, vec := range vectors {
		t.Run(vec.Canonical, func(t *testing.T) {
			got, err := asymjwt.CanonicalRequest(vec.Method, vec.Path, vec.RawQuery, "")
			if err != nil {
				t.Fatal(err)
			}
			if got != vec.Canonical {
				t.Fatalf("canonical\n got  %q\n want %q\n (%s)", got, vec.Canonical, vec.Source)
			}
			if vec.QSH != "" {
				qsh, _ := asymjwt.QueryStringHash(vec.Method, vec.Path, vec.RawQuery, "")
				if qsh != vec.QSH {
					t.Fatalf("qsh %s, want %s", qsh, vec.QSH)
				}
			}
		})
	}
}

func TestCanonicalRequest(t *testing.T) {
	tests := []struct {
		name, method, path, query, prefix, want string
	}{
		{"empty path", "get", "", "", "", "GET&/&"},
		{"trailing slash", "GET", "/a/b/", "", "", "GET&/a/b&"},
		{"root", "GET", "/", "", "", "GET&/&"},
		{"ampersand in path", "POST", "/a&b", "", "", "POST&/a%26b&"},
		{"prefix stripped", "GET", "/api/v1/users", "", "/api", "GET&/v1/users&"},
		{"prefix is whole path", "GET", "/api", "", "/api/", "GET&/&"},
		{"prefix only on boundary", "GET", "/apiary", "", "/api", "GET&/apiary&"},
		{"repeated names", "GET", "/", "b=2&a=1&b=1", "", "GET&/&a=1&b=1,2"},
		{"tilde and star", "GET", "/", "x=~*", "", "GET&/&x=~%2A"},
		{"gRPC method", "POST", "/pkg.Service/Method", "", "", "POST&/pkg.Service/Method&"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := asymjwt.CanonicalRequest(tt.method, tt.path, tt.query, tt.prefix)
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	for _, query := range []string{"a=%zz", "filter=a;b", "a;b=1"} {
		if _, err := asymjwt.CanonicalRequest("GET", "/", query, ""); !errors.Is(err, asymjwt.ErrRequestMismatch) {
			t.Fatalf("query %q: err = %v, want ErrRequestMismatch", query, err)
		}
	}
}

func fixedClock(unix int64) func() time.Time {
	return func() time.Time { return time.Unix(unix, 0) }
}
