package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

func kidOf(t testing.TB, keyFile string) string {
	t.Helper()
	return strings.TrimSpace(mustRun(t, "", "fingerprint", fixture(keyFile)))
}

func TestKeysAddListRemove(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys") // created by add
	edKID, rsaKID, p256KID := kidOf(t, "keys/ed25519.pem.pub"), kidOf(t, "keys/rsa.pem.pub"), kidOf(t, "keys/p256.pem.pub")

	// add prints the kid; the file reads back with core, mode 0644, dir 0755.
	if got := mustRun(t, "", "keys", "add", "--dir", dir, "--user", "billing", "--label", "billing prod 2025", fixture("keys/ed25519.pem.pub")); got != edKID+"\n" {
		t.Fatalf("add printed %q, want the kid %s", got, edKID)
	}
	checkMode(t, dir, 0o755)
	checkMode(t, filepath.Join(dir, "billing"), 0o644)
	// An OpenSSH line from stdin keeps its comment as the label.
	ssh := mustRun(t, "", "pubkey", "--key", fixture("keys/rsa.pem.pub"), "--format", "openssh")
	mustRun(t, strings.TrimSpace(ssh)+" ops@laptop\n", "keys", "add", "--dir", dir, "--user", "billing", "-")
	mustRun(t, "", "keys", "add", "--dir", dir, "--user", "shipping", fixture("keys/p256.pem.pub"))
	jwk := mustRun(t, "", "pubkey", "--key", fixture("keys/ed25519.pem"), "--format", "jwk")
	mustRun(t, jwk, "keys", "add", "--dir", dir, "--user", "shipping", "--label", "from a JWK", "-")

	keys, err := asymjwt.ParseAuthorizedKeys(readFile(t, filepath.Join(dir, "billing")))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].KeyID != edKID || keys[0].Label != "billing prod 2025" ||
		keys[1].KeyID != rsaKID || keys[1].Label != "ops@laptop" {
		t.Fatalf("billing's file reads back as %+v", keys)
	}

	// Adding a key twice leaves the file as it is.
	before := readFile(t, filepath.Join(dir, "billing"))
	r := run(t, "", "keys", "add", "--dir", dir, "--user", "billing", "--label", "again", fixture("keys/ed25519.pem.pub"))
	if r.code != 0 || r.stdout != edKID+"\n" || !strings.Contains(r.stderr, "already registered") {
		t.Fatalf("second add: %+v", r)
	}
	if string(readFile(t, filepath.Join(dir, "billing"))) != string(before) {
		t.Fatal("second add changed the file")
	}

	out := mustRun(t, "", "keys", "list", "--dir", dir)
	golden(t, "keys-list.txt", out)
	var listing []struct{ User, Kid, Type, Label string }
	if err := json.Unmarshal([]byte(mustRun(t, "", "keys", "list", "--dir", dir, "--json")), &listing); err != nil {
		t.Fatal(err)
	}
	want := []struct{ User, Kid, Type, Label string }{
		{"billing", edKID, "ed25519", "billing prod 2025"},
		{"billing", rsaKID, "rsa2048", "ops@laptop"},
		{"shipping", p256KID, "p256", ""},
		{"shipping", edKID, "ed25519", "from a JWK"},
	}
	if len(listing) != len(want) {
		t.Fatalf("list --json: %+v", listing)
	}
	for i := range want {
		if listing[i] != want[i] {
			t.Errorf("entry %d: %+v, want %+v", i, listing[i], want[i])
		}
	}
	if out := mustRun(t, "", "keys", "list", "--dir", dir, "--user", "shipping"); strings.Contains(out, "billing") || !strings.Contains(out, p256KID) {
		t.Errorf("list --user shipping:\n%s", out)
	}

	// verify --keys trusts the directory; --user limits it.
	billingToken := strings.TrimSpace(mustRun(t, "", "sign", "--key", fixture("keys/rsa.pem"), "--user", "billing"))
	mustRun(t, "", "verify", "--keys", dir, billingToken)
	mustRun(t, "", "verify", "--keys", dir, "--user", "billing", billingToken)
	r = run(t, "", "verify", "--keys", dir, "--user", "shipping", billingToken)
	wantFail(t, r, 1, asymjwt.ErrUnknownUser.Error())
	// A key registered for one user never authenticates another.
	r = run(t, "", "verify", "--keys", dir, strings.TrimSpace(mustRun(t, "", "sign", "--key", fixture("keys/p256.pem"), "--user", "billing")))
	wantFail(t, r, 1, asymjwt.ErrUnknownKey.Error())

	// remove takes the key out; verify refuses it from then on.
	if out := mustRun(t, "", "keys", "remove", "--dir", dir, "--user", "billing", rsaKID); out != "" {
		t.Errorf("remove printed %q", out)
	}
	keys, _ = asymjwt.ParseAuthorizedKeys(readFile(t, filepath.Join(dir, "billing")))
	if len(keys) != 1 || keys[0].KeyID != edKID || keys[0].Label != "billing prod 2025" {
		t.Fatalf("after remove: %+v", keys)
	}
	wantFail(t, run(t, "", "verify", "--keys", dir, strings.TrimSpace(mustRun(t, "", "sign", "--key", fixture("keys/rsa.pem"), "--user", "billing"))), 1, asymjwt.ErrUnknownKey.Error())
	wantFail(t, run(t, "", "keys", "remove", "--dir", dir, "--user", "billing", rsaKID), 1, "has no key "+rsaKID)
	wantFail(t, run(t, "", "keys", "remove", "--dir", dir, "--user", "nobody", rsaKID), 1, "has no key")
	// Removing the last key removes the file, and the user.
	mustRun(t, "", "keys", "remove", "--dir", dir, "--user", "billing", edKID)
	if _, err := os.Stat(filepath.Join(dir, "billing")); !os.IsNotExist(err) {
		t.Fatalf("file of a user without keys: %v", err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".*"))
	// .lock, the lock of keys add and remove, stays (hidden, so ignored).
	leftovers = slices.DeleteFunc(leftovers, func(p string) bool { return filepath.Base(p) == ".lock" })
	if len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

