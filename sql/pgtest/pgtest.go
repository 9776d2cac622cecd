// Package pgtest runs throwaway PostgreSQL servers for tests (of the sql
// module, and of programs that use it, like net/http/httptest): each from
// Debian's postgresql package (its initdb and postgres binaries), in a
// fresh temporary directory, listening only on a Unix socket there (no
// TCP), without durability (fsync off), stopped when the test ends (also
// when it fails). When the tests run as root, the server runs as the
// unprivileged "postgres" user, since PostgreSQL refuses to run as root.
//
// When PostgreSQL is not installed the test is skipped, or fails under
// CI=true, where skipping would hide that nothing was tested. The
// repository's scripts/ensure-test-servers.sh installs it.
package pgtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	// The pgx driver for database/sql, registered as "pgx".
	_ "github.com/jackc/pgx/v5/stdlib"
)

// Server is one PostgreSQL server, which can be stopped and started again
// on the same data directory and socket.
type Server struct {
	tb      testing.TB
	bin     string // directory of initdb and postgres
	dir     string // temporary directory: data/ and the socket
	cred    *syscall.Credential
	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{} // closed when cmd has exited
	nextDB  atomic.Int64
	logPath string
}

const (
	startTimeout = 30 * time.Second
	port         = 5432 // only names the socket file, in a directory of its own
	superuser    = "postgres"
)

// Start initializes a data directory, runs PostgreSQL on it and returns
// once it accepts connections.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin, err := binDir()
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("PostgreSQL is not installed and CI=true, so the PostgreSQL tests must not be skipped; run scripts/ensure-test-servers.sh: %v", err)
		}
		tb.Skipf("PostgreSQL is not installed; skipping (scripts/ensure-test-servers.sh installs it): %v", err)
	}
	s := &Server{tb: tb, bin: bin}
	if os.Geteuid() == 0 {
		if s.cred, err = unprivileged(); err != nil {
			tb.Fatalf("pgtest: running as root, and %v", err)
		}
	}
	// Not tb.TempDir: its parents are closed to other users.
	s.dir, err = os.MkdirTemp("", "pgtest")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = os.RemoveAll(s.dir) })
	if s.cred != nil {
		if err := os.Chown(s.dir, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			tb.Fatal(err)
		}
	}
	s.logPath = filepath.Join(s.dir, "postgres.log")
	tb.Cleanup(s.Stop) // runs before the directory is removed
	out, err := s.command(filepath.Join(bin, "initdb"), "-D", filepath.Join(s.dir, "data"),
		"-U", superuser, "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync").CombinedOutput()
	if err != nil {
		tb.Fatalf("pgtest: initdb: %v\n%s", err, out)
	}
	if err := s.start(); err != nil {
		tb.Fatalf("pgtest: starting postgres: %v", err)
	}
	return s
}

// binDir finds the directory of Debian's PostgreSQL binaries, the newest
// version when several are installed, or else initdb on PATH.
func binDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	p, err := exec.LookPath("initdb")
	if err != nil {
		return "", errors.New("no initdb in /usr/lib/postgresql/*/bin or on PATH")
	}
	return filepath.Dir(p), nil
}

// unprivileged is the "postgres" user the server runs as under root.
func unprivileged() (*syscall.Credential, error) {
	u, err := user.Lookup(superuser)
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL refuses to run as root and there is no %q user to run it as: %w", superuser, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

func (s *Server) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = s.dir
	cmd.SysProcAttr = procAttr()
	if s.cred != nil {
		cmd.SysProcAttr.Credential = s.cred
	}
	return cmd
}

// SocketDir is the directory of the server's Unix socket.
func (s *Server) SocketDir() string { return s.dir }

// URL is a postgres:// URL of database on the server (over its Unix
// socket, as the superuser, without password).
func (s *Server) URL(database string) string {
	q := url.Values{"host": {s.dir}, "port": {strconv.Itoa(port)}, "sslmode": {"disable"}}
	return (&url.URL{Scheme: "postgres", User: url.User(superuser), Path: "/" + database, RawQuery: q.Encode()}).String()
}

// NewDatabase creates an empty database and returns its URL.
func (s *Server) NewDatabase(tb testing.TB) string {
	tb.Helper()
	name := fmt.Sprintf("test%d", s.nextDB.Add(1))
	db := s.Open(tb, "postgres")
	if _, err := db.Exec("CREATE DATABASE " + name); err != nil {
		tb.Fatalf("pgtest: CREATE DATABASE: %v", err)
	}
	return s.URL(name)
}

// Open returns a *sql.DB (driver "pgx") of database, closed when the test
// ends.
func (s *Server) Open(tb testing.TB, database string) *sql.DB {
	tb.Helper()
	db, err := sql.Open("pgx", s.URL(database))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = db.Close() })
	return db
}

// Stop stops the server (fast shutdown: SIGINT, which ends the sessions;
// SIGKILL after a grace period) and waits for it to exit. The data stays
// for Restart.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.done:
	case <-time.After(startTimeout):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
}

// Restart starts the stopped server again.
func (s *Server) Restart() {
	s.tb.Helper()
	s.mu.Lock()
	running := s.cmd != nil
	s.mu.Unlock()
	if running {
		s.tb.Fatal("pgtest: Restart: server still running")
	}
	if err := s.start(); err != nil {
		s.tb.Fatalf("pgtest: restarting postgres: %v", err)
	}
}

func (s *Server) start() error {
	log, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o666)
	if err != nil {
		return err
	}
	cmd := s.command(filepath.Join(s.bin, "postgres"),
		"-D", filepath.Join(s.dir, "data"),
		"-k", s.dir,
		"-p", strconv.Itoa(port),
		"-c", "listen_addresses=",
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		"-c", "max_connections=100",
		"-c", "shared_buffers=32MB",
	)
	cmd.Stdout, cmd.Stderr = log, log
	err = cmd.Start()
	log.Close() // the child holds its own descriptor
	if err != nil {
		return err
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	if err := s.waitReady(done); err != nil {
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("%w\npostgres log:\n%s", err, tail(s.logPath))
	}
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	return nil
}

// waitReady connects until the server answers a query.
func (s *Server) waitReady(exited <-chan struct{}) error {
	db, err := sql.Open("pgx", s.URL("postgres"))
	if err != nil {
		return err
	}
	defer db.Close()
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-exited:
			return errors.New("postgres exited during startup")
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := db.PingContext(ctx)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres did not accept connections within %v: %w", startTimeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(b)
}
