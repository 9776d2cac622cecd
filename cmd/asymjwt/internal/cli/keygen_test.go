package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

// keygen → sign → verify, for every key type.
func TestKeygenSignVerifyRoundTrip(t *testing.T) {
	for _, kind := range []string{"ed25519", "rsa", "rsa3072", "rsa4096", "p256", "p384", "p521"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			priv := filepath.Join(dir, "client.pem")
			out := mustRun(t, "", "keygen", "--type", kind, "--out", priv, "--json")
			var info struct {
				PrivateKey string `json:"private_key"`
				PublicKey  string `json:"public_key"`
				Type, Kid  string
			}
			if err := json.Unmarshal([]byte(out), &info); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if info.PrivateKey != priv || info.PublicKey != priv+".pub" {
				t.Errorf("paths %q %q", info.PrivateKey, info.PublicKey)
			}
			wantType := map[string]string{"rsa": "rsa2048"}[kind]
			if wantType == "" {
				wantType = kind
			}
			if info.Type != wantType {
				t.Errorf("type %q, want %q", info.Type, wantType)
			}

			// The files: private PKCS#8 0600, public SPKI 0644, a matching pair.
			checkMode(t, priv, 0o600)
			checkMode(t, priv+".pub", 0o644)
			privPEM, _ := os.ReadFile(priv)
			pubPEM, _ := os.ReadFile(priv + ".pub")
			if !strings.HasPrefix(string(privPEM), "-----BEGIN PRIVATE KEY-----\n") {
				t.Errorf("private key is not PEM PKCS#8:\n%s", privPEM)
			}
			if !strings.HasPrefix(string(pubPEM), "-----BEGIN PUBLIC KEY-----\n") {
				t.Errorf("public key is not PEM SPKI:\n%s", pubPEM)
			}
			key, err := asymjwt.ParsePrivateKey(privPEM, nil)
			if err != nil {
				t.Fatal(err)
			}
			wantPub, _ := asymjwt.MarshalPublicKeyPEM(key.Public())
			if string(wantPub) != string(pubPEM) {
				t.Error("PATH.pub is not the public key of PATH")
			}
			if kid, _ := asymjwt.Fingerprint(key.Public()); kid != info.Kid {
				t.Errorf("printed kid %s, want %s", info.Kid, kid)
			}

			token := strings.TrimSpace(mustRun(t, "", "sign", "--key", priv, "--user", "svc-"+kind, "--aud", "orders"))
			var id struct{ Username, Kid, Algorithm string }
			out = mustRun(t, "", "verify", "--pub", priv+".pub", "--user", "svc-"+kind, "--aud", "orders", "--json", token)
			if err := json.Unmarshal([]byte(out), &id); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if id.Username != "svc-"+kind || id.Kid != info.Kid {
				t.Errorf("identity %+v", id)
			}
			algs, _ := asymjwt.AllowedAlgorithms(key.Public())
			if id.Algorithm != algs[0] {
				t.Errorf("alg %s, want the key's default %s", id.Algorithm, algs[0])
			}
		})
	}
}

func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s: mode %v, want %v", path, got, want)
	}
}

func TestKeygenText(t *testing.T) {
	priv := filepath.Join(t.TempDir(), "k.pem")
	out := mustRun(t, "", "keygen", "--out", priv)
	key, err := asymjwt.ParsePrivateKey(readFile(t, priv), nil)
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := asymjwt.Fingerprint(key.Public())
	want := "private key: " + priv + "\npublic key:  " + priv + ".pub\ntype:        ed25519\nkid:         " + kid + "\n"
	if out != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// keygen never overwrites a key without --force, and a refusal leaves
// nothing half written.
func TestKeygenOverwrite(t *testing.T) {
	dir := t.TempDir()
	priv := filepath.Join(dir, "k.pem")
	mustRun(t, "", "keygen", "--out", priv)
	oldPriv, oldPub := readFile(t, priv), readFile(t, priv+".pub")

	wantFail(t, run(t, "", "keygen", "--out", priv), 1, priv+" exists (use --force to overwrite)")
	if string(readFile(t, priv)) != string(oldPriv) || string(readFile(t, priv+".pub")) != string(oldPub) {
		t.Fatal("refused keygen changed the files")
	}

	// Only PATH.pub exists: still refused, and PATH is not created.
	other := filepath.Join(dir, "other.pem")
	writeFile(t, dir, "other.pem.pub", []byte("keep"), 0o644)
	wantFail(t, run(t, "", "keygen", "--out", other), 1, other+".pub exists")
	if _, err := os.Stat(other); !os.IsNotExist(err) {
		t.Fatalf("refused keygen left %s behind: %v", other, err)
	}

	mustRun(t, "", "keygen", "--out", priv, "--force", "--type", "p256")
	if string(readFile(t, priv)) == string(oldPriv) || string(readFile(t, priv+".pub")) == string(oldPub) {
		t.Fatal("--force did not replace the pair")
	}
	checkMode(t, priv, 0o600)
	checkMode(t, priv+".pub", 0o644)
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}

	// A directory that cannot be written: exit 1, nothing created.
	wantFail(t, run(t, "", "keygen", "--out", filepath.Join(dir, "missing", "k.pem")), 1, "no such file or directory")
}

func TestKeygenPassphrase(t *testing.T) {
	dir := t.TempDir()
	priv := filepath.Join(dir, "k.pem")
	pass := writeFile(t, dir, "pass", []byte("s3cret\n"), 0o600)
	wrong := writeFile(t, dir, "wrong", []byte("guess\n"), 0o600)
	empty := writeFile(t, dir, "empty", []byte("\n"), 0o600)

	wantFail(t, run(t, "", "keygen", "--out", priv, "--passphrase-file", empty), 1, "is empty")
	wantFail(t, run(t, "", "keygen", "--out", priv, "--passphrase-file", filepath.Join(dir, "none")), 1, "passphrase:")
	if _, err := os.Stat(priv); !os.IsNotExist(err) {
		t.Fatal("failed keygen created the key")
	}

	mustRun(t, "", "keygen", "--out", priv, "--passphrase-file", pass)
	if !strings.HasPrefix(string(readFile(t, priv)), "-----BEGIN ENCRYPTED PRIVATE KEY-----") {
		t.Fatal("key is not encrypted PKCS#8")
	}
	// The trailing newline of the file is not part of the passphrase.
	if _, err := asymjwt.ParsePrivateKey(readFile(t, priv), []byte("s3cret")); err != nil {
		t.Fatal(err)
	}

	wantFail(t, run(t, "", "sign", "--key", priv, "--user", "u"), 1, "give the passphrase with --passphrase-file")
	wantFail(t, run(t, "", "sign", "--key", priv, "--user", "u", "--passphrase-file", wrong), 1, asymjwt.ErrPassphrase.Error())
	token := strings.TrimSpace(mustRun(t, "", "sign", "--key", priv, "--user", "u", "--passphrase-file", pass))
	mustRun(t, "", "verify", "--pub", priv+".pub", "--user", "u", token)
	// pubkey and fingerprint read encrypted keys with the passphrase too.
	wantFail(t, run(t, "", "fingerprint", priv), 1, "--passphrase-file")
	if got, want := mustRun(t, "", "fingerprint", "--passphrase-file", pass, priv), mustRun(t, "", "fingerprint", priv+".pub"); got != want {
		t.Errorf("fingerprint of the encrypted key %q, of its public key %q", got, want)
	}
}
