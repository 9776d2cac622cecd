//lint:file-ignore SA1019 invalid EC keys can only be built from raw coordinates.

package asymjwt_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
	"golang.org/x/crypto/ssh"
)

// ed25519SmallOrderEncodings derives, independently of the table in
// keys.go, every 32-byte string that crypto/ed25519 decodes to a point of
// small order: the 8 points whose order divides 8 (RFC 7748 §4.1 curve,
// twisted Edwards form of RFC 8032 §5.1), each y also as y+p when that
// fits in 255 bits, each with both values of the sign bit (a sign bit on
// x = 0 is accepted by crypto/ed25519 as -0 = 0, and for x != 0 it picks
// the other point of the pair, also of small order).
func ed25519SmallOrderEncodings(t testing.TB) [][]byte {
	t.Helper()
	p := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
	mod := func(x *big.Int) *big.Int { return x.Mod(x, p) }
	d := mod(new(big.Int).Mul(big.NewInt(-121665), new(big.Int).ModInverse(big.NewInt(121666), p)))
	one := big.NewInt(1)
	// Points of order 1, 2 and 4: y = 1, y = -1, and y = 0 (x = ±sqrt(-1)).
	ys := []*big.Int{big.NewInt(1), new(big.Int).Sub(p, one), big.NewInt(0)}
	// Order 8: 2P has y = 0, that is y^2 + x^2 = 0 with -x^2 + y^2 = 1 + d x^2 y^2,
	// so d y^4 + 2 y^2 - 1 = 0: y^2 = (-1 ± sqrt(1+d)) / d.
	s := new(big.Int).ModSqrt(mod(new(big.Int).Add(d, one)), p)
	if s == nil {
		t.Fatal("1+d is not a square")
	}
	dInv := new(big.Int).ModInverse(d, p)
	points := 4 // y = 1 and y = -1 give one point each, y = 0 two
	for _, sign := range []int64{1, -1} {
		y2 := mod(new(big.Int).Mul(new(big.Int).Add(big.NewInt(-1), new(big.Int).Mul(big.NewInt(sign), s)), dInv))
		y := new(big.Int).ModSqrt(y2, p)
		if y == nil {
			continue
		}
		ys = append(ys, y, new(big.Int).Sub(p, y))
		points += 4 // each y with both x
	}
	if points != 8 {
		t.Fatalf("found %d small-order points, want 8", points)
	}
	var encs [][]byte
	limit := new(big.Int).Lsh(one, 255)
	for _, y := range ys {
		for _, v := range []*big.Int{y, new(big.Int).Add(y, p)} {
			if v.Cmp(limit) >= 0 {
				continue
			}
			for _, signBit := range []byte{0, 0x80} {
				enc := make([]byte, 32)
				v.FillBytes(enc)
				for i, j := 0, 31; i < j; i, j = i+1, j-1 {
					enc[i], enc[j] = enc[j], enc[i]
				}
				enc[31] |= signBit
				encs = append(encs, enc)
			}
		}
	}
	if len(encs) != 14 {
		t.Fatalf("%d encodings, want 14 (7 y values × 2 signs)", len(encs))
	}
	return encs
}

// forgedSignature is R = identity, S = 0: it satisfies [S]B = R + [k]A
// for every message when A is the identity.
var forgedSignature = append([]byte{1}, make([]byte, 63)...)

var identityKey = ed25519.PublicKey(append([]byte{1}, make([]byte, 31)...))

// The example: proves the test key is a real forgery lever for
// the standard library, so refusing it matters.
func TestIdentityKeyForgesWithStdlib(t *testing.T) {
	if !ed25519.Verify(identityKey, []byte("any message at all"), forgedSignature) {
		t.Fatal("crypto/ed25519 no longer accepts the forgery: the entry checks are still needed, but update this test")
	}
}

