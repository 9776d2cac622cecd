package asymjwtredis_test

import (
	"bufio"
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"

	asymjwt "github.com/asymjwt/asymjwt/core"
	asymjwtredis "github.com/asymjwt/asymjwt/redis"
	"github.com/redis/go-redis/v9"
)

var discardLogger = slog.New(slog.DiscardHandler)

// newSigner registers a fresh Ed25519 key for username in keys and
// returns a signer with it.
func newSigner(t testing.TB, keys *asymjwt.MemoryKeyStore, username string, opts ...asymjwt.SignerOption) *asymjwt.Signer {
	t.Helper()
	key, err := asymjwt.GenerateKey("ed25519")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Add(username, key.Public()); err != nil {
		t.Fatal(err)
	}
	s, err := asymjwt.NewSigner(username, key, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newStore(t testing.TB, c redis.UniversalClient, opts ...asymjwtredis.Option) *asymjwtredis.Store {
	t.Helper()
	s, err := asymjwtredis.New(c, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newVerifier is one service instance: its own verifier over replay.
func newVerifier(t testing.TB, keys asymjwt.KeyStore, replay asymjwt.ReplayStore, opts ...asymjwt.VerifierOption) *asymjwt.Verifier {
	t.Helper()
	opts = append([]asymjwt.VerifierOption{asymjwt.WithLogger(discardLogger), asymjwt.WithReplayStore(replay)}, opts...)
	v, err := asymjwt.NewVerifier(keys, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func newToken(t testing.TB, s *asymjwt.Signer) string {
	t.Helper()
	tok, err := s.Token()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// recorder is a go-redis hook that keeps the arguments of every command
// the client sends.
type recorder struct {
	mu   sync.Mutex
	cmds [][]any
}

func (r *recorder) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r *recorder) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.mu.Lock()
		r.cmds = append(r.cmds, cmd.Args())
		r.mu.Unlock()
		return next(ctx, cmd)
	}
}

func (r *recorder) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		r.mu.Lock()
		for _, cmd := range cmds {
			r.cmds = append(r.cmds, cmd.Args())
		}
		r.mu.Unlock()
		return next(ctx, cmds)
	}
}

func (r *recorder) commands() [][]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]any(nil), r.cmds...)
}

// commandCalls reads the server's per-command call counts (INFO
// commandstats), keyed by lowercase command name.
func commandCalls(t testing.TB, c *redis.Client) map[string]int {
	t.Helper()
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	calls := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		// cmdstat_set:calls=3,usec=12,usec_per_call=4.00,rejected_calls=0,failed_calls=0
		rest, ok := strings.CutPrefix(sc.Text(), "cmdstat_")
		if !ok {
			continue
		}
		name, stats, _ := strings.Cut(rest, ":")
		for f := range strings.SplitSeq(stats, ",") {
			if v, ok := strings.CutPrefix(f, "calls="); ok {
				n, err := strconv.Atoi(v)
				if err != nil {
					t.Fatalf("commandstats line %q: %v", sc.Text(), err)
				}
				calls[name] = n
			}
		}
	}
	return calls
}

// callsSince returns the commands executed between two commandCalls
// snapshots, leaving out zero counts.
func callsSince(before, after map[string]int) map[string]int {
	d := map[string]int{}
	for name, n := range after {
		if n != before[name] {
			d[name] = n - before[name]
		}
	}
	return d
}
