package cli_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"path/filepath"
	"strings"
	"testing"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

var fixtureKeys = []string{"ed25519", "rsa", "p256"}

func TestPubkeyGolden(t *testing.T) {
	for _, name := range fixtureKeys {
		for _, format := range []string{"pem", "openssh", "jwk"} {
			t.Run(name+"-"+format, func(t *testing.T) {
				// The private key and the public key file give the same output.
				fromPriv := mustRun(t, "", "pubkey", "--key", fixture("keys/"+name+".pem"), "--format", format)
				fromPub := mustRun(t, "", "pubkey", "--key", fixture("keys/"+name+".pem.pub"), "--format", format)
				if fromPriv != fromPub {
					t.Errorf("from the private key:\n%s\nfrom the public key:\n%s", fromPriv, fromPub)
				}
				golden(t, "pubkey-"+name+"."+format, fromPriv)
				// Every output format reads back as the same key.
				if got := mustRun(t, fromPriv, "fingerprint", "-"); got != mustRun(t, "", "fingerprint", fixture("keys/"+name+".pem.pub")) {
					t.Errorf("%s output reads back as another key", format)
				}
			})
		}
	}
	// The default format is PEM, and stdin works.
	pub := mustRun(t, string(readFile(t, fixture("keys/p256.pem"))), "pubkey", "--key", "-")
	if pub != string(readFile(t, fixture("keys/p256.pem.pub"))) {
		t.Errorf("pubkey --key - gave\n%s", pub)
	}
}

func TestFingerprint(t *testing.T) {
	for _, name := range fixtureKeys {
		t.Run(name, func(t *testing.T) {
			key, err := asymjwt.ParsePrivateKey(readFile(t, fixture("keys/"+name+".pem")), nil)
			if err != nil {
				t.Fatal(err)
			}
			kid, _ := asymjwt.Fingerprint(key.Public())
			jwk := mustRun(t, "", "pubkey", "--key", fixture("keys/"+name+".pem"), "--format", "jwk")
			ssh := mustRun(t, "", "pubkey", "--key", fixture("keys/"+name+".pem"), "--format", "openssh")
			for what, got := range map[string]string{
				"private key":  mustRun(t, "", "fingerprint", fixture("keys/"+name+".pem")),
				"public key":   mustRun(t, "", "fingerprint", fixture("keys/"+name+".pem.pub")),
				"stdin":        mustRun(t, string(readFile(t, fixture("keys/"+name+".pem.pub"))), "fingerprint", "-"),
				"JWK":          mustRun(t, jwk, "fingerprint", "-"),
				"OpenSSH line": mustRun(t, ssh, "fingerprint", "-"),
			} {
				if got != kid+"\n" {
					t.Errorf("%s: %q, want %q", what, got, kid)
				}
			}
		})
	}
	golden(t, "fingerprint-ed25519.txt", mustRun(t, "", "fingerprint", fixture("keys/ed25519.pem.pub")))
	// An encrypted private key, opened with --passphrase-file.
	enc := mustRun(t, "", "fingerprint", "--passphrase-file", fixture("keys/passphrase.txt"), fixture("keys/p384-enc.pem"))
	if want := mustRun(t, "", "fingerprint", fixture("keys/p384-enc.pem.pub")); enc != want {
		t.Errorf("encrypted key: %q, want %q", enc, want)
	}
}

// Unreadable, malformed, weak and encrypted-without-passphrase keys fail
// with exit 1 and the reason, in every command that reads keys.
func TestBadKeyFiles(t *testing.T) {
	dir := t.TempDir()
	weak, _ := rsa.GenerateKey(rand.Reader, 1024)
	der, _ := x509.MarshalPKIXPublicKey(&weak.PublicKey)
	weakPub := writeFile(t, dir, "weak.pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644)
	der, _ = x509.MarshalPKCS8PrivateKey(weak)
	weakPriv := writeFile(t, dir, "weak.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	garbage := writeFile(t, dir, "garbage", []byte("not a key\n"), 0o644)
	badPEM := writeFile(t, dir, "bad.pem", []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), 0o600)
	empty := writeFile(t, dir, "empty", nil, 0o644)
	missing := filepath.Join(dir, "missing")
	encrypted := fixture("keys/p384-enc.pem")

	tests := []struct {
		name string
		path string
		want string
	}{
		{"missing", missing, "no such file or directory"},
		{"garbage", garbage, asymjwt.ErrInvalidKey.Error()},
		{"empty", empty, asymjwt.ErrInvalidKey.Error()},
		{"bad PEM", badPEM, asymjwt.ErrInvalidKey.Error()},
		{"weak RSA public", weakPub, "at least 2048 bits"},
		{"weak RSA private", weakPriv, "at least 2048 bits"},
		{"encrypted", encrypted, "give the passphrase with --passphrase-file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, args := range [][]string{
				{"pubkey", "--key", tt.path},
				{"fingerprint", tt.path},
				{"jwks", fixture("keys/ed25519.pem.pub"), tt.path},
				{"verify", "--pub", tt.path, "--user", "u", "a.b.c"},
			} {
				r := run(t, "", args...)
				wantFail(t, r, 1, tt.want)
				if r.stdout != "" {
					t.Errorf("%v: stdout %q", args, r.stdout)
				}
			}
			if tt.path == weakPub {
				return // sign needs a private key
			}
			wantFail(t, run(t, "", "sign", "--key", tt.path, "--user", "u"), 1, tt.want)
		})
	}
	// sign wants a private key, not a public one.
	wantFail(t, run(t, "", "sign", "--key", fixture("keys/ed25519.pem.pub"), "--user", "u"), 1, "this is a public key; a private key is needed (give the private key")
}

func TestJWKS(t *testing.T) {
	out := mustRun(t, "", "jwks", fixture("keys/ed25519.pem.pub"), fixture("keys/rsa.pem"), fixture("keys/p256.pem.pub"))
	golden(t, "jwks.json", out)
	var set asymjwt.JWKS
	if err := json.Unmarshal([]byte(out), &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 3 {
		t.Fatalf("%d keys", len(set.Keys))
	}
	for i, name := range []string{"ed25519", "rsa", "p256"} {
		pub, err := set.Keys[i].PublicKey()
		if err != nil {
			t.Fatal(err)
		}
		kid, _ := asymjwt.Fingerprint(pub)
		want := strings.TrimSpace(mustRun(t, "", "fingerprint", fixture("keys/"+name+".pem.pub")))
		if kid != want || set.Keys[i].Kid != want {
			t.Errorf("key %d: kid %s / %s, want %s", i, kid, set.Keys[i].Kid, want)
		}
	}
}
