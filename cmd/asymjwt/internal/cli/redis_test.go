package cli_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/asymjwt/asymjwt/cmd/asymjwt/internal/cli"
	"github.com/asymjwt/asymjwt/redis/redistest"
)

// With --redis, instances share the replay store: a token used at one is
// refused at every other. With the memory store it is not, which is
// why several instances need --redis.
func TestProxyRedis(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	up := newUpstream(t)
	dir := keysDir(t)
	billing := signer(t, "billing", "keys/ed25519.pem")

	a := startProxy(t, "--upstream", up.URL, "--keys", dir, "--redis", rs.URL())
	b := startProxy(t, "--upstream", up.URL, "--keys", dir, "--redis", rs.URL())
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
	rs.Stop()
	tok, _ = billing.Token()
	if status, _, _ := send(t, http.DefaultClient, "GET", a.url("/x"), "", billing.AuthorizationValue(tok), nil); status != 503 {
		t.Fatalf("redis down: %d, want 503", status)
	}
}

func TestProxyRedisStartFailures(t *testing.T) {
	t.Parallel()
	evicting := redistest.Start(t, "--maxmemory-policy", "allkeys-lru")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nowhere := "redis://" + ln.Addr().String()
	ln.Close()
	up := newUpstream(t)
	dir := keysDir(t)
	for _, tt := range []struct{ name, url, want string }{
		{"evicting Redis", evicting.URL(), "maxmemory-policy"},
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
	rs := redistest.Start(t, "--rename-command", "CONFIG", "", "--rename-command", "INFO", "")
	up := newUpstream(t)
	dir := keysDir(t)
	// Were it to start, it would serve until the deadline, then exit 0.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var stderr syncBuffer
	args := []string{"proxy", "--listen", "127.0.0.1:0", "--upstream", up.URL, "--keys", dir, "--redis", rs.URL()}
	if code := cli.Run(ctx, args, strings.NewReader(""), io.Discard, &stderr); code != 1 || !strings.Contains(stderr.String(), "--insecure-redis-unchecked-policy") {
		t.Fatalf("exit %d, want 1 and a message naming --insecure-redis-unchecked-policy:\n%s", code, stderr.String())
	}

	p := startProxy(t, "--upstream", up.URL, "--keys", dir, "--redis", rs.URL(), "--insecure-redis-unchecked-policy")
	if !strings.Contains(p.logs.String(), "could not check Redis's maxmemory-policy") {
		t.Errorf("no warning logged:\n%s", p.logs)
	}
	billing := signer(t, "billing", "keys/ed25519.pem")
	tok, _ := billing.Token()
	if status, _, _ := send(t, http.DefaultClient, "GET", p.url("/x"), "", billing.AuthorizationValue(tok), nil); status != 200 {
		t.Errorf("status %d", status)
	}
}

// With --redis, the offset between instances' clocks that the replay
// guarantee covers (--max-clock-skew) cannot be enforced: the proxy
// compares its clock with Redis's at start and warns when it may be
// more than half of it away. It used to say nothing.
func TestProxyRedisWarnsOfClockSkew(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	up := newUpstream(t)
	dir := keysDir(t)
	const warning = "clock may be too far"
	for _, tt := range []struct {
		name string
		args []string
		warn bool
	}{
		{"default skew, same host", nil, false},
		{"skew below any round trip", []string{"--max-clock-skew", "1ns"}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := startProxy(t, append([]string{"--upstream", up.URL, "--keys", dir, "--redis", rs.URL()}, tt.args...)...)
			if got := strings.Contains(p.logs.String(), warning); got != tt.warn {
				t.Fatalf("warning %q logged: %v, want %v; logs:\n%s", warning, got, tt.warn, p.logs)
			}
		})
	}
}

// Instances sharing a Redis must keep entries equally long: one started
// with a shorter --redis-retention than another recorded is refused,
// since it would forget tokens that the other, with its wider window,
// could still accept. Nothing compared them before.
func TestProxyRedisFleetRetention(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	up := newUpstream(t)
	dir := keysDir(t)
	startProxy(t, "--upstream", up.URL, "--keys", dir, "--redis", rs.URL(), "--tolerance", "30s", "--redis-retention", "61s")
	r := run(t, "", "proxy", "--listen", "127.0.0.1:0", "--upstream", up.URL, "--keys", dir, "--redis", rs.URL())
	wantFail(t, r, 1, "--redis-retention")
	startProxy(t, "--upstream", up.URL, "--keys", dir, "--redis", rs.URL(), "--redis-retention", "61s")
}

// An instance refused at start because its own --redis-retention is too
// short for its window never ran: it must not record that retention as
// the fleet's. Recorded, a longer one than the fleet's would make every
// running instance refuse to restart (ErrFleetRetention) until the key
// was deleted by hand.
func TestProxyRefusedRetentionNotRecorded(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	up := newUpstream(t)
	dir := keysDir(t)
	r := run(t, "", "proxy", "--listen", "127.0.0.1:0", "--upstream", up.URL, "--keys", dir, "--redis", rs.URL(),
		"--tolerance", "60s", "--redis-retention", "90s")
	wantFail(t, r, 2, "--redis-retention")
	startProxy(t, "--upstream", up.URL, "--keys", dir, "--redis", rs.URL())
}
