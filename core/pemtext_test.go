package asymjwt_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

// sshLine is the OpenSSH authorized_keys line of the private key fixture.
func sshLine(t testing.TB, name string) string {
	t.Helper()
	key, err := asymjwt.ParsePrivateKey(readFixture(t, "keys", name), nil)
	if err != nil {
		t.Fatal(err)
	}
	line, err := asymjwt.MarshalPublicKeyOpenSSH(key.Public(), "someone@laptop")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(line)) + "\n"
}

func jwkLine(t testing.TB, name string) string {
	t.Helper()
	key, err := asymjwt.ParsePrivateKey(readFixture(t, "keys", name), nil)
	if err != nil {
		t.Fatal(err)
	}
	j, err := asymjwt.NewJWK(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "\n"
}

// TestKeyTextBesidePEMBlocks: pem.Decode skips the text around blocks, so
// a key written as text there (cat id.pub key.pem > file) was ignored
// while the block's key was used: a file whose first line shows one
// key registered, or signed with, another. Such text must be the same
// key, or the file is refused as holding two keys; other text (openssl's
// dumps) stays skipped.
func TestKeyTextBesidePEMBlocks(t *testing.T) {
	p256, ed := publicPEM(t, "p256.sec1.pem"), sshLine(t, "ed25519.pkcs8.pem")
	dump := "Public-Key: (256 bit)\npub:\n    04:9a:1f:00\nASN1 OID: prime256v1\nNIST CURVE: P-256\n"
	private := string(readFixture(t, "keys", "p256.sec1.pem"))
	for _, tt := range []struct {
		name, data string
		private    bool
		ok         bool
	}{
		{"OpenSSH line of another key, then the PEM", ed + p256, false, false},
		{"the PEM, then an OpenSSH line of another key", p256 + ed, false, false},
		{"JWK of another key, then the PEM", jwkLine(t, "ed25519.pkcs8.pem") + p256, false, false},
		{"the PEM, then a JWK of another key", p256 + jwkLine(t, "ed25519.pkcs8.pem"), false, false},
		{"OpenSSH line of the same key, then the PEM", sshLine(t, "p256.sec1.pem") + p256, false, true},
		{"openssl text dump, then the PEM", dump + p256, false, true},
		{"private key with another key's OpenSSH line", ed + private, true, false},
		{"private key with its own OpenSSH line", sshLine(t, "p256.sec1.pem") + private, true, true},
		{"private key with a text dump", dump + private, true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.private {
				_, err = asymjwt.ParsePrivateKey([]byte(tt.data), nil)
			} else {
				_, err = asymjwt.ParsePublicKey([]byte(tt.data))
			}
			if tt.ok != (err == nil) || !tt.ok && !errors.Is(err, asymjwt.ErrInvalidKey) {
				t.Fatalf("err = %v; want ok=%v, else ErrInvalidKey", err, tt.ok)
			}
		})
	}
}

// TestDamagedAndBOMPEMFiles: pem.Decode silently skips a block that does
// not decode (damaged, cut short, another BEGIN inside it) and yields
// the next: a file whose first key is damaged gave its second key, one
// a reader does not see first. Such files are refused. A UTF-8 byte
// order mark (Windows editors) made every PEM file and authorized_keys
// file unreadable; it is skipped.
func TestDamagedAndBOMPEMFiles(t *testing.T) {
	a, b := publicPEM(t, "p256.sec1.pem"), publicPEM(t, "ed25519.pkcs8.pem")
	aLines := strings.Split(strings.TrimSpace(a), "\n")
	nested := strings.Join(aLines[:len(aLines)-1], "\n") + "\n" + b
	damage := func(pemText string) string {
		lines := strings.Split(pemText, "\n")
		return strings.Replace(pemText, lines[1], lines[1][:10]+"!!"+lines[1][12:], 1)
	}
	private, otherPrivate := string(readFixture(t, "keys", "p256.sec1.pem")), string(readFixture(t, "keys", "ed25519.pkcs8.pem"))
	const bom = "\ufeff"
	for _, tt := range []struct {
		name, data string
		private    bool
		ok         bool
	}{
		{"a block inside another", nested, false, false},
		{"a damaged key, then another key", damage(a) + b, false, false},
		{"a block cut short, then another key", strings.Join(aLines[:2], "\n") + "\n" + b, false, false},
		{"a damaged private key, then another", damage(private) + otherPrivate, true, false},
		{"BOM and CRLF", bom + strings.ReplaceAll(a, "\n", "\r\n"), false, true},
		{"BOM, private key", bom + private, true, true},
		{"BOM, OpenSSH line", bom + sshLine(t, "p256.sec1.pem"), false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.private {
				_, err = asymjwt.ParsePrivateKey([]byte(tt.data), nil)
			} else {
				_, err = asymjwt.ParsePublicKey([]byte(tt.data))
			}
			if tt.ok != (err == nil) || !tt.ok && !errors.Is(err, asymjwt.ErrInvalidKey) {
				t.Fatalf("err = %v; want ok=%v, else ErrInvalidKey", err, tt.ok)
			}
		})
	}
	if keys, err := asymjwt.ParseAuthorizedKeys([]byte(bom + sshLine(t, "p256.sec1.pem") + b)); err != nil || len(keys) != 2 {
		t.Fatalf("authorized_keys file with a BOM: %d keys, %v; want 2", len(keys), err)
	}
}
