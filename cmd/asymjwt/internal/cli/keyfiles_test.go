package cli_test

import (
	"strings"
	"testing"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

// A public key where a private key is needed: say so, in every form.
func TestSignWithPublicKeySaysPrivateKeyNeeded(t *testing.T) {
	for _, pub := range []string{"keys/ed25519.pem.pub", "keys/p256.pem.pub", "keys/rsa.pem.pub"} {
		r := run(t, "", "sign", "--key", fixture(pub), "--user", "u")
		wantFail(t, r, 1, fixture(pub)+": asymjwt: invalid key: this is a public key; a private key is needed (give the private key: keygen writes it to the path without .pub)")
		if strings.Contains(r.stderr, "PEM block") {
			t.Errorf("parser internals: %s", r.stderr)
		}
	}
	// The same key as an OpenSSH line or JWK, from stdin.
	for _, format := range []string{"openssh", "jwk"} {
		pub := mustRun(t, "", "pubkey", "--key", fixture("keys/ed25519.pem"), "--format", format)
		wantFail(t, run(t, pub, "sign", "--key", "-", "--user", "u"), 1, "stdin: asymjwt: invalid key: this is a public key; a private key is needed")
	}
}

// openssl ecparam -genkey writes EC PARAMETERS, then the key.
func TestOpenSSLMultiBlockKeyFiles(t *testing.T) {
	key := fixture("keys/p256-ecparams.pem")
	kid := strings.TrimSpace(mustRun(t, "", "fingerprint", key))
	pub := mustRun(t, "", "pubkey", "--key", key)
	if !strings.HasPrefix(pub, "-----BEGIN PUBLIC KEY-----") {
		t.Fatalf("pubkey: %s", pub)
	}
	token := strings.TrimSpace(mustRun(t, "", "sign", "--key", key, "--user", "billing"))
	out := mustRun(t, "", "verify", "--pub", key, token)
	if !strings.Contains(out, "kid:           "+kid+"\n") || !strings.Contains(out, "algorithm:     ES256\n") {
		t.Errorf("verify:\n%s", out)
	}
	// Two different keys in one file: refused, whichever command reads it.
	two := fixture("keys/two-keys.pem")
	for _, args := range [][]string{
		{"sign", "--key", two, "--user", "u"},
		{"pubkey", "--key", two},
		{"fingerprint", two},
		{"verify", "--pub", two, token},
	} {
		wantFail(t, run(t, "", args...), 1, "two different private keys")
	}
}

// Unsupported key types are named, with what is supported.
func TestUnsupportedKeyTypesNamedByCLI(t *testing.T) {
	for _, tt := range []struct{ file, name string }{
		{"keys/openssh-dsa", "DSA"},
		{"keys/openssh-dsa.pub", "DSA"},
		{"keys/dsa.pem.pub", "DSA"},
		{"keys/x25519.pem", "X25519"},
		{"keys/ed448.pem", "Ed448"},
		{"keys/secp256k1.pem", "ECDSA on secp256k1"},
	} {
		t.Run(tt.file, func(t *testing.T) {
			cmds := [][]string{
				{"pubkey", "--key", fixture(tt.file)},
				{"fingerprint", fixture(tt.file)},
				{"verify", "--pub", fixture(tt.file), "a.b.c"},
			}
			if strings.HasSuffix(tt.file, ".pub") {
				cmds = append(cmds, []string{"keys", "add", "--dir", t.TempDir(), "--user", "u", fixture(tt.file)})
			} else {
				cmds = append(cmds, []string{"sign", "--key", fixture(tt.file), "--user", "u"})
			}
			for _, args := range cmds {
				r := run(t, "", args...)
				wantFail(t, r, 1, "unsupported key type "+tt.name)
				if !strings.Contains(r.stderr, "supported: Ed25519, ECDSA on P-256, P-384 or P-521, RSA of 2048 to 8192 bits") {
					t.Errorf("%v: %q does not say what is supported", args, r.stderr)
				}
				for _, internal := range []string{"x509:", "ssh:", "*ecdh", "base64", "1.3.101"} {
					if strings.Contains(r.stderr, internal) {
						t.Errorf("%v: parser internals in %q", args, r.stderr)
					}
				}
			}
		})
	}
}

// The Ed25519 identity point verifies a forged signature for any token:
// refused as weak wherever the CLI takes a public key.
func TestWeakKeyRefusedByCLI(t *testing.T) {
	weak := fixture("keys/ed25519-identity.pub")
	for _, args := range [][]string{
		{"verify", "--pub", weak, "--user", "u", "a.b.c"},
		{"keys", "add", "--dir", t.TempDir(), "--user", "u", weak},
		{"fingerprint", weak},
		{"pubkey", "--key", weak},
		{"jwks", weak},
	} {
		wantFail(t, run(t, "", args...), 1, asymjwt.ErrWeakKey.Error())
	}
}

// Every duration flag says that a unit is needed, instead of flag's
// "parse error".
func TestDurationFlagsNeedAUnit(t *testing.T) {
	pub := fixture("keys/ed25519.pem.pub")
	for _, args := range [][]string{
		{"verify", "--pub", pub, "--tolerance", "20", "a.b.c"},
		{"proxy", "--keys", t.TempDir(), "--upstream", "http://127.0.0.1:1", "--tolerance", "20"},
		{"proxy", "--keys", t.TempDir(), "--upstream", "http://127.0.0.1:1", "--shutdown-timeout", "20"},
		{"request", "--key", fixture("keys/ed25519.pem"), "--user", "u", "--timeout", "20", "http://127.0.0.1:1/"},
	} {
		r := run(t, "", args...)
		wantFail(t, r, 2, `invalid value "20" for flag`)
		if !strings.Contains(r.stderr, "a duration needs a unit: 20s") || strings.Contains(r.stderr, "parse error") {
			t.Errorf("%v: %s", args, r.stderr)
		}
	}
	r := run(t, "", "verify", "--pub", pub, "--tolerance", "soon", "a.b.c")
	wantFail(t, r, 2, "not a duration: want a number with a unit, such as 20s")
	// Fractions with a unit still work.
	if r := run(t, "", "verify", "--pub", pub, "--tolerance", "1.5s", "a.b.c"); r.code != 1 || !strings.Contains(r.stderr, "refused") {
		t.Errorf("--tolerance 1.5s: exit %d: %s", r.code, r.stderr)
	}
}
