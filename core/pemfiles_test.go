package asymjwt_test

import (
	"crypto/ecdsa"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

// firstBlock is the first PEM block of a fixture, re-encoded.
func firstBlock(t testing.TB, name string) string {
	t.Helper()
	b, _ := pem.Decode(readFixture(t, "keys", name))
	if b == nil {
		t.Fatalf("%s: no PEM", name)
	}
	return string(pem.EncodeToMemory(b))
}

func publicPEM(t testing.TB, name string) string {
	t.Helper()
	key, err := asymjwt.ParsePrivateKey(readFixture(t, "keys", name), nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := asymjwt.MarshalPublicKeyPEM(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	return string(p)
}

// PEM files as OpenSSL and TLS tools write them: several blocks.
func TestParsePrivateKeyMultiBlockPEM(t *testing.T) {
	sec1 := string(readFixture(t, "keys", "p256.sec1.pem"))
	p256Kid := func() string {
		key, err := asymjwt.ParsePrivateKey([]byte(sec1), nil)
		if err != nil {
			t.Fatal(err)
		}
		kid, _ := asymjwt.Fingerprint(key.Public())
		return kid
	}()
	ok := []struct {
		name, data, curve, kid string
	}{
		{"openssl ecparam -genkey (P-256)", string(readFixture(t, "keys", "p256.ecparams.pem")), "P-256", ""},
		{"openssl ecparam -genkey (P-384)", string(readFixture(t, "keys", "p384.ecparams.pem")), "P-384", ""},
		{"key and its certificate", string(readFixture(t, "keys", "p256.with-cert.pem")), "P-256", p256Kid},
		{"certificate first", string(readFixture(t, "keys", "p256.with-cert.pem"))[len(sec1):] + sec1, "P-256", p256Kid},
		{"the same key twice (SEC 1 and PKCS#8)", sec1 + string(readFixture(t, "keys", "p256.pkcs8.pem")), "P-256", p256Kid},
		{"key and its own public key", sec1 + publicPEM(t, "p256.sec1.pem"), "P-256", p256Kid},
		{"text around the blocks", "Bag Attributes\n    friendlyName: x\n" + sec1 + "trailing words\n", "P-256", p256Kid},
	}
	for _, tt := range ok {
		t.Run(tt.name, func(t *testing.T) {
			key, err := asymjwt.ParsePrivateKey([]byte(tt.data), nil)
			if err != nil {
				t.Fatal(err)
			}
			ec, isEC := key.Public().(*ecdsa.PublicKey)
			if !isEC || ec.Curve.Params().Name != tt.curve {
				t.Fatalf("key %T, want ECDSA on %s", key.Public(), tt.curve)
			}
			if kid, _ := asymjwt.Fingerprint(key.Public()); tt.kid != "" && kid != tt.kid {
				t.Errorf("kid %s, want %s", kid, tt.kid)
			}
			if _, err := asymjwt.NewSigner("u", key); err != nil {
				t.Fatal(err)
			}
		})
	}
	refused := []struct {
		name, data, want string
	}{
		{"two different private keys", string(readFixture(t, "keys", "two-keys.pem")), "two different private keys"},
		{"two different keys, other formats", sec1 + string(readFixture(t, "keys", "ed25519.pkcs8.pem")), "two different private keys"},
		{"EC PARAMETERS of another curve", string(readFixture(t, "keys", "p256.wrong-ecparams.pem")), "EC PARAMETERS block names P-384, but the key is ECDSA on P-256"},
		{"EC PARAMETERS with an Ed25519 key", firstBlock(t, "p256.ecparams.pem") + string(readFixture(t, "keys", "ed25519.pkcs8.pem")), "the key is Ed25519"},
		{"another key's public key", sec1 + publicPEM(t, "ed25519.pkcs8.pem"), "public key that is not the private key's"},
		{"certificate only", string(readFixture(t, "keys", "p256.with-cert.pem"))[len(sec1):], "no private key among the PEM blocks (CERTIFICATE)"},
		{"EC PARAMETERS only", firstBlock(t, "p256.ecparams.pem"), "no private key"},
		{"public key only", publicPEM(t, "p256.sec1.pem"), "this is a public key; a private key is needed"},
		{"OpenSSH public line", string(readFixture(t, "keys", "openssh-ed25519.pub")), "this is a public key; a private key is needed"},
		{"JWK", `{"kty":"OKP","crv":"Ed25519","x":"K5jYktqBkEt0j0AbTalQDrEtkNXbiVAOk77finHazig"}`, "this is a public key; a private key is needed"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			_, err := asymjwt.ParsePrivateKey([]byte(tt.data), nil)
			if !errors.Is(err, asymjwt.ErrInvalidKey) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrInvalidKey saying %q", err, tt.want)
			}
		})
	}
}

func TestParsePublicKeyMultiBlockPEM(t *testing.T) {
	pub := publicPEM(t, "p256.sec1.pem")
	cert := string(readFixture(t, "keys", "p256.with-cert.pem"))[len(readFixture(t, "keys", "p256.sec1.pem")):]
	params256, params384 := firstBlock(t, "p256.ecparams.pem"), firstBlock(t, "p384.ecparams.pem")
	for _, tt := range []struct{ name, data string }{
		{"EC PARAMETERS and the key", params256 + pub},
		{"the key twice", pub + pub},
		{"certificate and key", cert + pub},
		{"text before", "subject=CN = fixture\n" + pub},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := asymjwt.ParsePublicKey([]byte(tt.data)); err != nil {
				t.Fatal(err)
			}
		})
	}
	for _, tt := range []struct{ name, data, want string }{
		{"EC PARAMETERS of another curve", params384 + pub, "names P-384, but the key is ECDSA on P-256"},
		{"two different keys", pub + publicPEM(t, "ed25519.pkcs8.pem"), "two different public keys"},
		{"a private key", string(readFixture(t, "keys", "p256.ecparams.pem")), `this is a private key (PEM "EC PRIVATE KEY"): give its public key`},
		{"public and private key", pub + string(readFixture(t, "keys", "p256.sec1.pem")), "this is a private key"},
		{"certificate only", cert, "openssl x509 -pubkey -noout"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := asymjwt.ParsePublicKey([]byte(tt.data))
			if !errors.Is(err, asymjwt.ErrInvalidKey) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrInvalidKey saying %q", err, tt.want)
			}
		})
	}
}

