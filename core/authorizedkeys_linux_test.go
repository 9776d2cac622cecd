package asymjwt_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

// ksAsNobody runs fn on a thread that opens files as user nobody, so that
// a file of mode 0600 cannot be read without anything about the file
// changing: a read error that passes, as EMFILE or EIO do. It needs root
// (setfsuid); the thread is the caller's, locked for the time of fn, and
// OpenAuthorizedKeysDir and Reload load on the caller's goroutine.
func ksAsNobody(t *testing.T, fn func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("making a file unreadable without changing it needs root (setfsuid)")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	syscall.Setfsuid(65534)
	defer syscall.Setfsuid(0)
	fn()
}

// ksNobodyCanList makes dir (and the per-test folder above it) listable
// by nobody; its files stay 0600.
func ksNobodyCanList(t *testing.T, dir string) {
	t.Helper()
	for _, p := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAuthorizedKeysDirRetriesUnreadableFile(t *testing.T) {
	ksLeakCheck(t)
	a := ksNewParty(t, "alice", nil)
	b := ksNewParty(t, "alice", nil)
	isStoreFailure := func(err error) bool {
		return asymjwt.StatusCode(err) == 503 && !errors.Is(err, asymjwt.ErrUnknownUser) && !errors.Is(err, asymjwt.ErrUnknownKey)
	}

	t.Run("never loaded: a store failure until readable", func(t *testing.T) {
		dir := t.TempDir()
		ksNobodyCanList(t, dir)
		ksWriteAtomic(t, dir, "alice", a.line(t, ""))
		var reported ksErrors
		var d *asymjwt.AuthorizedKeysDir
		ksAsNobody(t, func() {
			d = ksOpenDir(t, dir, asymjwt.WithAuthorizedKeysPollInterval(0),
				asymjwt.WithAuthorizedKeysErrorHandler(reported.handle))
		})
		if reported.count() != 1 || !errors.Is(reported.last(), fs.ErrPermission) {
			t.Fatalf("reported %v, want the permission error", reported.errs)
		}
		if err := ksVerify(t, ksVerifier(t, d), a); !isStoreFailure(err) {
			t.Errorf("alice's file unreadable: %v, want a store failure", err)
		}
	})

	t.Run("first load failed: the next poll reads it", func(t *testing.T) {
		dir := t.TempDir()
		ksNobodyCanList(t, dir)
		ksWriteAtomic(t, dir, "alice", a.line(t, ""))
		var d *asymjwt.AuthorizedKeysDir
		// The first load, on this thread, fails; the polls run on others,
		// which read as root: nothing about the file changed.
		ksAsNobody(t, func() {
			d = ksOpenDir(t, dir, asymjwt.WithAuthorizedKeysPollInterval(5*time.Millisecond),
				asymjwt.WithAuthorizedKeysErrorHandler(func(error) {}))
		})
		v := ksVerifier(t, d)
		ksEventually(t, 5*time.Second, "alice loaded", func() bool { return ksVerify(t, v, a) == nil })
	})

	t.Run("a revoked key does not outlive a failed read", func(t *testing.T) {
		dir := t.TempDir()
		ksNobodyCanList(t, dir)
		ksWriteAtomic(t, dir, "alice", a.line(t, "")+b.line(t, ""))
		var reported ksErrors
		d := ksOpenDir(t, dir, asymjwt.WithAuthorizedKeysPollInterval(5*time.Millisecond),
			asymjwt.WithAuthorizedKeysErrorHandler(reported.handle))
		v := ksVerifier(t, d)
		if err := ksVerify(t, v, a); err != nil {
			t.Fatal(err)
		}
		// A revoked. Reading the new version fails once (here, on this
		// thread); the version must not count as read.
		ksWriteAtomic(t, dir, "alice", b.line(t, ""))
		ksAsNobody(t, func() {
			if err := d.Reload(); !errors.Is(err, fs.ErrPermission) {
				t.Errorf("Reload as nobody: %v", err)
			}
		})
		ksEventually(t, 5*time.Second, "A refused", func() bool {
			return errors.Is(ksVerify(t, v, a), asymjwt.ErrUnknownKey)
		})
		if err := ksVerify(t, v, b); err != nil {
			t.Errorf("B: %v", err)
		}
	})
}

func TestAuthorizedKeysDirReportsLastingReadErrorOnce(t *testing.T) {
	// /proc/self/mem stats as a regular file and fails every read with
	// EIO: an unreadable file that is tried again at every poll.
	if _, err := os.Stat("/proc/self/mem"); err != nil {
		t.Skip(err)
	}
	ksLeakCheck(t)
	dir := t.TempDir()
	if err := os.Symlink("/proc/self/mem", filepath.Join(dir, "alice")); err != nil {
		t.Fatal(err)
	}
	var reported ksErrors
	d := ksOpenDir(t, dir, asymjwt.WithAuthorizedKeysPollInterval(2*time.Millisecond),
		asymjwt.WithAuthorizedKeysErrorHandler(reported.handle))
	if reported.count() != 1 || !errors.Is(reported.last(), syscall.EIO) {
		t.Fatalf("reported %v, want one I/O error", reported.errs)
	}
	time.Sleep(100 * time.Millisecond) // fifty polls, each reading again
	if n := reported.count(); n != 1 {
		t.Errorf("a lasting read error was reported %d times", n)
	}
	_, err := d.Keys(context.Background(), "alice", "")
	if err == nil || errors.Is(err, asymjwt.ErrUnknownUser) || errors.Is(err, asymjwt.ErrUnknownKey) {
		t.Errorf("lookup of a user whose file never loaded: %v, want a store error", err)
	}
	// Reload reports every problem it finds.
	if err := d.Reload(); !errors.Is(err, syscall.EIO) {
		t.Errorf("Reload() = %v", err)
	}
	if n := reported.count(); n != 2 {
		t.Errorf("after Reload: %d reports, want 2", n)
	}
}

func TestAuthorizedKeysDirFileSwappedForFIFO(t *testing.T) {
	// Between the stat of a reload and its open, the file is replaced by
	// a FIFO: the open must not block (under the reload lock, so Close
	// would hang too), and the FIFO must not be read as the user's keys.
	ksLeakCheck(t)
	dir := t.TempDir()
	a := ksNewParty(t, "alice", nil)
	fifo := filepath.Join(dir, ".fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	alice := filepath.Join(dir, "alice")
	ksWriteAtomic(t, dir, "alice", a.line(t, ""))
	d, err := asymjwt.OpenAuthorizedKeysDir(dir, asymjwt.WithAuthorizedKeysLogger(ksQuiet),
		asymjwt.WithAuthorizedKeysPollInterval(time.Millisecond),
		asymjwt.WithAuthorizedKeysErrorHandler(func(error) {}))
	if err != nil {
		t.Fatal(err)
	}
	stop := time.Now().Add(500 * time.Millisecond)
	for i := 0; time.Now().Before(stop); i++ {
		// alice becomes a link to the one FIFO, then a regular file again.
		tmp := filepath.Join(dir, ".swap")
		if err := os.Link(fifo, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, alice); err != nil {
			t.Fatal(err)
		}
		ksWriteAtomic(t, dir, "alice", a.line(t, strings.Repeat("x", i%7)))
	}
	closed := make(chan struct{})
	go func() {
		d.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Error("Close hangs: a reload is blocked opening the FIFO")
		for { // release the blocked open, so the test can end
			if w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				w.Close()
			}
			select {
			case <-closed:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
}