// publicKeyForms encodes pub in every public-key form a parser reads.
func publicKeyForms(t testing.TB, pub crypto.PublicKey) map[string][]byte {
	t.Helper()
	forms := map[string][]byte{}
	if der, err := x509.MarshalPKIXPublicKey(pub); err == nil {
		forms["PEM SPKI"] = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}
	if k, ok := pub.(*rsa.PublicKey); ok {
		forms["PEM PKCS#1"] = pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(k)})
	}
	func() {
		defer func() { _ = recover() }() // x/crypto panics on EC points off the curve
		if sp, err := ssh.NewPublicKey(pub); err == nil {
			forms["OpenSSH"] = ssh.MarshalAuthorizedKey(sp)
		}
	}()
	b64 := base64.RawURLEncoding.EncodeToString
	switch k := pub.(type) {
	case ed25519.PublicKey:
		forms["JWK"] = fmt.Appendf(nil, `{"kty":"OKP","crv":"Ed25519","x":%q}`, b64(k))
	case *rsa.PublicKey:
		forms["JWK"] = fmt.Appendf(nil, `{"kty":"RSA","n":%q,"e":%q}`, b64(k.N.Bytes()), b64(big.NewInt(int64(k.E)).Bytes()))
	case *ecdsa.PublicKey:
		size := (k.Curve.Params().BitSize + 7) / 8
		x, y := make([]byte, size), make([]byte, size)
		if k.X.Sign() >= 0 && k.X.BitLen() <= 8*size && k.Y.Sign() >= 0 && k.Y.BitLen() <= 8*size {
			k.X.FillBytes(x)
			k.Y.FillBytes(y)
			forms["JWK"] = fmt.Appendf(nil, `{"kty":"EC","crv":%q,"x":%q,"y":%q}`, k.Curve.Params().Name, b64(x), b64(y))
		}
	}
	return forms
}

// rawFingerprint is Fingerprint without its checks, for keys it refuses.
func rawFingerprint(t testing.TB, pub crypto.PublicKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	return hex.EncodeToString(sum[:])
}

// assertRefusedEverywhere checks that pub is refused at every place a
// public key enters core, with ErrWeakKey when weak is set (else at least
// ErrInvalidKey).
func assertRefusedEverywhere(t *testing.T, pub crypto.PublicKey, weak bool) {
	t.Helper()
	want := asymjwt.ErrInvalidKey
	if weak {
		want = asymjwt.ErrWeakKey
	}
	check := func(where string, err error) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Errorf("%s: err = %v, want %v", where, err, want)
		}
	}
	// x/crypto/ssh refuses some weak RSA keys itself, as invalid.
	_, isEd := pub.(ed25519.PublicKey)
	checkParsed := func(where string, err error) {
		t.Helper()
		if isEd {
			check(where, err)
		} else if !errors.Is(err, asymjwt.ErrInvalidKey) {
			t.Errorf("%s: err = %v, want ErrInvalidKey", where, err)
		}
	}
	for form, data := range publicKeyForms(t, pub) {
		_, err := asymjwt.ParsePublicKey(data)
		checkParsed("ParsePublicKey "+form, err)
		if form != "JWK" { // an authorized-keys file holds OpenSSH lines and PEM
			_, err = asymjwt.ParseAuthorizedKeys(data)
			checkParsed("ParseAuthorizedKeys "+form, err)
		} else {
			_, err = asymjwt.ParseJWK(data)
			check("ParseJWK", err)
			set := fmt.Appendf(nil, `{"keys":[%s]}`, data)
			if keys, err := asymjwt.ParseJWKS(set); err != nil || len(keys) != 0 {
				t.Errorf("ParseJWKS kept %d keys (err %v), want none", len(keys), err)
			}
		}
	}
	_, err := asymjwt.NewMemoryKeyStore().Add("alice", pub)
	check("MemoryKeyStore.Add", err)
	_, err = asymjwt.Fingerprint(pub)
	check("Fingerprint", err)
	_, err = asymjwt.NewJWK(pub)
	check("NewJWK", err)
	_, err = asymjwt.NewJWKSHandler(pub)
	check("NewJWKSHandler", err)
	_, err = asymjwt.MarshalPublicKeyPEM(pub)
	check("MarshalPublicKeyPEM", err)
	_, err = asymjwt.MarshalPublicKeyOpenSSH(pub, "")
	check("MarshalPublicKeyOpenSSH", err)
	for _, alg := range []string{asymjwt.EdDSA, asymjwt.RS256, asymjwt.ES256} {
		if _, err := asymjwt.NewPinnedKey(pub, alg); err == nil {
			t.Errorf("NewPinnedKey(%s) accepted it", alg)
		}
	}
}

