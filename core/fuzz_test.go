package asymjwt_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

// Every parser of untrusted input has a fuzz target here; `go test` runs
// the seed corpus, `make fuzz` explores.

var verificationErrors = []error{
	asymjwt.ErrNoCredentials, asymjwt.ErrMultipleCredentials, asymjwt.ErrScheme,
	asymjwt.ErrTokenTooLarge, asymjwt.ErrMalformed, asymjwt.ErrUnknownUser,
	asymjwt.ErrUnknownKey, asymjwt.ErrAlgorithm, asymjwt.ErrSignature, asymjwt.ErrStale,
	asymjwt.ErrReplay, asymjwt.ErrAudience, asymjwt.ErrRequestMismatch,
}

func isVerificationError(err error) bool {
	return slices.ContainsFunc(verificationErrors, func(target error) bool { return errors.Is(err, target) })
}

// alwaysFresh is a replay store that never remembers, so a fuzzer can
// present the seed token again and again.
type alwaysFresh struct{}

func (alwaysFresh) Claim(context.Context, string, time.Time) (bool, error) { return true, nil }

func fuzzVerifier(f *testing.F) (*asymjwt.Verifier, []string) {
	keys := asymjwt.NewMemoryKeyStore()
	var tokens []string
	for _, vec := range loadPythonVectors(f) {
		pub, err := asymjwt.ParsePublicKey(readFixture(f, "python", vec.KeyPublic))
		if err != nil {
			f.Fatal(err)
		}
		keys.Add(vec.Username, pub)
		tokens = append(tokens, vec.Token)
	}
	v, err := asymjwt.NewVerifier(keys,
		asymjwt.WithClock(fixedClock(1_700_000_000)),
		asymjwt.WithTolerance(time.Hour),
		asymjwt.WithReplayStore(alwaysFresh{}),
		asymjwt.WithLogger(discardLogger))
	if err != nil {
		f.Fatal(err)
	}
	return v, tokens
}

func FuzzAuthorizationHeader(f *testing.F) {
	v, tokens := fuzzVerifier(f)
	for _, tok := range tokens {
		f.Add("JWT " + tok)
		f.Add("jwt  " + tok + " ")
		f.Add("Bearer " + tok)
	}
	f.Add("")
	f.Add("JWT")
	f.Add("JWT a.b.c")
	f.Fuzz(func(t *testing.T, header string) {
		id, err := v.Authenticate(context.Background(), []string{header}, nil)
		if err != nil {
			if id != nil || !isVerificationError(err) {
				t.Fatalf("id %v, err %v", id, err)
			}
			return
		}
		// Only the committed vectors carry valid signatures.
		if !slices.ContainsFunc(tokens, func(tok string) bool { return strings.Contains(header, tok) }) {
			t.Fatalf("accepted a header with no valid token: %q", header)
		}
	})
}

func FuzzVerifyToken(f *testing.F) {
	v, tokens := fuzzVerifier(f)
	for _, tok := range tokens {
		f.Add(tok)
		parts := strings.Split(tok, ".")
		f.Add(parts[0] + "." + parts[1] + ".")
		f.Add(parts[1] + "." + parts[0] + "." + parts[2])
	}
	f.Add("e30.e30.e30")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Fuzz(func(t *testing.T, token string) {
		id, err := v.Verify(context.Background(), token)
		if err != nil {
			if id != nil || !isVerificationError(err) {
				t.Fatalf("id %v, err %v", id, err)
			}
			return
		}
		if !slices.Contains(tokens, token) {
			t.Fatalf("accepted a token that is not a committed vector: %q", token)
		}
	})
}

func FuzzParsePublicKey(f *testing.F) {
	for _, name := range fixtureNames(f, "keys", ".pub", "spki.pem", "pkcs1pub.pem", ".pub.pem") {
		f.Add(readFixture(f, "keys", name))
	}
	f.Add([]byte(`{"kty":"OKP","crv":"Ed25519","x":"K5jYktqBkEt0j0AbTalQDrEtkNXbiVAOk77finHazig"}`))
	f.Add([]byte(`{"kty":"EC","crv":"P-256","x":"","y":""}`))
	// Multi-block PEM: parameters, certificates, two keys.
	ecParams := readFixture(f, "keys", "p256.ecparams.pem")[:len("-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n")]
	withCert := readFixture(f, "keys", "p256.with-cert.pem")
	spki := readFixture(f, "keys", "ed25519.spki.pem")
	f.Add(append(bytes.Clone(ecParams), spki...))
	f.Add(append(bytes.Clone(withCert), spki...))
	f.Add(append(bytes.Clone(spki), readFixture(f, "keys", "rsa2048.spki.pem")...))
	f.Add([]byte("ssh-dss AAAAB3NzaC1kc3MAAAA= x"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pub, comment, err := asymjwt.ParseAuthorizedKey(data)
		if err != nil {
			if !errors.Is(err, asymjwt.ErrInvalidKey) {
				t.Fatalf("error %v does not wrap ErrInvalidKey", err)
			}
			return
		}
		_ = comment
		pemText, err := asymjwt.MarshalPublicKeyPEM(pub)
		if err != nil {
			t.Fatalf("parsed key does not marshal: %v", err)
		}
		back, err := asymjwt.ParsePublicKey(pemText)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := asymjwt.MarshalPublicKeyPEM(back)
		if !bytes.Equal(pemText, again) {
			t.Fatal("PEM round trip changed the key")
		}
	})
}

