package cli_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/asymjwt/asymjwt/cmd/asymjwt/internal/cli"
	"github.com/redis/go-redis/v9"
)

// redisServer runs a throwaway redis-server on a free loopback port,
// without persistence; the test's cleanup stops it. Without redis-server
// the test is skipped, or fails under CI=true (scripts/ensure-redis.sh
// installs it).
type redisServer struct {
	addr string
	cmd  *exec.Cmd
}

func startRedis(t *testing.T, args ...string) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis-server is not installed and CI=true: %v", err)
		}
		t.Skipf("redis-server is not installed: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	args = append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir()}, args...)
	s := &redisServer{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), cmd: exec.Command(bin, args...)}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	client := redis.NewClient(&redis.Options{Addr: s.addr})
	defer client.Close()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if client.Ping(context.Background()).Err() == nil {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %s did not answer", s.addr)
		}
	}
}

func (s *redisServer) stop() {
	if s.cmd.ProcessState == nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
	}
}

func (s *redisServer) url() string { return "redis://" + s.addr + "/0" }

// With --redis, instances share the replay store: a token used at one is
// refused at every other. With the memory store it is not, which is
// why several instances need --redis.
func TestProxyRedis(t *testing.T) {
	t.Parallel()
	rs := startRedis(t)
	up := newUpstream(t)
	dir := keysDir(t)
	billing := signer(t, "billing", "keys/ed25519.pem")

	a := startProxy(t, "--upstream", up.URL, "--keys", dir, "--redis", rs.url())
	b := startProxy(t, "--upstream", up.URL, "--keys", dir, "--redis", rs.url())
	tok, _ := billing.Token()
	auth := billing.AuthorizationValue(tok)
	if status, _, _ := send(t, http.DefaultClient, "GET", a.url("/x"), "", auth, nil); status != 200 {
		t.Fatalf("first use at a: %d", status)
	}
	if status, _, _ := send(t, http.DefaultClient, "GET", b.url("/x"), "", auth, nil); status != 401 {
		t.Fatalf("replay at b: %d, want 401", status)
	}

	memA := startProxy(t, "--upstream", up.URL, "--keys", dir)
	memB := startProxy(t, "--upstream", up.URL, "--keys", dir)
	tok, _ = billing.Token()
	auth = billing.AuthorizationValue(tok)
	for _, p := range []*runningProxy{memA, memB} {
		if status, _, _ := send(t, http.DefaultClient, "GET", p.url("/x"), "", auth, nil); status != 200 {
			t.Fatalf("memory store: %d", status)
		}
	}

	// Redis down: refused with 503 (fail closed), never let through.
	rs.stop()
	tok, _ = billing.Token()
	if status, _, _ := send(t, http.DefaultClient, "GET", a.url("/x"), "", billing.AuthorizationValue(tok), nil); status != 503 {
		t.Fatalf("redis down: %d, want 503", status)
	}
}

func TestProxyRedisStartFailures(t *testing.T) {
	t.Parallel()
	evicting := startRedis(t, "--maxmemory-policy", "allkeys-lru")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nowhere := "redis://" + ln.Addr().String()
	ln.Close()
	up := newUpstream(t)
	dir := keysDir(t)
	for _, tt := range []struct{ name, url, want string }{
		{"evicting Redis", evicting.url(), "maxmemory-policy"},
		{"unreachable Redis", nowhere, "redis at " + ln.Addr().String()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, "", "proxy", "--listen", "127.0.0.1:0", "--upstream", up.URL, "--keys", dir, "--redis", tt.url)
			wantFail(t, r, 1, tt.want)
		})
	}
}

// A Redis whose maxmemory-policy cannot be read (CONFIG and INFO disabled,
// as on some managed services) may evict replay entries: the proxy refuses
// to start unless told, by a flag named as insecure, to go on anyway.
func TestProxyRedisUncheckedPolicy(t *testing.T) {
	t.Parallel()
	rs := startRedis(t, "--rename-command", "CONFIG", "", "--rename-command", "INFO", "")
	up := newUpstream(t)
	dir := keysDir(t)
	// Were it to start, it would serve until the deadline, then exit 0.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var stderr syncBuffer
	args := []string{"proxy", "--listen", "127.0.0.1:0", "--upstream", up.URL, "--keys", dir, "--redis", rs.url()}
	if code := cli.Run(ctx, args, strings.NewReader(""), io.Discard, &stderr); code != 1 || !strings.Contains(stderr.String(), "--insecure-redis-unchecked-policy") {
		t.Fatalf("exit %d, want 1 and a message naming --insecure-redis-unchecked-policy:\n%s", code, stderr.String())
	}

	p := startProxy(t, "--upstream", up.URL, "--keys", dir, "--redis", rs.url(), "--insecure-redis-unchecked-policy")
	if !strings.Contains(p.logs.String(), "could not check Redis's maxmemory-policy") {
		t.Errorf("no warning logged:\n%s", p.logs)
	}
	billing := signer(t, "billing", "keys/ed25519.pem")
	tok, _ := billing.Token()
	if status, _, _ := send(t, http.DefaultClient, "GET", p.url("/x"), "", billing.AuthorizationValue(tok), nil); status != 200 {
		t.Errorf("status %d", status)
	}
}
