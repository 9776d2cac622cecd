package server_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/asymjwt/asymjwt/cmd/asymjwt/internal/server"
	asymjwt "github.com/asymjwt/asymjwt/core"
	asymjwtredis "github.com/asymjwt/asymjwt/redis"
	"github.com/asymjwt/asymjwt/redis/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
)

// BenchmarkProxyLoad serves the proxy as `asymjwt proxy` wires it (access
// log at INFO, here to io.Discard; the memory replay store, or Redis
// through OpenRedis) on a loopback listener, in front of an upstream
// answering "ok", and sends it requests from 32 goroutines, each with its
// own pre-signed Ed25519 token. Client, proxy and upstream share the
// process: it is for CPU profiles of the proxy's side (pprof -focus on
// the proxy's handler, see BENCHMARKS.md); bench/cmd/proxyload measures
// the proxy process's CPU alone. cpu-µs/op is the whole process's CPU
// per request (client and upstream included): compare it between
// sub-benchmarks of one run only.
//
//	go test -run '^$' -bench ProxyLoad -benchtime 20000x -cpuprofile cpu.out .
func BenchmarkProxyLoad(b *testing.B) {
	b.Run("memory", func(b *testing.B) {
		benchmarkProxyLoad(b, asymjwt.NewMemoryReplayStore())
	})
	b.Run("redis", func(b *testing.B) {
		srv := redistest.Start(b)
		o, err := redis.ParseURL(srv.URL())
		if err != nil {
			b.Fatal(err)
		}
		client, store, err := server.OpenRedis(context.Background(), o, false, slog.New(slog.DiscardHandler))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { client.Close() })
		benchmarkProxyLoad(b, store)
	})
	// The same Redis through github.com/redis/rueidis (auto-pipelining),
	// which OpenRedis does not offer yet: what switching would save.
	b.Run("redis-rueidis", func(b *testing.B) {
		srv := redistest.Start(b)
		c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{srv.Addr}, DisableCache: true})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(c.Close)
		store, err := asymjwtredis.NewRueidisStore(c)
		if err != nil {
			b.Fatal(err)
		}
		benchmarkProxyLoad(b, store)
	})
}

func benchmarkProxyLoad(b *testing.B, replay asymjwt.ReplayStore) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	b.Cleanup(up.Close)
	upstream, _ := url.Parse(up.URL)
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	keys := asymjwt.NewMemoryKeyStore()
	if _, err := keys.Add("loadclient", pub); err != nil {
		b.Fatal(err)
	}
	logger := server.NewLogger(io.Discard, "text", slog.LevelInfo)
	v, err := asymjwt.NewVerifier(keys, asymjwt.WithLogger(logger), asymjwt.WithReplayStore(replay),
		asymjwt.WithTolerance(asymjwt.MaxTolerance))
	if err != nil {
		b.Fatal(err)
	}
	proxy := httptest.NewServer(server.NewProxy(server.ProxyConfig{Verifier: v, Upstream: upstream, HealthPath: "/healthz", Logger: logger}))
	b.Cleanup(proxy.Close)
	signer, err := asymjwt.NewSigner("loadclient", priv)
	if err != nil {
		b.Fatal(err)
	}
	auth := make([]string, b.N)
	for i := range auth {
		tok, err := signer.Token()
		if err != nil {
			b.Fatal(err)
		}
		auth[i] = signer.AuthorizationValue(tok)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.Cleanup(client.CloseIdleConnections)
	target := proxy.URL + "/v1/items?page=2"
	var next atomic.Int64
	b.SetParallelism(16) // 32 clients on 2 CPUs
	b.ResetTimer()
	start, cpu0 := time.Now(), processCPU()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodGet, target, nil)
			req.Header.Set("Authorization", auth[next.Add(1)-1])
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || string(body) != "ok" {
				b.Errorf("status %d, body %q", resp.StatusCode, body)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
	b.ReportMetric(float64(processCPU()-cpu0)/float64(time.Microsecond)/float64(b.N), "cpu-µs/op")
}

// processCPU returns the CPU time this process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