func FuzzParsePrivateKey(f *testing.F) {
	for _, name := range fixtureNames(f, "keys") {
		if strings.HasSuffix(name, ".md") {
			continue
		}
		f.Add(readFixture(f, "keys", name), []byte(fixturePassphrase))
	}
	f.Fuzz(func(t *testing.T, data, passphrase []byte) {
		key, err := asymjwt.ParsePrivateKey(data, passphrase)
		if err != nil {
			if !errors.Is(err, asymjwt.ErrInvalidKey) && !errors.Is(err, asymjwt.ErrPassphrase) {
				t.Fatalf("error %v wraps neither ErrInvalidKey nor ErrPassphrase", err)
			}
			return
		}
		if _, err := asymjwt.NewSigner("fuzz", key); err != nil {
			t.Fatalf("parsed key cannot sign: %v", err)
		}
	})
}

func FuzzCanonicalRequest(f *testing.F) {
	f.Add("GET", "/a/b/", "b=2&a=1&a=0", "")
	f.Add("post", "/api/x&y", "q=%20+*~&empty&=v", "/api")
	f.Add("GET", "", "%zz=1", "")
	f.Fuzz(func(t *testing.T, method, path, query, prefix string) {
		got, err := asymjwt.CanonicalRequest(method, path, query, prefix)
		if err != nil {
			if !errors.Is(err, asymjwt.ErrRequestMismatch) {
				t.Fatalf("error %v", err)
			}
			return
		}
		if !strings.HasPrefix(got, strings.ToUpper(method)+"&") {
			t.Fatalf("canonical %q lost the method", got)
		}
		// Parameter order on the wire never changes the canonical form.
		parts := strings.Split(query, "&")
		slices.Reverse(parts)
		reversed, err := asymjwt.CanonicalRequest(method, path, strings.Join(parts, "&"), prefix)
		if err != nil || reversed != got {
			t.Fatalf("order-dependent: %q vs %q (%v)", got, reversed, err)
		}
	})
}

// fixtureNames lists testdata/dir files whose names end in one of suffixes
// (all files when none are given).
func fixtureNames(f *testing.F, dir string, suffixes ...string) []string {
	entries, err := os.ReadDir(filepath.Join("testdata", dir))
	if err != nil {
		f.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if len(suffixes) == 0 || slices.ContainsFunc(suffixes, func(s string) bool { return strings.HasSuffix(e.Name(), s) }) {
			names = append(names, e.Name())
		}
	}
	return names
}

// FuzzEd25519PublicKey: no Ed25519 key that core accepts lets the trivial
// forgeries through (R a point of small order, S = 0), whatever the
// message.
func FuzzEd25519PublicKey(f *testing.F) {
	smallOrder := ed25519SmallOrderEncodings(f)
	for _, enc := range smallOrder {
		f.Add(enc, []byte("m"))
	}
	f.Add([]byte(identityKey), []byte{})
	good, _, _ := ed25519.GenerateKey(nil)
	f.Add([]byte(good), []byte("hello"))
	f.Fuzz(func(t *testing.T, key, msg []byte) {
		if len(key) != ed25519.PublicKeySize {
			return
		}
		jwk := fmt.Appendf(nil, `{"kty":"OKP","crv":"Ed25519","x":%q}`, base64.RawURLEncoding.EncodeToString(key))
		pub, err := asymjwt.ParsePublicKey(jwk)
		_, algErr := asymjwt.AllowedAlgorithms(ed25519.PublicKey(key))
		if err != nil {
			if !errors.Is(err, asymjwt.ErrInvalidKey) {
				t.Fatalf("error %v does not wrap ErrInvalidKey", err)
			}
			return
		}
		if algErr != nil {
			t.Fatalf("parsed, but refused for use: %v", algErr)
		}
		for _, r := range smallOrder {
			if ed25519.Verify(pub.(ed25519.PublicKey), msg, append(bytes.Clone(r), make([]byte, 32)...)) {
				t.Fatalf("accepted key %x verifies the forgery R=%x, S=0", key, r)
			}
		}
	})
}
