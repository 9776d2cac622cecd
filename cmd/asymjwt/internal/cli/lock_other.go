//go:build !(darwin || dragonfly || freebsd || illumos || linux || netbsd || openbsd)

package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// lockWait bounds how long lockDir waits for another keys command.
const lockWait = 30 * time.Second

// lockDir takes an exclusive lock on the authorized-keys directory dir,
// held until unlock is called, so that concurrent keys add and keys
// remove do not undo each other's read-modify-write. Without flock(2),
// the lock is dir/.lock, created exclusively and removed by unlock; one
// left behind by a killed process must be removed by hand.
func lockDir(dir string) (unlock func(), err error) {
	path := filepath.Join(dir, lockName)
	deadline := time.Now().Add(lockWait)
	for {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			f.Close()
			return func() { os.Remove(path) }, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("locking %s: %w", dir, err)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("locking %s: %s still exists after %v; remove it if no other keys command is running", dir, path, lockWait)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
