package cli_test

import (
	"encoding/pem"
	"strings"
	"testing"

	asymjwt "github.com/asymjwt/asymjwt/core"
	"golang.org/x/crypto/ssh"
)

// Keys in ssh-keygen's files: an OpenSSH private key (plain or with a
// passphrase) signs, its authorized_keys-style .pub verifies.
func TestOpenSSHKeyFiles(t *testing.T) {
	for _, kind := range []string{"ed25519", "p256", "p384", "p521", "rsa"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			key, err := asymjwt.GenerateKey(kind)
			if err != nil {
				t.Fatal(err)
			}
			block, err := ssh.MarshalPrivateKey(key, "svc@host")
			if err != nil {
				t.Fatal(err)
			}
			priv := writeFile(t, dir, "id_"+kind, pem.EncodeToMemory(block), 0o600)
			// The passphrase's bcrypt KDF is slow and the same for every
			// key type: one type is enough.
			var encrypted, pass string
			if kind == "ed25519" {
				block, err = ssh.MarshalPrivateKeyWithPassphrase(key, "svc@host", []byte("hunter2"))
				if err != nil {
					t.Fatal(err)
				}
				encrypted = writeFile(t, dir, "id_"+kind+"_enc", pem.EncodeToMemory(block), 0o600)
				pass = writeFile(t, dir, "pass", []byte("hunter2\n"), 0o600)
			}
			sshPub, err := ssh.NewPublicKey(key.Public())
			if err != nil {
				t.Fatal(err)
			}
			line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))) + " svc@host\n"
			pub := writeFile(t, dir, "id_"+kind+".pub", []byte(line), 0o644)

			kid, _ := asymjwt.Fingerprint(key.Public())
			fingerprintArgs := [][]string{{priv}, {pub}}
			signArgs := [][]string{{"--key", priv}}
			if encrypted != "" {
				fingerprintArgs = append(fingerprintArgs, []string{"--passphrase-file", pass, encrypted})
				signArgs = append(signArgs, []string{"--key", encrypted, "--passphrase-file", pass})
				wantFail(t, run(t, "", "sign", "--user", "svc", "--key", encrypted), 1, "give the passphrase with --passphrase-file")
			}
			for _, args := range fingerprintArgs {
				if got := mustRun(t, "", append([]string{"fingerprint"}, args...)...); got != kid+"\n" {
					t.Errorf("fingerprint %v: %q, want %s", args, got, kid)
				}
			}
			for _, args := range signArgs {
				token := strings.TrimSpace(mustRun(t, "", append([]string{"sign", "--user", "svc"}, args...)...))
				out := mustRun(t, "", "verify", "--pub", pub, "--user", "svc", token)
				if !strings.Contains(out, "kid:           "+kid+"\n") {
					t.Errorf("verify: %s", out)
				}
			}
			// pubkey --format openssh gives the line back, without comment.
			if got := mustRun(t, "", "pubkey", "--key", priv, "--format", "openssh"); got != strings.TrimSuffix(line, " svc@host\n")+"\n" {
				t.Errorf("pubkey --format openssh: %q", got)
			}
		})
	}
}
