package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// keys add and keys remove read, change and write the user's file; run at
// the same time, neither may undo the other: a revoked key must not come
// back, an added one must not be lost.
func TestKeysConcurrentEdits(t *testing.T) {
	t.Parallel()
	edKID := strings.TrimSpace(mustRun(t, "", "fingerprint", fixture("keys/ed25519.pem.pub")))
	for i := 0; i < 100; i++ {
		dir := t.TempDir()
		mustRun(t, "", "keys", "add", "--dir", dir, "--user", "alice", fixture("keys/ed25519.pem.pub"))
		var wg sync.WaitGroup
		results := make([]result, 3)
		for j, args := range [][]string{
			{"keys", "remove", "--dir", dir, "--user", "alice", edKID},
			{"keys", "add", "--dir", dir, "--user", "alice", fixture("keys/p256.pem.pub")},
			{"keys", "add", "--dir", dir, "--user", "alice", fixture("keys/rsa.pem.pub")},
		} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[j] = run(t, "", args...)
			}()
		}
		wg.Wait()
		for _, r := range results {
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
		}
		data, err := os.ReadFile(filepath.Join(dir, "alice"))
		if err != nil {
			t.Fatal(err)
		}
		if s := string(data); strings.Contains(s, "ssh-ed25519") || !strings.Contains(s, "ecdsa-sha2-nistp256") || !strings.Contains(s, "ssh-rsa") {
			t.Fatalf("run %d: the file holds\n%s\nwant the p256 and rsa keys only", i, s)
		}
		// The lock file is hidden: servers and keys list ignore it.
		if r := run(t, "", "keys", "list", "--dir", dir); r.code != 0 || r.stderr != "" {
			t.Fatalf("keys list: exit %d, stderr %q", r.code, r.stderr)
		}
	}
}
