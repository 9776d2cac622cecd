package cli_test

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

// allocatedBy returns the bytes allocated while fn ran.
func allocatedBy(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// Every input from outside is bounded before it is parsed: oversized
// input is refused as too large, and the work done (bytes allocated)
// stays a small multiple of the limit, not of the input.
func TestInputsBoundedBeforeParsing(t *testing.T) {
	const huge = 16 << 20
	dots := strings.Repeat(".", huge)
	as := strings.Repeat("a", huge)
	dir := t.TempDir()
	bigFile := filepath.Join(dir, "big")
	if err := os.WriteFile(bigFile, []byte(strings.Repeat("-----BEGIN PUBLIC KEY-----\n", 1<<16)), 0o600); err != nil {
		t.Fatal(err)
	}
	pub, priv := fixture("keys/ed25519.pem.pub"), fixture("keys/ed25519.pem")
	// The limits: what a token, a key file, a passphrase file and a
	// request body to verify may take.
	const token, key, pass, body = 9 << 10, 64 << 10, 4 << 10, asymjwt.DefaultMaxBodySize
	tests := []struct {
		name  string
		stdin string
		args  []string
		limit int
	}{
		{"verify, dots on stdin", dots, []string{"verify", "--pub", pub, "-"}, token},
		{"verify, letters on stdin", as, []string{"verify", "--pub", pub, "-"}, token},
		{"verify, header on stdin", "Authorization: JWT " + dots, []string{"verify", "--pub", pub, "-"}, token},
		{"verify, argument", "", []string{"verify", "--pub", pub, dots[:1<<20]}, token},
		{"verify, scheme and argument", "", []string{"verify", "--pub", pub, "JWT " + dots[:1<<20]}, token},
		{"verify, body on stdin", as, []string{"verify", "--pub", pub, "--url", "/", "--body", "-", "e30.e30.x"}, body},
		{"inspect, stdin", dots, []string{"inspect", "-"}, token},
		{"inspect, argument", "", []string{"inspect", dots[:1<<20]}, token},
		{"pubkey, stdin", dots, []string{"pubkey", "--key", "-"}, key},
		{"pubkey, file", "", []string{"pubkey", "--key", bigFile}, key},
		{"fingerprint, stdin", dots, []string{"fingerprint", "-"}, key},
		{"fingerprint, file", "", []string{"fingerprint", bigFile}, key},
		{"jwks, file", "", []string{"jwks", bigFile}, key},
		{"sign, key on stdin", dots, []string{"sign", "--key", "-", "--user", "u"}, key},
		{"sign, passphrase file", "", []string{"sign", "--key", priv, "--user", "u", "--passphrase-file", bigFile}, pass},
		{"keygen, passphrase file", "", []string{"keygen", "--out", filepath.Join(dir, "k.pem"), "--passphrase-file", bigFile}, pass},
		{"keys add, stdin", dots, []string{"keys", "add", "--dir", dir, "--user", "u", "-"}, key},
		{"verify --pub on stdin", dots, []string{"verify", "--pub", "-", "e30.e30.x"}, key},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r result
			n := allocatedBy(func() { r = run(t, tt.stdin, tt.args...) })
			wantFail(t, r, 1, "too large")
			if n > uint64(6*tt.limit+512<<10) { // room for the race detector's own allocations
				t.Errorf("allocated %d bytes to refuse it", n)
			}
		})
	}
}