func TestWeakEd25519KeysRefused(t *testing.T) {
	encs := ed25519SmallOrderEncodings(t)
	for _, enc := range encs {
		pub := ed25519.PublicKey(enc)
		t.Run(hex.EncodeToString(enc), func(t *testing.T) {
			assertRefusedEverywhere(t, pub, true)
			// The per-use check (run by the verifier on every key a store
			// hands over) refuses it too.
			if _, err := asymjwt.AllowedAlgorithms(pub); !errors.Is(err, asymjwt.ErrWeakKey) {
				t.Errorf("AllowedAlgorithms: err = %v, want ErrWeakKey", err)
			}
			// A private key whose public half is weak: the seed is
			// ordinary, the stored public half is not.
			priv := ed25519.PrivateKey(append(make([]byte, 32), enc...))
			if _, err := asymjwt.NewSigner("alice", priv); !errors.Is(err, asymjwt.ErrWeakKey) {
				t.Errorf("NewSigner: err = %v, want ErrWeakKey", err)
			}
			if _, err := asymjwt.MarshalPrivateKeyPEM(priv, nil); !errors.Is(err, asymjwt.ErrWeakKey) {
				t.Errorf("MarshalPrivateKeyPEM: err = %v, want ErrWeakKey", err)
			}
		})
	}
}

// Non-canonical encodings (y >= p) are never produced by key generation;
// RFC 8032 §5.1.3 rejects them, crypto/ed25519 does not.
func TestNonCanonicalEd25519KeysRefused(t *testing.T) {
	for low := 0xed; low <= 0xff; low++ {
		for _, top := range []byte{0x7f, 0xff} {
			enc := make([]byte, 32)
			for i := range enc {
				enc[i] = 0xff
			}
			enc[0], enc[31] = byte(low), top
			pub := ed25519.PublicKey(enc)
			if _, err := asymjwt.AllowedAlgorithms(pub); !errors.Is(err, asymjwt.ErrWeakKey) {
				t.Errorf("%x: err = %v, want ErrWeakKey", enc, err)
			}
			if _, err := asymjwt.ParsePublicKey(publicKeyForms(t, pub)["JWK"]); !errors.Is(err, asymjwt.ErrWeakKey) {
				t.Errorf("%x: JWK: err = %v, want ErrWeakKey", enc, err)
			}
		}
	}
}

func TestEd25519KeyNotOnCurveRefused(t *testing.T) {
	// y = 2 gives x^2 = 3/(4d+1), not a square mod p.
	enc := append([]byte{2}, make([]byte, 31)...)
	if ed25519.Verify(ed25519.PublicKey(enc), nil, forgedSignature) {
		t.Fatal("test premise: crypto/ed25519 decodes it")
	}
	assertRefusedEverywhere(t, ed25519.PublicKey(enc), false)
}

// Ordinary keys pass: the checks refuse nothing real.
func TestGeneratedKeysPassWeakKeyChecks(t *testing.T) {
	for range 200 {
		pub, _, err := ed25519.GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := asymjwt.ParsePublicKey(publicKeyForms(t, pub)["JWK"]); err != nil {
			t.Fatalf("%x: %v", []byte(pub), err)
		}
	}
}

