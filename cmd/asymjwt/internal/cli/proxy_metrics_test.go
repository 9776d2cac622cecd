package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/asymjwt/asymjwt/cmd/asymjwt/internal/cli"
	"github.com/asymjwt/asymjwt/redis/redistest"
)

// metricsAddr waits for the metrics listener's log line and returns its address.
func (p *runningProxy) metricsAddr(t testing.TB) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, l := range logLines(t, p.logs) {
			if msg, _ := l["msg"].(string); strings.HasSuffix(msg, " metrics: listening") {
				return l["addr"].(string)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("metrics listener did not start:\n%s", p.logs)
	return ""
}

// scrapeMetrics reads url's text exposition into "name{labels}" -> value.
func scrapeMetrics(t testing.TB, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	out := make(map[string]float64)
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestProxyMetrics(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	dir := keysDir(t)
	p := startProxy(t, "--upstream", up.URL, "--keys", dir, "--metrics-listen", "127.0.0.1:0")
	metricsURL := "http://" + p.metricsAddr(t) + "/metrics"
	client := &http.Client{}
	billing := signer(t, "billing", "keys/ed25519.pem")
	auth := func() string {
		tok, err := billing.Token()
		if err != nil {
			t.Fatal(err)
		}
		return billing.AuthorizationValue(tok)
	}

	replayed := auth()
	for _, c := range []struct {
		auth string
		want int
	}{
		{replayed, 200},
		{replayed, 401}, // replay
		{auth(), 200},
		{"", 401},                // no credentials
		{"JWT not.a.token", 401}, // malformed
	} {
		if status, body, _ := send(t, client, "GET", p.url("/v1/x"), "", c.auth, nil); status != c.want {
			t.Fatalf("status %d (%s), want %d", status, body, c.want)
		}
	}
	// The proxied port does not serve the metrics.
	if status, _, _ := send(t, client, "GET", p.url("/metrics"), "", "", nil); status != 401 {
		t.Errorf("GET /metrics on the proxied port: %d, want 401", status)
	}
	up.Close() // upstream down: accepted, then 502
	if status, _, _ := send(t, client, "GET", p.url("/v1/x"), "", auth(), nil); status != 502 {
		t.Fatalf("upstream down: status %d, want 502", status)
	}

	got := scrapeMetrics(t, metricsURL)
	for series, want := range map[string]float64{
		`asymjwt_requests_total{outcome="accepted"}`:                     3,
		`asymjwt_requests_total{outcome="replay"}`:                       1,
		`asymjwt_requests_total{outcome="no_credentials"}`:               2, // with GET /metrics
		`asymjwt_requests_total{outcome="malformed"}`:                    1,
		`asymjwt_requests_total{outcome="signature"}`:                    0,
		`asymjwt_user_requests_total{username="billing"}`:                3,
		`asymjwt_verification_duration_seconds_count{result="accepted"}`: 3,
		`asymjwt_verification_duration_seconds_count{result="refused"}`:  4,
		`asymjwt_replay_store_duration_seconds_count{store="memory"}`:    4,
		`asymjwt_replay_store_errors_total{store="memory"}`:              0,
		`asymjwt_proxy_upstream_duration_seconds_count`:                  3,
		`asymjwt_proxy_upstream_errors_total`:                            1,
		`asymjwt_key_source_reload_failures_total{source="directory"}`:   0,
	} {
		if v, ok := got[series]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", series, v, ok, want)
		}
	}
	if got[`asymjwt_key_source_reloads_total{source="directory"}`] < 1 {
		t.Error("no load of the keys directory counted")
	}
	if ts := got[`asymjwt_key_source_last_success_timestamp_seconds{source="directory"}`]; ts < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("last good load of the keys directory at %v", ts)
	}
	build := false
	for k, v := range got {
		build = build || strings.HasPrefix(k, "asymjwt_build_info{") && strings.Contains(k, `version="`) && v == 1
	}
	if !build {
		t.Error("no asymjwt_build_info")
	}
	if _, ok := got["process_cpu_seconds_total"]; !ok {
		t.Error("no process_cpu_seconds_total")
	}
}

func TestProxyMetricsListenFailures(t *testing.T) {
	t.Parallel()
	r := run(t, "", "proxy", "--listen", "127.0.0.1:9", "--metrics-listen", "127.0.0.1:9",
		"--upstream", "http://127.0.0.1:1", "--keys", t.TempDir())
	wantFail(t, r, 2, "--metrics-listen must differ from --listen")

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	r = run(t, "", "proxy", "--listen", "127.0.0.1:0", "--metrics-listen", busy.Addr().String(),
		"--upstream", "http://127.0.0.1:1", "--keys", keysDir(t))
	wantFail(t, r, 1, "--metrics-listen: listen tcp "+busy.Addr().String())
}

// With --redis the replay claims are timed and counted under store="redis",
// and a Redis down shows as replay store errors and store_unavailable
// refusals.
func TestProxyMetricsRedis(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	up := newUpstream(t)
	p := startProxy(t, "--upstream", up.URL, "--keys", keysDir(t), "--redis", rs.URL(), "--metrics-listen", "127.0.0.1:0")
	metricsURL := "http://" + p.metricsAddr(t) + "/metrics"
	billing := signer(t, "billing", "keys/ed25519.pem")
	get := func(want int) {
		t.Helper()
		tok, err := billing.Token()
		if err != nil {
			t.Fatal(err)
		}
		if status, body, _ := send(t, http.DefaultClient, "GET", p.url("/x"), "", billing.AuthorizationValue(tok), nil); status != want {
			t.Fatalf("status %d (%s), want %d", status, body, want)
		}
	}
	get(200)
	get(200)
	rs.Stop()
	get(503)

	got := scrapeMetrics(t, metricsURL)
	for series, want := range map[string]float64{
		`asymjwt_requests_total{outcome="accepted"}`:                 2,
		`asymjwt_requests_total{outcome="store_unavailable"}`:        1,
		`asymjwt_replay_store_duration_seconds_count{store="redis"}`: 3,
		`asymjwt_replay_store_errors_total{store="redis"}`:           1,
	} {
		if v, ok := got[series]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", series, v, ok, want)
		}
	}
	for k := range got {
		if strings.Contains(k, `store="memory"`) {
			t.Errorf("a memory store series with --redis: %s", k)
		}
	}
}

// A Redis that keeps entries for less than the verifier's replay lifetime
// (tolerance + max clock skew + 1 s) is refused at start, with
// --metrics-listen (whose timing wraps the store) as without.
func TestServersRefuseShortRedisRetention(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	keys := keysDir(t)
	for _, c := range []struct {
		name string
		args []string
	}{
		{"proxy", []string{"proxy", "--listen", "127.0.0.1:0", "--upstream", "http://127.0.0.1:1", "--keys", keys}},
		{"forward-auth", []string{"forward-auth", "--listen", "127.0.0.1:0", "--keys", keys}},
	} {
		for _, metrics := range []bool{false, true} {
			args := append(slices.Clone(c.args), "--redis", rs.URL(), "--redis-retention", "30s", "--tolerance", "20s")
			if metrics {
				args = append(args, "--metrics-listen", "127.0.0.1:0")
			}
			t.Run(fmt.Sprintf("%s/metrics=%v", c.name, metrics), func(t *testing.T) {
				// A server that starts all the same is stopped, and fails the test.
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				var stdout, stderr bytes.Buffer
				code := cli.Run(ctx, args, strings.NewReader(""), &stdout, &stderr)
				wantFail(t, result{code, stdout.String(), stderr.String()}, 2, "--redis-retention")
			})
		}
	}
}