// Unsupported key types are named, with what is supported, instead of
// the parsers' internals.
func TestUnsupportedKeyTypesNamed(t *testing.T) {
	internals := []string{"x509:", "ssh:", "*ecdh", "*dsa", "base64", "1.3.101", "1.2.840", "unknown", "PEM block"}
	check := func(t *testing.T, err error, name string) {
		t.Helper()
		if !errors.Is(err, asymjwt.ErrInvalidKey) {
			t.Fatalf("err = %v, want ErrInvalidKey", err)
		}
		msg := err.Error()
		if !strings.Contains(msg, "unsupported key type "+name) || !strings.Contains(msg, "supported: Ed25519, ECDSA on P-256, P-384 or P-521, RSA of 2048 to 8192 bits") {
			t.Errorf("%q does not name %s and the supported types", msg, name)
		}
		for _, s := range internals {
			if strings.Contains(msg, s) {
				t.Errorf("%q shows parser internals (%s)", msg, s)
			}
		}
	}
	for _, tt := range []struct{ file, pass, name string }{
		{"secp256k1.ecparams.pem", "", "ECDSA on secp256k1"},
		{"secp256k1.pkcs8.pem", "", "ECDSA on secp256k1"},
		{"x25519.pkcs8.pem", "", "X25519"},
		{"x25519.pbes2.pem", fixturePassphrase, "X25519"},
		{"ed448.pkcs8.pem", "", "Ed448"},
		{"dsa.pkcs8.pem", "", "DSA"},
		{"dsa.traditional.pem", "", "DSA"},
		{"openssh-dsa", "", "DSA"},
	} {
		t.Run("private "+tt.file, func(t *testing.T) {
			_, err := asymjwt.ParsePrivateKey(readFixture(t, "keys", tt.file), []byte(tt.pass))
			check(t, err, tt.name)
		})
	}
	for _, tt := range []struct{ file, name string }{
		{"secp256k1.spki.pem", "ECDSA on secp256k1"},
		{"x25519.spki.pem", "X25519"},
		{"ed448.spki.pem", "Ed448"},
		{"dsa.spki.pem", "DSA"},
		{"openssh-dsa.pub", "DSA"},
	} {
		t.Run("public "+tt.file, func(t *testing.T) {
			_, err := asymjwt.ParsePublicKey(readFixture(t, "keys", tt.file))
			check(t, err, tt.name)
			if strings.HasSuffix(tt.file, ".pub") {
				_, err = asymjwt.ParseAuthorizedKeys(readFixture(t, "keys", tt.file))
				check(t, err, tt.name)
			}
		})
	}
	for _, tt := range []struct{ jwk, name string }{
		{`{"kty":"EC","crv":"secp256k1","x":"AA","y":"AA"}`, `ECDSA on "secp256k1"`},
		{`{"kty":"OKP","crv":"X25519","x":"AA"}`, `"X25519"`},
		{`{"kty":"OKP","crv":"Ed448","x":"AA"}`, `"Ed448"`},
		{`{"kty":"oct","k":"AAAA"}`, `JWK kty "oct"`},
	} {
		_, err := asymjwt.ParsePublicKey([]byte(tt.jwk))
		check(t, err, tt.name)
	}
	sk := "sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIEX/dQ0v4127bEo8eeG1EV0ApO2lWbSnN6RXusmsjjaeAAAABHNzaDo= x"
	_, err := asymjwt.ParsePublicKey([]byte(sk))
	check(t, err, "Ed25519 on a security key")
}
