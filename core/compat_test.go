package asymjwt_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
	"github.com/golang-jwt/jwt/v5"
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

// TestTokensInPythonShape: a token from a Signer without WithAudience is
// in the exact shape of the Python library's tokens, which is what its
// verifier (PyJWT's decode without an audience) accepts: the header byte
// for byte, the claims exactly username, time and nonce in that order —
// no aud, which PyJWT would refuse, nor qsh or bh — and a signature that
// an independent JWS implementation (golang-jwt, restricted to the
// Python library's algorithm as PyJWT's algorithms= list is) verifies
// with the Python library's public key.
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
			if names := memberNames(t, payload); !slices.Equal(names, []string{"username", "time", "nonce"}) {
				t.Fatalf("claims %v, the Python library's are [username time nonce]: %s", names, payload)
			}
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
			pub, err := asymjwt.ParsePublicKey(readFixture(t, "python", vec.KeyPublic))
			if err != nil {
				t.Fatal(err)
			}
			_, err = jwt.Parse(token, func(*jwt.Token) (any, error) { return pub, nil },
				jwt.WithValidMethods([]string{vec.Alg}), jwt.WithoutClaimsValidation())
			if err != nil {
				t.Fatalf("golang-jwt refuses the token: %v", err)
			}
		})
	}
}

// memberNames returns the member names of the JSON object data, in order.
func memberNames(t *testing.T, data []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %s", data)
	}
	var names []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, tok.(string))
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			t.Fatal(err)
		}
	}
	return names
}

// TestBodyHashExamples: the bh examples of docs/PROTOCOL.md §1.4.
func TestBodyHashExamples(t *testing.T) {
	for body, want := range map[string]string{
		`{"item":"widget","qty":3}`:         "aamXAuwsR0BS8_0VqrfkY-A8fY-W76PyPuXeW2AtTGU",
		"{\"item\":\"widget\",\"qty\":3}\n": "woHh6YeqwEYHsRvEMIdbiofExCQRsreItM2CkJecGsU",
		"":                                  "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU",
	} {
		if got := asymjwt.BodyHash([]byte(body)); got != want {
			t.Errorf("BodyHash(%q) = %s, want %s", body, got, want)
		}
	}
	if got := asymjwt.BodyHash(nil); got != "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU" {
		t.Errorf("BodyHash(nil) = %s, want the empty body's", got)
	}
}

// keyCapture records the keys a verifier claims, so that the replay key
// derivation of docs/PROTOCOL.md §1.6 — which other implementations
// sharing a store must reproduce — is checked from the outside.
type keyCapture struct {
	*asymjwt.MemoryReplayStore
	keys []string
}

func (c *keyCapture) Claim(ctx context.Context, key string, expires time.Time) (bool, error) {
	c.keys = append(c.keys, key)
	return c.MemoryReplayStore.Claim(ctx, key, expires)
}

func (c *keyCapture) ClaimIssued(ctx context.Context, key string, issued time.Time) (bool, error) {
	c.keys = append(c.keys, key)
	return c.MemoryReplayStore.ClaimIssued(ctx, key, issued)
}

// documentedReplayKey is the derivation as docs/PROTOCOL.md §1.6 states it.
func documentedReplayKey(username string, unix int64, nonce string, aud ...string) string {
	var b []byte
	field := func(s string) {
		b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
		b = append(b, s...)
	}
	field(username)
	b = binary.BigEndian.AppendUint64(b, uint64(unix))
	field(nonce)
	for _, a := range aud {
		field(a)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

func TestReplayKeyDerivation(t *testing.T) {
	vec := loadPythonVectors(t)[0]
	if vec.Username != "alice" || vec.Time != 1700000000 || vec.Nonce != "n0nce-FIXE0" {
		t.Fatalf("first vector is %s/%d/%s, the documented example needs alice/1700000000/n0nce-FIXE0", vec.Username, vec.Time, vec.Nonce)
	}
	pub, err := asymjwt.ParsePublicKey(readFixture(t, "python", vec.KeyPublic))
	if err != nil {
		t.Fatal(err)
	}
	keys := asymjwt.NewMemoryKeyStore()
	if _, err := keys.Add(vec.Username, pub); err != nil {
		t.Fatal(err)
	}
	clock := asymjwt.WithClock(fixedClock(vec.Time))
	store := &keyCapture{MemoryReplayStore: asymjwt.NewMemoryReplayStore(clock)}
	v := newTestVerifier(t, keys, clock, asymjwt.WithReplayStore(store), asymjwt.WithAudience("orders"))
	if _, err := v.Verify(context.Background(), vec.Token); err != nil {
		t.Fatal(err)
	}
	// With an audience: a token of our own, whose nonce is random.
	key, err := asymjwt.ParsePrivateKey(readFixture(t, "python", vec.KeyPrivate), nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := asymjwt.NewSigner(vec.Username, key, clock, asymjwt.WithAudience("orders"))
	if err != nil {
		t.Fatal(err)
	}
	token, err := s.Token()
	if err != nil {
		t.Fatal(err)
	}
	id, err := v.Verify(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"980d102f6a11ff0735d70b9e34731580", // the example in docs/PROTOCOL.md §1.6
		documentedReplayKey(vec.Username, vec.Time, id.Nonce, "orders"),
	}
	if documentedReplayKey("alice", 1700000000, "n0nce-FIXE0", "orders") != "d4c8663446a01c690a61265621124699" {
		t.Fatal("the documented example with aud is wrong")
	}
	if !slices.Equal(store.keys, want) {
		t.Fatalf("claimed keys %q, want %q", store.keys, want)
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
