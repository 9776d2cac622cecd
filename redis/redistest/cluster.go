package redistest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// SlotCount is the number of hash slots of a Redis Cluster.
const SlotCount = 16384

// Cluster is a Redis Cluster of masters without replicas, each a Server
// owning an equal range of slots: a master stopped takes its slots down
// (no replica can take over), and with cluster-require-full-coverage no
// the other masters keep serving theirs.
type Cluster struct {
	// Masters are the nodes, in slot order: Masters[i] owns Slots(i).
	Masters []*Server
}

// StartClusterOf runs a Redis Cluster of n masters on loopback with
// cluster-node-timeout 1000 ms and cluster-require-full-coverage no (args
// are appended to each node's command line), and returns once every node
// knows every other and reports cluster_state ok.
func StartClusterOf(tb testing.TB, n int, args ...string) *Cluster {
	tb.Helper()
	if n < 1 || n > SlotCount {
		tb.Fatalf("redistest: StartClusterOf: %d masters", n)
	}
	c := &Cluster{}
	busPorts := make([]int, n)
	for i := range n {
		busPort, err := freePort()
		if err != nil {
			tb.Fatal(err)
		}
		busPorts[i] = busPort
		c.Masters = append(c.Masters, Start(tb, append([]string{
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf",
			"--cluster-port", strconv.Itoa(busPort),
			"--cluster-announce-ip", "127.0.0.1",
			"--cluster-node-timeout", "1000",
			"--cluster-require-full-coverage", "no",
		}, args...)...))
	}
	ctx := context.Background()
	first := c.Masters[0].Client(tb)
	for i, m := range c.Masters {
		lo, hi := c.Slots(i)
		if err := m.Client(tb).ClusterAddSlotsRange(ctx, lo, hi).Err(); err != nil {
			tb.Fatalf("redistest: CLUSTER ADDSLOTSRANGE %d %d on %s: %v", lo, hi, m.Addr, err)
		}
		if i > 0 {
			if err := first.Do(ctx, "cluster", "meet", "127.0.0.1", m.port, busPorts[i]).Err(); err != nil {
				tb.Fatalf("redistest: CLUSTER MEET %s: %v", m.Addr, err)
			}
		}
	}
	deadline := time.Now().Add(startTimeout)
	for _, m := range c.Masters {
		mc := m.Client(tb)
		for {
			info, err := mc.ClusterInfo(ctx).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") &&
				strings.Contains(info, fmt.Sprintf("cluster_known_nodes:%d\r", n)) &&
				strings.Contains(info, fmt.Sprintf("cluster_slots_ok:%d\r", SlotCount)) {
				break
			}
			if time.Now().After(deadline) {
				tb.Fatalf("redistest: cluster not ok on %s after %v: %v %q", m.Addr, startTimeout, err, info)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return c
}

// Slots returns the first and last slot that master i owns.
func (c *Cluster) Slots(i int) (first, last int) {
	n := len(c.Masters)
	return i * SlotCount / n, (i+1)*SlotCount/n - 1
}

// Owner returns the index of the master that owns slot.
func (c *Cluster) Owner(slot int) int {
	for i := range c.Masters {
		if _, last := c.Slots(i); slot <= last {
			return i
		}
	}
	return -1
}

// Addrs returns every master's address, the seed list of a cluster client.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.Masters))
	for i, m := range c.Masters {
		addrs[i] = m.Addr
	}
	return addrs
}

// Client returns a cluster client of the cluster, closed when the test
// ends; configure, if given, adjusts its options.
func (c *Cluster) Client(tb testing.TB, configure ...func(*redis.ClusterOptions)) *redis.ClusterClient {
	tb.Helper()
	opts := &redis.ClusterOptions{Addrs: c.Addrs()}
	for _, f := range configure {
		f(opts)
	}
	cc := redis.NewClusterClient(opts)
	tb.Cleanup(func() { _ = cc.Close() })
	return cc
}
