package asymjwtredis_test

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	asymjwtredis "github.com/asymjwt/asymjwt/redis"
	"github.com/asymjwt/asymjwt/redis/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
)

// BenchmarkClients measures one replay claim (SET key 1 PX ms NX of a new
// key, against a local redis-server) with each client configuration the
// store could use, from 32 goroutines as a proxy under load issues them
// (and from one, sequential). cpu-µs/op is this process's CPU time per
// claim, user and system, all threads: the client's cost, which the
// proxy pays; redis-server's is its own process. Wall time (ns/op) on a
// shared machine counts other tenants' work too.
//
//	go test -run '^$' -bench Clients -benchtime 20000x .
//
// The cases:
//   - goredis: what the proxy uses today: *redis.Client with
//     ContextTimeoutEnabled (RESP3, CLIENT SETINFO on connect, pool of
//     10 × GOMAXPROCS), through Store.Claim;
//   - goredis-resp2, goredis-noidentity, goredis-pool4, goredis-pool64:
//     the same with Protocol 2, DisableIdentity, PoolSize 4 or 64;
//   - goredis-pipelined: concurrent claims batched by one goroutine into
//     go-redis pipelines (what auto-pipelining does, by hand);
//   - rueidis: github.com/redis/rueidis, whose concurrent commands share
//     one connection and are written and read in batches (auto-pipelining),
//     through NewRueidisStore.
func BenchmarkClients(b *testing.B) {
	srv := redistest.Start(b)
	goredis := func(configure func(*redis.Options)) func(b *testing.B) claimFunc {
		return func(b *testing.B) claimFunc {
			c := srv.Client(b, func(o *redis.Options) {
				o.ContextTimeoutEnabled = true
				if configure != nil {
					configure(o)
				}
			})
			return newStore(b, c).Claim
		}
	}
	cases := []struct {
		name string
		new  func(b *testing.B) claimFunc
	}{
		{"goredis", goredis(nil)},
		{"goredis-resp2", goredis(func(o *redis.Options) { o.Protocol = 2 })},
		{"goredis-noidentity", goredis(func(o *redis.Options) { o.DisableIdentity = true })},
		{"goredis-pool4", goredis(func(o *redis.Options) { o.PoolSize = 4 })},
		{"goredis-pool64", goredis(func(o *redis.Options) { o.PoolSize = 64 })},
		{"goredis-pipelined", func(b *testing.B) claimFunc {
			c := srv.Client(b, func(o *redis.Options) { o.ContextTimeoutEnabled = true })
			return newPipeliner(b, c).claim
		}},
		{"rueidis", func(b *testing.B) claimFunc {
			c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{srv.Addr}, DisableCache: true})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(c.Close)
			s, err := asymjwtredis.NewRueidisStore(c)
			if err != nil {
				b.Fatal(err)
			}
			return s.Claim
		}},
	}
	var run atomic.Int64
	for _, c := range cases {
		for _, mode := range []string{"parallel32", "sequential"} {
			b.Run(c.name+"/"+mode, func(b *testing.B) {
				claim := c.new(b)
				prefix := fmt.Sprintf("bench%d-%d:", time.Now().UnixNano(), run.Add(1))
				keys := make([]string, b.N)
				for i := range keys {
					keys[i] = prefix + strconv.Itoa(i)
				}
				var next atomic.Int64
				one := func() {
					ok, err := claim(context.Background(), keys[next.Add(1)-1], time.Now().Add(time.Minute))
					if err != nil || !ok {
						b.Errorf("claim: %v, %v", ok, err)
					}
				}
				// Warm the connections up outside the timer.
				for range 64 {
					if _, err := claim(context.Background(), prefix+"warm"+strconv.Itoa(int(next.Load())), time.Now().Add(time.Minute)); err != nil {
						b.Fatal(err)
					}
					next.Store(0)
				}
				cpu0 := processCPU()
				b.ResetTimer()
				if mode == "sequential" {
					for range b.N {
						one()
					}
				} else {
					b.SetParallelism(16) // 32 goroutines on 2 CPUs
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							one()
						}
					})
				}
				b.StopTimer()
				b.ReportMetric(float64(processCPU()-cpu0)/float64(time.Microsecond)/float64(b.N), "cpu-µs/op")
			})
		}
	}
}

type claimFunc func(ctx context.Context, key string, expires time.Time) (bool, error)

// processCPU returns the CPU time this process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// pipeliner batches concurrent claims into go-redis pipelines: one
// goroutine takes every claim waiting (up to 128) and sends them as one
// pipeline, then answers each.
type pipeliner struct {
	client *redis.Client
	reqs   chan pipelineReq
}

type pipelineReq struct {
	key  string
	ms   int64
	done chan pipelineRes
}

type pipelineRes struct {
	ok  bool
	err error
}

func newPipeliner(b *testing.B, c *redis.Client) *pipeliner {
	p := &pipeliner{client: c, reqs: make(chan pipelineReq, 256)}
	stop := make(chan struct{})
	b.Cleanup(func() { close(stop) })
	go func() {
		batch := make([]pipelineReq, 0, 128)
		cmds := make([]*redis.StatusCmd, 0, 128)
		for {
			select {
			case r := <-p.reqs:
				batch = append(batch[:0], r)
			case <-stop:
				return
			}
		drain:
			for len(batch) < cap(batch) {
				select {
				case r := <-p.reqs:
					batch = append(batch, r)
				default:
					break drain
				}
			}
			pipe := c.Pipeline()
			cmds = cmds[:0]
			for _, r := range batch {
				cmd := redis.NewStatusCmd(context.Background(), "set", asymjwtredis.DefaultPrefix+r.key, "1", "px", r.ms, "nx")
				_ = pipe.Process(context.Background(), cmd)
				cmds = append(cmds, cmd)
			}
			_, _ = pipe.Exec(context.Background())
			for i, r := range batch {
				reply, err := cmds[i].Result()
				switch {
				case err == redis.Nil:
					r.done <- pipelineRes{}
				case err != nil:
					r.done <- pipelineRes{err: err}
				default:
					r.done <- pipelineRes{ok: reply == "OK"}
				}
			}
		}
	}()
	return p
}

func (p *pipeliner) claim(ctx context.Context, key string, expires time.Time) (bool, error) {
	done := make(chan pipelineRes, 1)
	p.reqs <- pipelineReq{key: key, ms: asymjwtredis.TTLMillis(time.Until(expires)), done: done}
	r := <-done
	return r.ok, r.err
}
