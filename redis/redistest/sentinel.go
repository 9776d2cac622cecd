package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// MasterName is the name under which a Sentinel of StartSentinel monitors
// its primary.
const MasterName = "asymjwt"

// Sentinel is a primary with one replica, monitored by one Sentinel
// (redis-server --sentinel, quorum 1, down-after-milliseconds 500,
// failover-timeout 3000), all on loopback.
type Sentinel struct {
	// Addr is the Sentinel's host:port.
	Addr string
	// Nodes are the primary at start (Nodes[0]) and its replica.
	Nodes [2]*Server
}

// StartSentinel starts a primary, a replica of it and a Sentinel
// monitoring them, and returns once the Sentinel knows the replica (and
// so could fail over to it). args are appended to both data nodes'
// command lines.
func StartSentinel(tb testing.TB, args ...string) *Sentinel {
	tb.Helper()
	// No delay before the replica's first sync (diskless sync waits 5 s
	// for more replicas by default).
	args = append([]string{"--repl-diskless-sync-delay", "0"}, args...)
	primary := Start(tb, args...)
	replica := Start(tb, append([]string{"--replicaof", "127.0.0.1", strconv.Itoa(primary.port)}, args...)...)
	s := &Sentinel{Nodes: [2]*Server{primary, replica}}
	// Sentinel lists the replicas in the primary's INFO: start it once the
	// replica is there and in sync, or it would learn of it 10 s later.
	rc := replica.Client(tb)
	deadline := time.Now().Add(startTimeout)
	for {
		info, err := rc.Info(context.Background(), "replication").Result()
		if err == nil && strings.Contains(info, "master_link_status:up") {
			break
		}
		if time.Now().After(deadline) {
			tb.Fatalf("redistest: replica not in sync after %v: %v %q", startTimeout, err, info)
		}
		time.Sleep(20 * time.Millisecond)
	}
	dir := tb.TempDir()
	var cmd *exec.Cmd
	var done chan struct{}
	for attempt := 0; ; attempt++ {
		port, err := freePort()
		if err != nil {
			tb.Fatal(err)
		}
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if cmd, done, err = startSentinel(primary.bin, dir, port, primary.port); err == nil {
			break
		}
		if attempt == 4 {
			tb.Fatalf("redistest: starting redis-server --sentinel: %v", err)
		}
	}
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	// Sentinel learns of replicas from the primary's INFO; until then it
	// has nothing to fail over to.
	sc := s.SentinelClient(tb)
	deadline = time.Now().Add(startTimeout)
	for {
		replicas, err := sc.Replicas(context.Background(), MasterName).Result()
		if err == nil && len(replicas) == 1 && replicas[0]["port"] == strconv.Itoa(replica.port) &&
			!strings.Contains(replicas[0]["flags"], "down") && !strings.Contains(replicas[0]["flags"], "disconnected") &&
			replicas[0]["master-link-status"] == "ok" {
			return s
		}
		if time.Now().After(deadline) {
			tb.Fatalf("redistest: Sentinel does not know the replica after %v: %v %v", startTimeout, err, replicas)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func startSentinel(bin, dir string, port, primaryPort int) (*exec.Cmd, chan struct{}, error) {
	conf := filepath.Join(dir, "sentinel.conf")
	err := os.WriteFile(conf, []byte(fmt.Sprintf(`port %d
bind 127.0.0.1
daemonize no
dir %s
logfile ""
sentinel monitor %s 127.0.0.1 %d 1
sentinel down-after-milliseconds %s 500
sentinel failover-timeout %s 3000
`, port, dir, MasterName, primaryPort, MasterName, MasterName)), 0o600)
	if err != nil {
		return nil, nil, err
	}
	logPath := filepath.Join(dir, "sentinel.log")
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(bin, conf, "--sentinel")
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = procAttr()
	err = cmd.Start()
	log.Close()
	if err != nil {
		return nil, nil, err
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	if err := waitReady(net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), done); err != nil {
		_ = cmd.Process.Kill()
		<-done
		return nil, nil, fmt.Errorf("%w\nsentinel log:\n%s", err, tail(logPath))
	}
	return cmd, done, nil
}

// SentinelClient returns a client of the Sentinel itself, closed when the
// test ends.
func (s *Sentinel) SentinelClient(tb testing.TB) *redis.SentinelClient {
	tb.Helper()
	c := redis.NewSentinelClient(&redis.Options{Addr: s.Addr})
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// Client returns a client that finds the primary through the Sentinel
// (redis.NewFailoverClient), closed when the test ends; configure, if
// given, adjusts its options.
func (s *Sentinel) Client(tb testing.TB, configure ...func(*redis.FailoverOptions)) *redis.Client {
	tb.Helper()
	opts := &redis.FailoverOptions{MasterName: MasterName, SentinelAddrs: []string{s.Addr}}
	for _, f := range configure {
		f(opts)
	}
	c := redis.NewFailoverClient(opts)
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// Primary returns the address the Sentinel gives for the primary.
func (s *Sentinel) Primary(tb testing.TB) string {
	tb.Helper()
	addr, err := s.SentinelClient(tb).GetMasterAddrByName(context.Background(), MasterName).Result()
	if err != nil {
		tb.Fatalf("redistest: SENTINEL GET-MASTER-ADDR-BY-NAME: %v", err)
	}
	return net.JoinHostPort(addr[0], addr[1])
}

// Failover makes the Sentinel fail over (SENTINEL FAILOVER, as an
// operator or a lost primary would) and returns the new primary's address
// once the Sentinel names it and it answers as a master. The old primary
// becomes its replica when the Sentinel reconfigures it, shortly after.
func (s *Sentinel) Failover(tb testing.TB) string {
	tb.Helper()
	old := s.Primary(tb)
	sc := s.SentinelClient(tb)
	ctx := context.Background()
	deadline := time.Now().Add(startTimeout)
	for {
		err := sc.Failover(ctx, MasterName).Err()
		if err == nil {
			break
		}
		// The Sentinel refuses while it still judges the replica
		// unsuitable (just started, or a failover in progress).
		if time.Now().After(deadline) {
			tb.Fatalf("redistest: SENTINEL FAILOVER: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for {
		if addr := s.Primary(tb); addr != old {
			role, err := redisRole(ctx, addr)
			if err == nil && role == "master" {
				return addr
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("redistest: no new primary %v after SENTINEL FAILOVER", startTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func redisRole(ctx context.Context, addr string) (string, error) {
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	r, err := c.Do(ctx, "role").Slice()
	if err != nil {
		return "", err
	}
	if len(r) == 0 {
		return "", fmt.Errorf("empty ROLE reply")
	}
	role, _ := r[0].(string)
	return role, nil
}
