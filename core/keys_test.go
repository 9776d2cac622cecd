package asymjwt_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	asymjwt "github.com/asymjwt/asymjwt/core"
	"golang.org/x/crypto/ssh"
)

const fixturePassphrase = "correct horse"

func readFixture(t testing.TB, parts ...string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(append([]string{"testdata"}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestGenerateKey(t *testing.T) {
	tests := []struct {
		kind    string
		wantAlg string
	}{
		{"ed25519", "EdDSA"},
		{"rsa", "RS512"},
		{"rsa3072", "RS512"},
		{"p256", "ES256"},
		{"p384", "ES384"},
		{"p521", "ES512"},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			key, err := asymjwt.GenerateKey(tt.kind)
			if err != nil {
				t.Fatal(err)
			}
			algs, err := asymjwt.AllowedAlgorithms(key.Public())
			if err != nil {
				t.Fatal(err)
			}
			if algs[0] != tt.wantAlg {
				t.Errorf("default alg = %s, want %s", algs[0], tt.wantAlg)
			}
			// Round trip through PEM, plain and encrypted.
			for _, pass := range []string{"", "s3cret"} {
				pemBytes, err := asymjwt.MarshalPrivateKeyPEM(key, []byte(pass))
				if err != nil {
					t.Fatal(err)
				}
				back, err := asymjwt.ParsePrivateKey(pemBytes, []byte(pass))
				if err != nil {
					t.Fatalf("passphrase %q: %v", pass, err)
				}
				if !publicEqual(back.Public(), key.Public()) {
					t.Fatal("round trip changed the key")
				}
			}
		})
	}
	if _, err := asymjwt.GenerateKey("dsa"); !errors.Is(err, asymjwt.ErrInvalidKey) {
		t.Errorf("unknown kind: err = %v, want ErrInvalidKey", err)
	}
}

func publicEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	ea, ok := a.(equaler)
	return ok && ea.Equal(b)
}

