// Package redistest runs throwaway redis-server processes for tests (of
// the redis module, and of programs that use it, like net/http/httptest):
// each on a free loopback port, without persistence, in
// the test's temporary directory, stopped when the test ends (also when
// it fails).
//
// When redis-server is not installed the test is skipped, or fails under
// CI=true, where skipping would hide that nothing was tested. The
// repository's scripts/ensure-test-servers.sh installs it.
package redistest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Server is one redis-server process, which can be stopped and started
// again on the same port and directory.
type Server struct {
	// Addr is host:port, on 127.0.0.1.
	Addr string

	tb   testing.TB
	bin  string
	dir  string
	port int
	args []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

const startTimeout = 10 * time.Second

// Start runs redis-server with args appended to the defaults and returns
// once it answers PING.
func Start(tb testing.TB, args ...string) *Server {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("redis-server is not installed and CI=true, so the Redis tests must not be skipped; run scripts/ensure-test-servers.sh: %v", err)
		}
		tb.Skipf("redis-server is not installed; skipping (scripts/ensure-test-servers.sh installs it): %v", err)
	}
	s := &Server{tb: tb, bin: bin, dir: tb.TempDir(), args: args}
	// Registered after TempDir's cleanup, so it runs before the directory
	// is removed.
	tb.Cleanup(s.Stop)
	// A free port can be taken between the probe and the server's bind:
	// try a few.
	for attempt := 0; ; attempt++ {
		s.port, err = freePort()
		if err == nil {
			s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
			if err = s.start(); err == nil {
				return s
			}
		}
		if attempt == 4 {
			tb.Fatalf("redistest: starting redis-server: %v", err)
		}
	}
}

// StartCluster runs a one-node Redis Cluster that owns every slot, for
// *redis.ClusterClient, and returns once the cluster state is ok.
func StartCluster(tb testing.TB, args ...string) *Server {
	tb.Helper()
	busPort, err := freePort()
	if err != nil {
		tb.Fatal(err)
	}
	s := Start(tb, append([]string{
		"--cluster-enabled", "yes",
		"--cluster-config-file", "nodes.conf",
		"--cluster-port", strconv.Itoa(busPort),
		"--cluster-announce-ip", "127.0.0.1",
	}, args...)...)
	c := s.Client(tb)
	ctx := context.Background()
	if err := c.ClusterAddSlotsRange(ctx, 0, 16383).Err(); err != nil {
		tb.Fatalf("redistest: CLUSTER ADDSLOTSRANGE: %v", err)
	}
	deadline := time.Now().Add(startTimeout)
	for {
		info, err := c.ClusterInfo(ctx).Result()
		if err == nil && strings.Contains(info, "cluster_state:ok") {
			return s
		}
		if time.Now().After(deadline) {
			tb.Fatalf("redistest: cluster not ok after %v: %v %q", startTimeout, err, info)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Client returns a client of the server, closed when the test ends;
// configure, if given, adjusts its options.
func (s *Server) Client(tb testing.TB, configure ...func(*redis.Options)) *redis.Client {
	tb.Helper()
	opts := &redis.Options{Addr: s.Addr}
	for _, f := range configure {
		f(opts)
	}
	c := redis.NewClient(opts)
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// URL is the server's address as a redis:// URL, database 0.
func (s *Server) URL() string { return "redis://" + s.Addr + "/0" }

// Stop stops the server (SIGTERM, then SIGKILL after a grace period) and
// waits for it to exit. Without persistence its keys are gone.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(startTimeout):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
}

// StopAndSave shuts the server down with SHUTDOWN SAVE, as a planned
// restart of a persisted Redis does: it writes its keys to its directory,
// and Restart loads them again.
func (s *Server) StopAndSave() {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		s.tb.Fatal("redistest: StopAndSave: server not running")
	}
	conn, err := net.DialTimeout("tcp", s.Addr, time.Second)
	if err != nil {
		s.tb.Fatalf("redistest: StopAndSave: %v", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("SHUTDOWN SAVE\r\n")); err != nil {
		s.tb.Fatalf("redistest: StopAndSave: %v", err)
	}
	select {
	case <-s.done:
	case <-time.After(startTimeout):
		s.tb.Fatalf("redistest: server still running %v after SHUTDOWN SAVE", startTimeout)
	}
	s.cmd = nil
}

// Restart starts the stopped server again on the same port and directory.
func (s *Server) Restart() {
	s.tb.Helper()
	s.mu.Lock()
	running := s.cmd != nil
	s.mu.Unlock()
	if running {
		s.tb.Fatal("redistest: Restart: server still running")
	}
	if err := s.start(); err != nil {
		s.tb.Fatalf("redistest: restarting redis-server: %v", err)
	}
}

func (s *Server) start() error {
	args := append([]string{
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", s.dir,
		"--logfile", "",
		"--daemonize", "no",
	}, s.args...)
	logPath := filepath.Join(s.dir, "redis.log")
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(s.bin, args...)
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = procAttr()
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
	if err := waitReady(s.Addr, done); err != nil {
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("%w\nredis-server log:\n%s", err, tail(logPath))
	}
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	return nil
}

// waitReady polls addr with PING until the answer is PONG.
func waitReady(addr string, exited <-chan struct{}) error {
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-exited:
			return errors.New("redis-server exited during startup")
		default:
		}
		if ping(addr) == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server at %s did not answer PING within %v", addr, startTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func ping(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(b)
}