func TestWeakRSAKeysRefused(t *testing.T) {
	key, err := asymjwt.ParsePrivateKey(readFixture(t, "keys", "rsa2048.pkcs8.pem"), nil)
	if err != nil {
		t.Fatal(err)
	}
	good := key.Public().(*rsa.PublicKey)
	// An odd 2048-bit modulus with the factor 3 (and 997): anyone who
	// divides it can sign, whatever the other factor.
	withFactor := func(f int64) *big.Int {
		q := new(big.Int).Rsh(good.N, 2)
		n := q.Mul(q, big.NewInt(f))
		for n.BitLen() < 2048 {
			n.Lsh(n, 1)
		}
		n.SetBit(n, 0, 1)
		for new(big.Int).Mod(n, big.NewInt(f)).Sign() != 0 {
			n.Add(n, big.NewInt(2))
		}
		return n
	}
	tests := []struct {
		name string
		pub  *rsa.PublicKey
	}{
		{"e = 1", &rsa.PublicKey{N: good.N, E: 1}},
		{"e = 2", &rsa.PublicKey{N: good.N, E: 2}},
		{"e = 65536", &rsa.PublicKey{N: good.N, E: 65536}},
		{"even modulus", &rsa.PublicKey{N: new(big.Int).Add(good.N, big.NewInt(1)), E: 65537}},
		{"factor 3", &rsa.PublicKey{N: withFactor(3), E: 65537}},
		{"factor 997", &rsa.PublicKey{N: withFactor(997), E: 65537}},
		{"1024 bits", &rsa.PublicKey{N: new(big.Int).Rsh(good.N, 1024), E: 65537}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertRefusedEverywhere(t, tt.pub, true)
		})
	}
	// Exponents past crypto/rsa's bound only come from code (the parsers
	// cannot represent them): refused before use.
	if _, err := asymjwt.NewMemoryKeyStore().Add("a", &rsa.PublicKey{N: good.N, E: 1<<31 + 1}); !errors.Is(err, asymjwt.ErrWeakKey) {
		t.Errorf("e = 2^31+1: err = %v, want ErrWeakKey", err)
	}
	for _, e := range []int{3, 17, 65537} {
		if _, err := asymjwt.NewMemoryKeyStore().Add("a", &rsa.PublicKey{N: good.N, E: e}); err != nil {
			t.Errorf("e = %d: %v", e, err)
		}
	}
}

func TestInvalidECKeysRefused(t *testing.T) {
	p := elliptic.P256().Params()
	key, err := ecdsa.GenerateKey(elliptic.P256(), nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		pub  *ecdsa.PublicKey
	}{
		{"point at infinity (0, 0)", &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int), Y: new(big.Int)}},
		{"off the curve", &ecdsa.PublicKey{Curve: elliptic.P256(), X: key.X, Y: new(big.Int).Add(key.Y, big.NewInt(1))}},
		{"x not reduced", &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).Add(key.X, p.P), Y: key.Y}},
		{"negative y", &ecdsa.PublicKey{Curve: elliptic.P256(), X: key.X, Y: new(big.Int).Sub(key.Y, p.P)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertRefusedEverywhere(t, tt.pub, false)
		})
	}
	if _, err := asymjwt.NewMemoryKeyStore().Add("a", &ecdsa.PublicKey{Curve: elliptic.P256()}); !errors.Is(err, asymjwt.ErrInvalidKey) {
		t.Errorf("no coordinates: err = %v, want ErrInvalidKey", err)
	}
}

// weakStore hands out a key no parser would accept, as a careless custom
// KeyStore might; with ids it is a KeyIDLister.
type weakStore struct {
	pub crypto.PublicKey
	kid string
}

func (s weakStore) Keys(context.Context, string, string) ([]crypto.PublicKey, error) {
	return []crypto.PublicKey{s.pub}, nil
}

type weakIDStore struct{ weakStore }

func (s weakIDStore) KeysWithIDs(context.Context, string, string) ([]crypto.PublicKey, []string, error) {
	return []crypto.PublicKey{s.pub}, []string{s.kid}, nil
}

// forgedToken is a token "signed" with R = identity, S = 0.
func forgedToken(kid string, withKid bool, now time.Time) string {
	enc := base64.RawURLEncoding.EncodeToString
	header := map[string]string{"alg": "EdDSA", "typ": "JWT"}
	if withKid {
		header["kid"] = kid
	}
	h, _ := json.Marshal(header)
	c := `{"username":"alice","time":` + strconv.FormatInt(now.Unix(), 10) + `,"nonce":"` + enc([]byte(now.String())) + `"}`
	return enc(h) + "." + enc([]byte(c)) + "." + enc(forgedSignature)
}