func TestParsePrivateKey(t *testing.T) {
	tests := []struct {
		file       string
		passphrase string
		wantPub    string // public key fixture it must match
		wantType   string
	}{
		{"rsa2048.pkcs8.pem", "", "rsa2048.spki.pem", "rsa"},
		{"rsa2048.pkcs1.pem", "", "rsa2048.spki.pem", "rsa"},
		{"rsa2048.legacy-enc.pem", fixturePassphrase, "rsa2048.spki.pem", "rsa"},
		{"rsa2048.pbes2-sha1-aes128.pem", fixturePassphrase, "rsa2048.spki.pem", "rsa"},
		{"rsa2048.pbes2-sha256-aes256.pem", fixturePassphrase, "rsa2048.spki.pem", "rsa"},
		{"p256.sec1.pem", "", "", "ecdsa"},
		{"p256.pkcs8.pem", "", "", "ecdsa"},
		{"p256.legacy-enc.pem", fixturePassphrase, "", "ecdsa"},
		{"ed25519.pkcs8.pem", "", "ed25519.spki.pem", "ed25519"},
		{"ed25519.python-enc.pem", fixturePassphrase, "ed25519.python-enc.pub.pem", "ed25519"},
		{"openssh-ed25519", "", "openssh-ed25519.pub", "ed25519"},
		{"openssh-ed25519-enc", fixturePassphrase, "openssh-ed25519-enc.pub", "ed25519"},
		{"openssh-p384", "", "openssh-p384.pub", "ecdsa"},
		{"openssh-rsa3072", "", "openssh-rsa3072.pub", "rsa"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			key, err := asymjwt.ParsePrivateKey(readFixture(t, "keys", tt.file), []byte(tt.passphrase))
			if err != nil {
				t.Fatal(err)
			}
			var gotType string
			switch key.(type) {
			case *rsa.PrivateKey:
				gotType = "rsa"
			case *ecdsa.PrivateKey:
				gotType = "ecdsa"
			case ed25519.PrivateKey:
				gotType = "ed25519"
			}
			if gotType != tt.wantType {
				t.Fatalf("type %T, want %s", key, tt.wantType)
			}
			if tt.wantPub != "" {
				pub, err := asymjwt.ParsePublicKey(readFixture(t, "keys", tt.wantPub))
				if err != nil {
					t.Fatal(err)
				}
				if !publicEqual(key.Public(), pub) {
					t.Fatal("private key does not match its public key fixture")
				}
			}
			// The key signs tokens.
			if _, err := asymjwt.NewSigner("alice", key); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestParsePrivateKeyRefusals(t *testing.T) {
	tests := []struct {
		name       string
		data       []byte
		passphrase string
		want       error
	}{
		{"legacy PEM without passphrase", readFixture(t, "keys", "rsa2048.legacy-enc.pem"), "", asymjwt.ErrPassphrase},
		{"legacy PEM wrong passphrase", readFixture(t, "keys", "rsa2048.legacy-enc.pem"), "wrong", asymjwt.ErrPassphrase},
		{"legacy EC wrong passphrase", readFixture(t, "keys", "p256.legacy-enc.pem"), "wrong", asymjwt.ErrPassphrase},
		{"PBES2 without passphrase", readFixture(t, "keys", "rsa2048.pbes2-sha256-aes256.pem"), "", asymjwt.ErrPassphrase},
		{"PBES2 wrong passphrase", readFixture(t, "keys", "rsa2048.pbes2-sha256-aes256.pem"), "wrong", asymjwt.ErrPassphrase},
		{"PBES2 SHA1 wrong passphrase", readFixture(t, "keys", "rsa2048.pbes2-sha1-aes128.pem"), "wrong", asymjwt.ErrPassphrase},
		{"OpenSSH without passphrase", readFixture(t, "keys", "openssh-ed25519-enc"), "", asymjwt.ErrPassphrase},
		{"OpenSSH wrong passphrase", readFixture(t, "keys", "openssh-ed25519-enc"), "wrong", asymjwt.ErrPassphrase},
		{"RSA 1024", readFixture(t, "keys", "rsa1024.pkcs8.pem"), "", asymjwt.ErrInvalidKey},
		{"not PEM", []byte("hello"), "", asymjwt.ErrInvalidKey},
		{"public key", readFixture(t, "keys", "rsa2048.spki.pem"), "", asymjwt.ErrInvalidKey},
		{"corrupt PEM body", []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), "", asymjwt.ErrInvalidKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := asymjwt.ParsePrivateKey(tt.data, []byte(tt.passphrase))
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestParsePublicKey(t *testing.T) {
	rsaPub, err := asymjwt.ParsePublicKey(readFixture(t, "keys", "rsa2048.spki.pem"))
	if err != nil {
		t.Fatal(err)
	}
	jwk, err := asymjwt.NewJWK(rsaPub)
	if err != nil {
		t.Fatal(err)
	}
	jwkJSON, _ := json.Marshal(jwk)
	tests := []struct {
		name        string
		data        []byte
		same        crypto.PublicKey // nil: no comparison
		wantComment string
	}{
		{"SPKI", readFixture(t, "keys", "rsa2048.spki.pem"), rsaPub, ""},
		{"PKCS#1", readFixture(t, "keys", "rsa2048.pkcs1pub.pem"), rsaPub, ""},
		{"JWK", jwkJSON, rsaPub, ""},
		{"OpenSSH ed25519", readFixture(t, "keys", "openssh-ed25519.pub"), nil, "alice@laptop"},
		{"OpenSSH p384 comment with space", readFixture(t, "keys", "openssh-p384.pub"), nil, "p384 key"},
		{"OpenSSH rsa no comment", readFixture(t, "keys", "openssh-rsa3072.pub"), nil, ""},
		{"Ed25519 SPKI", readFixture(t, "keys", "ed25519.spki.pem"), nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pub, comment, err := asymjwt.ParseAuthorizedKey(tt.data)
			if err != nil {
				t.Fatal(err)
			}
			if comment != tt.wantComment {
				t.Errorf("comment = %q, want %q", comment, tt.wantComment)
			}
			if tt.same != nil && !publicEqual(pub, tt.same) {
				t.Error("parsed a different key")
			}
			// Every form re-encodes to the same fingerprint and JWK.
			fp, err := asymjwt.Fingerprint(pub)
			if err != nil || len(fp) != 64 {
				t.Fatalf("fingerprint %q, %v", fp, err)
			}
			j, err := asymjwt.NewJWK(pub)
			if err != nil {
				t.Fatal(err)
			}
			if j.Kid != fp || j.Use != "sig" {
				t.Errorf("JWK kid %q use %q", j.Kid, j.Use)
			}
			raw, _ := json.Marshal(j)
			back, err := asymjwt.ParsePublicKey(raw)
			if err != nil || !publicEqual(back, pub) {
				t.Fatalf("JWK round trip: %v", err)
			}
			line, err := asymjwt.MarshalPublicKeyOpenSSH(pub, "label")
			if err != nil {
				t.Fatal(err)
			}
			back, comment, err = asymjwt.ParseAuthorizedKey(line)
			if err != nil || !publicEqual(back, pub) || comment != "label" {
				t.Fatalf("OpenSSH round trip: %v %q", err, comment)
			}
		})
	}
}

func TestParsePublicKeyRefusals(t *testing.T) {
	if _, err := asymjwt.ParsePrivateKey(readFixture(t, "keys", "rsa1024.pkcs8.pem"), nil); !errors.Is(err, asymjwt.ErrInvalidKey) {
		t.Fatalf("1024-bit private key: err = %v, want ErrInvalidKey", err)
	}
	ed := readFixture(t, "keys", "ed25519.spki.pem")
	tests := []struct {
		name string
		data string
	}{
		{"empty", ""},
		{"RSA 1024 SPKI", string(readFixture(t, "keys", "rsa1024.spki.pem"))},
		{"two different keys in PEM", string(ed) + string(readFixture(t, "keys", "rsa2048.spki.pem"))},
		{"private key PEM", string(readFixture(t, "keys", "ed25519.pkcs8.pem"))},
		{"garbage", "not a key"},
		{"two OpenSSH lines", string(readFixture(t, "keys", "openssh-ed25519.pub")) + string(readFixture(t, "keys", "openssh-p384.pub"))},
		{"JWK unknown kty", `{"kty":"oct","k":"AAAA"}`},
		{"JWK EC off curve", `{"kty":"EC","crv":"P-256","x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","y":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`},
		{"JWK Ed25519 short", `{"kty":"OKP","crv":"Ed25519","x":"AAAA"}`},
		{"JWK RSA small", `{"kty":"RSA","n":"AQAB","e":"AQAB"}`},
		{"JWK alg mismatch", `{"kty":"OKP","crv":"Ed25519","alg":"RS256","x":"` + strings.Repeat("A", 43) + `"}`},
		{"JWK not JSON", `{"kty":`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := asymjwt.ParsePublicKey([]byte(tt.data)); !errors.Is(err, asymjwt.ErrInvalidKey) {
				t.Fatalf("err = %v, want ErrInvalidKey", err)
			}
		})
	}
	// Security-key (sk-) OpenSSH types cannot be used for JWS.
	sk := "sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIEX/dQ0v4127bEo8eeG1EV0ApO2lWbSnN6RXusmsjjaeAAAABHNzaDo= x"
	if _, err := asymjwt.ParsePublicKey([]byte(sk)); !errors.Is(err, asymjwt.ErrInvalidKey) {
		t.Fatalf("sk key: err = %v, want ErrInvalidKey", err)
	}
}

// TestOpenSSHMarshalledByXCrypto covers keys written by x/crypto/ssh, as
// tools other than ssh-keygen produce them.
func TestOpenSSHMarshalledByXCrypto(t *testing.T) {
	key, _ := asymjwt.GenerateKey("p256")
	block, err := ssh.MarshalPrivateKeyWithPassphrase(key, "c", []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	data := pemEncode(block.Type, block.Bytes)
	got, err := asymjwt.ParsePrivateKey(data, []byte("pw"))
	if err != nil || !publicEqual(got.Public(), key.Public()) {
		t.Fatalf("err %v", err)
	}
}

func TestPinnedKey(t *testing.T) {
	key, _ := asymjwt.GenerateKey("rsa")
	if _, err := asymjwt.NewPinnedKey(key.Public(), "ES256"); !errors.Is(err, asymjwt.ErrInvalidKey) {
		t.Fatalf("ES256 pinned on RSA: %v", err)
	}
	pinned, err := asymjwt.NewPinnedKey(key.Public(), "PS256")
	if err != nil {
		t.Fatal(err)
	}
	algs, _ := asymjwt.AllowedAlgorithms(pinned)
	if len(algs) != 1 || algs[0] != "PS256" {
		t.Fatalf("algs = %v", algs)
	}
	fp1, _ := asymjwt.Fingerprint(pinned)
	fp2, _ := asymjwt.Fingerprint(key.Public())
	if fp1 != fp2 {
		t.Fatal("pinning changed the fingerprint")
	}
}

func TestAuthorizedKeyOptionsRefused(t *testing.T) {
	line := `from="10.0.0.0/8",command="true" ` + strings.TrimSpace(string(readFixture(t, "keys", "openssh-ed25519.pub")))
	if _, err := asymjwt.ParsePublicKey([]byte(line)); !errors.Is(err, asymjwt.ErrInvalidKey) {
		t.Fatalf("err = %v, want ErrInvalidKey", err)
	}
}

func TestPassphraseIgnoredForUnencryptedKeys(t *testing.T) {
	for _, name := range []string{"openssh-ed25519", "ed25519.pkcs8.pem"} {
		if _, err := asymjwt.ParsePrivateKey(readFixture(t, "keys", name), []byte("unneeded")); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestJWKOfPinnedKeyAndUse(t *testing.T) {
	key, _ := asymjwt.GenerateKey("rsa")
	pinned, _ := asymjwt.NewPinnedKey(key.Public(), "PS384")
	j, err := asymjwt.NewJWK(pinned)
	if err != nil {
		t.Fatal(err)
	}
	if j.Kty != "RSA" || j.Alg != "PS384" || j.N == "" {
		t.Fatalf("JWK %+v", j)
	}
	back, err := j.PublicKey()
	if err != nil || !publicEqual(back, key.Public()) {
		t.Fatalf("round trip: %v", err)
	}
	j.Use = "enc"
	if _, err := j.PublicKey(); !errors.Is(err, asymjwt.ErrInvalidKey) {
		t.Fatalf("use enc: err = %v, want ErrInvalidKey", err)
	}
}

func TestRSAModulusBounds(t *testing.T) {
	huge := new(big.Int).Lsh(big.NewInt(1), asymjwt.MaxRSABits) // MaxRSABits+1 bits
	huge.Add(huge, big.NewInt(1))
	if _, err := asymjwt.AllowedAlgorithms(&rsa.PublicKey{N: huge, E: 65537}); !errors.Is(err, asymjwt.ErrInvalidKey) {
		t.Fatalf("%d-bit key: err = %v, want ErrInvalidKey", huge.BitLen(), err)
	}
}