func TestKeysRefuse(t *testing.T) {
	dir := t.TempDir()
	pub := fixture("keys/ed25519.pem.pub")
	bad := writeFile(t, dir, "broken", []byte("ssh-ed25519 notbase64\n"), 0o644)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"path in username", []string{"keys", "add", "--dir", dir, "--user", "../etc", pub}, "invalid username"},
		{"hidden username", []string{"keys", "add", "--dir", dir, "--user", ".alice", pub}, "hidden"},
		{"private key", []string{"keys", "add", "--dir", dir, "--user", "alice", fixture("keys/ed25519.pem")}, "holds a private key"},
		{"not a key", []string{"keys", "add", "--dir", dir, "--user", "alice", fixture("token.txt")}, asymjwt.ErrInvalidKey.Error()},
		{"missing key file", []string{"keys", "add", "--dir", dir, "--user", "alice", filepath.Join(dir, "nope")}, "no such file"},
		{"broken user file", []string{"keys", "add", "--dir", dir, "--user", "broken", pub}, "fix the file first"},
		{"remove from broken file", []string{"keys", "remove", "--dir", dir, "--user", "broken", "abc"}, "fix the file first"},
		{"list a missing dir", []string{"keys", "list", "--dir", filepath.Join(dir, "nope")}, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantFail(t, run(t, "", tt.args...), 1, tt.want)
		})
	}
	if string(readFile(t, bad)) != "ssh-ed25519 notbase64\n" {
		t.Error("a refused add changed the broken file")
	}
	if _, err := os.Stat(filepath.Join(dir, "alice")); !os.IsNotExist(err) {
		t.Error("a refused add created alice's file")
	}
	wantFail(t, run(t, "", "keys", "add", "--dir", dir, "--user", "alice", "--label", "two\nlines", pub), 2, "--label must be one line")

	// list shows the good users and reports the files servers would not use.
	mustRun(t, "", "keys", "add", "--dir", dir, "--user", "alice", pub)
	writeFile(t, dir, "backup~", []byte(""), 0o644)
	r := run(t, "", "keys", "list", "--dir", dir)
	wantFail(t, r, 1, "broken")
	if !strings.Contains(r.stderr, "backup~") || !strings.Contains(r.stdout, "alice") || strings.Contains(r.stdout, "broken") {
		t.Errorf("list with bad files: %+v", r)
	}
	// verify warns about them and goes on.
	token := strings.TrimSpace(mustRun(t, "", "sign", "--key", fixture("keys/ed25519.pem"), "--user", "alice"))
	r = run(t, "", "verify", "--keys", dir, token)
	if r.code != 0 || !strings.Contains(r.stderr, "warning:") || !strings.Contains(r.stdout, "username:      alice") {
		t.Errorf("verify with a bad file in the dir: %+v", r)
	}
	wantFail(t, run(t, "", "verify", "--keys", filepath.Join(dir, "nope"), token), 1, "no such file")
}

// remove keeps the rest of a hand-edited file: comments, PEM blocks and
// their labels.
func TestKeysRemoveKeepsTheRest(t *testing.T) {
	dir := t.TempDir()
	edLine := strings.TrimSpace(mustRun(t, "", "pubkey", "--key", fixture("keys/ed25519.pem"), "--format", "openssh"))
	rsaPEM := string(readFile(t, fixture("keys/rsa.pem.pub")))
	p256PEM := string(readFile(t, fixture("keys/p256.pem.pub")))
	tests := []struct {
		name   string
		file   string
		remove string
		want   string
	}{
		{
			"an OpenSSH line",
			"# billing's keys\n" + edLine + " old\n\n# rsa key\n" + rsaPEM,
			"keys/ed25519.pem.pub",
			"# billing's keys\n\n# rsa key\n" + rsaPEM,
		},
		{
			"a PEM block and its label",
			"# billing's keys\n\n# rsa key\n" + rsaPEM + edLine + " new\n",
			"keys/rsa.pem.pub",
			"# billing's keys\n\n" + edLine + " new\n",
		},
		{
			"a labelled PEM block before another",
			"# rsa key\n" + rsaPEM + p256PEM,
			"keys/rsa.pem.pub",
			p256PEM,
		},
		{
			// Removing the line would make the comment above it the label
			// of the PEM block below: the file is written afresh instead.
			"a comment that would become a label",
			"# note\n" + edLine + "\n" + p256PEM,
			"keys/ed25519.pem.pub",
			strings.TrimSpace(mustRun(t, "", "pubkey", "--key", fixture("keys/p256.pem"), "--format", "openssh")) + "\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, dir, "billing", []byte(tt.file), 0o644)
			mustRun(t, "", "keys", "remove", "--dir", dir, "--user", "billing", kidOf(t, tt.remove))
			if got := string(readFile(t, path)); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}