func TestForgedTokenWithIdentityKeyNeverVerifies(t *testing.T) {
	kid := rawFingerprint(t, identityKey)
	stores := map[string]asymjwt.KeyStore{
		"KeyStore":    weakStore{pub: identityKey, kid: kid},
		"KeyIDLister": weakIDStore{weakStore{pub: identityKey, kid: kid}},
	}
	for name, store := range stores {
		for _, withKid := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/kid=%t", name, withKid), func(t *testing.T) {
				v := newTestVerifier(t, store, asymjwt.WithReplayStore(asymjwt.NewMemoryReplayStore()))
				id, err := v.Verify(context.Background(), forgedToken(kid, withKid, time.Now()))
				if err == nil || id != nil {
					t.Fatalf("forged token accepted: %+v", id)
				}
			})
		}
	}
	// Through the parsers and stores that feed real verifiers.
	jwk := publicKeyForms(t, identityKey)["JWK"]
	if _, err := asymjwt.ParsePublicKey(jwk); !errors.Is(err, asymjwt.ErrWeakKey) {
		t.Fatalf("ParsePublicKey: %v", err)
	}
}

func TestAuthorizedKeysDirRefusesWeakKey(t *testing.T) {
	dir := t.TempDir()
	line := publicKeyForms(t, identityKey)["OpenSSH"]
	if err := os.WriteFile(filepath.Join(dir, "alice"), line, 0o644); err != nil {
		t.Fatal(err)
	}
	var reported []error
	d, err := asymjwt.OpenAuthorizedKeysDir(dir,
		asymjwt.WithAuthorizedKeysPollInterval(0),
		asymjwt.WithAuthorizedKeysLogger(discardLogger),
		asymjwt.WithAuthorizedKeysErrorHandler(func(err error) { reported = append(reported, err) }))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if len(reported) != 1 || !errors.Is(reported[0], asymjwt.ErrWeakKey) {
		t.Errorf("reported %v, want one ErrWeakKey", reported)
	}
	if keys, err := d.Keys(context.Background(), "alice", ""); err == nil || len(keys) != 0 {
		t.Errorf("alice's keys: %v, %v; want an error", keys, err)
	}
	v := newTestVerifier(t, d, asymjwt.WithReplayStore(asymjwt.NewMemoryReplayStore()))
	if id, err := v.Verify(context.Background(), forgedToken(rawFingerprint(t, identityKey), true, time.Now())); err == nil {
		t.Fatalf("forged token accepted: %+v", id)
	}
}

func TestJWKSTrustRefusesWeakKey(t *testing.T) {
	srv := ksNewJWKSServer(t)
	srv.set(200, fmt.Appendf(nil, `{"keys":[%s]}`, publicKeyForms(t, identityKey)["JWK"]))
	tr := ksTrust(t, srv)
	ksMustTrust(t, tr, "alice", srv.URL)
	ksStatus(t, tr, "alice")
	if keys, err := tr.Keys(context.Background(), "alice", ""); len(keys) != 0 {
		t.Fatalf("keys %v (err %v), want none", keys, err)
	}
	v := newTestVerifier(t, tr, asymjwt.WithReplayStore(asymjwt.NewMemoryReplayStore()))
	if id, err := v.Verify(context.Background(), forgedToken(rawFingerprint(t, identityKey), true, time.Now())); err == nil {
		t.Fatalf("forged token accepted: %+v", id)
	}
}

// An OpenSSH Ed25519 private key stores its public half next to the seed:
// one that is not the seed's own (weak, or another valid key) is refused.
func TestEd25519PrivateKeyWithForeignPublicHalf(t *testing.T) {
	_, mine, _ := ed25519.GenerateKey(nil)
	other, _, _ := ed25519.GenerateKey(nil)
	for name, half := range map[string]ed25519.PublicKey{"identity": identityKey, "another key": other} {
		t.Run(name, func(t *testing.T) {
			forged := append(append(ed25519.PrivateKey{}, mine.Seed()...), half...)
			block, err := ssh.MarshalPrivateKey(forged, "")
			if err != nil {
				t.Fatal(err)
			}
			_, err = asymjwt.ParsePrivateKey(pem.EncodeToMemory(block), nil)
			if !errors.Is(err, asymjwt.ErrInvalidKey) || !strings.Contains(err.Error(), "public half is not its own") {
				t.Fatalf("err = %v, want ErrInvalidKey: public half is not its own", err)
			}
		})
	}
}
