// Command proxyload measures what `asymjwt proxy` costs per request, side
// by side with a bare net/http/httputil.ReverseProxy in front of the same
// upstream, in one run.
//
//	cd bench && go run ./cmd/proxyload                 # 20,000 requests, concurrency 32
//	go run ./cmd/proxyload -n 2000 -c 8 -cases bare,memory
//
// Every case runs the proxy in a child process on loopback: the bare
// proxy is this program started again with -serve-bare (an
// httputil.ReverseProxy with room for 1,024 idle upstream connections, as
// asymjwt proxy has), the others the
// real asymjwt binary (built from the workspace with go build, or -asymjwt
// PATH) as `asymjwt proxy --keys DIR --upstream URL`, with the memory
// replay store ("memory") or a redis-server this program starts
// ("redis", --redis), and "memory-nolog" with --log-level warn (no access
// log line per request). The upstream (answering "ok") and the load
// generator run in this process. Each request of the asymjwt cases
// carries its own token (Ed25519, a fresh nonce), all signed before the
// case starts; every response must be 200 "ok", or the run fails.
//
// The proxy's CPU time is read from /proc/PID/stat (utime + stime of all
// its threads, garbage collector included) after a warm-up and after the
// last request; divided by the number of requests, it is the proxy's CPU
// per request. The load generator's and the upstream's work is in this
// process, so it does not count. The floor is the bare Ed25519 signature
// check of the same key (golang-jwt's SigningMethodEdDSA.Verify on the
// tokens' signing input), timed in this process with getrusage before
// and after the load, and reported as their mean: "added / sig check" is
// (proxy CPU − bare proxy CPU) / floor, "redis claim" is
// (redis CPU − memory CPU).
//
// Linux only (it reads /proc).
package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
	"github.com/golang-jwt/jwt/v5"
)

const username = "loadclient"

func main() {
	if len(os.Args) == 3 && os.Args[1] == "-serve-bare" {
		if err := serveBare(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, "proxyload:", err)
			os.Exit(1)
		}
		return
	}
	var cfg config
	flag.IntVar(&cfg.n, "n", 20000, "measured requests per case")
	flag.IntVar(&cfg.c, "c", 32, "concurrent clients (keep-alive connections)")
	flag.StringVar(&cfg.cases, "cases", "bare,memory,redis,memory-nolog", "comma-separated cases: bare, memory, redis, memory-nolog")
	flag.StringVar(&cfg.asymjwt, "asymjwt", "", "asymjwt binary (default: go build github.com/asymjwt/asymjwt/cmd/asymjwt)")
	flag.StringVar(&cfg.redisServer, "redis-server", "redis-server", "redis-server binary, for the redis case")
	flag.Var(&cfg.proxyArgs, "proxy-arg", "extra `ARG` for asymjwt proxy (repeat), e.g. -proxy-arg=--log-level=warn")
	flag.Parse()
	out, err := run(context.Background(), cfg, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "proxyload:", err)
		os.Exit(1)
	}
	fmt.Print(out)
}

type config struct {
	n, c        int
	cases       string
	asymjwt     string
	redisServer string
	proxyArgs   stringList
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, " ") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// result is one case's measurement.
type result struct {
	name     string
	reqs     int
	wall     time.Duration
	p50, p99 time.Duration
	cpu      time.Duration // the proxy process's, over the measured requests
}

func (r result) cpuPerReq() time.Duration { return r.cpu / time.Duration(r.reqs) }

// run measures every case of cfg and returns the markdown report; log
// gets progress.
func run(ctx context.Context, cfg config, log io.Writer) (string, error) {
	if cfg.n < 1 || cfg.c < 1 {
		return "", errors.New("-n and -c must be positive")
	}
	cases := strings.Split(cfg.cases, ",")
	for _, c := range cases {
		if c != "bare" && c != "memory" && c != "memory-nolog" && c != "redis" {
			return "", fmt.Errorf("unknown case %q", c)
		}
	}
	dir, err := os.MkdirTemp("", "proxyload")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)

	up := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	})}
	upLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	go up.Serve(upLn)
	defer up.Close()
	upstream := "http://" + upLn.Addr().String()

	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	signer, err := asymjwt.NewSigner(username, priv)
	if err != nil {
		return "", err
	}
	keysDir := filepath.Join(dir, "keys")
	if err := writeKeysDir(keysDir, priv.Public().(ed25519.PublicKey)); err != nil {
		return "", err
	}

	bin := cfg.asymjwt
	if bin == "" && slices.ContainsFunc(cases, func(c string) bool { return !strings.HasPrefix(c, "bare") }) {
		bin = filepath.Join(dir, "asymjwt")
		fmt.Fprintln(log, "proxyload: go build github.com/asymjwt/asymjwt/cmd/asymjwt")
		b := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/asymjwt/asymjwt/cmd/asymjwt")
		b.Stdout, b.Stderr = log, log
		if err := b.Run(); err != nil {
			return "", fmt.Errorf("building asymjwt: %w", err)
		}
	}

	floorBefore, err := signatureFloor(signer, priv.Public().(ed25519.PublicKey))
	if err != nil {
		return "", err
	}
	var results []result
	for _, name := range cases {
		fmt.Fprintf(log, "proxyload: %s: %d requests at concurrency %d\n", name, cfg.n, cfg.c)
		r, err := runCase(ctx, cfg, name, bin, dir, keysDir, upstream, signer)
		if err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		results = append(results, r)
	}
	floorAfter, err := signatureFloor(signer, priv.Public().(ed25519.PublicKey))
	if err != nil {
		return "", err
	}
	return report(cfg, results, floorBefore, floorAfter), nil
}

// runCase starts the case's proxy, warms it up, and sends cfg.n requests
// from cfg.c clients, measuring the proxy's CPU time over them.
func runCase(ctx context.Context, cfg config, name, bin, dir, keysDir, upstream string, signer *asymjwt.Signer) (result, error) {
	res := result{name: name, reqs: cfg.n}
	port, err := freePort()
	if err != nil {
		return res, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	var cmd *exec.Cmd
	switch name {
	case "bare":
		self, err := os.Executable()
		if err != nil {
			return res, err
		}
		cmd = exec.Command(self, "-serve-"+name, addr+"="+upstream)
	case "memory", "memory-nolog", "redis":
		args := []string{"proxy", "--listen", addr, "--upstream", upstream, "--keys", keysDir,
			// Far from the tokens' time: a slow machine must not make
			// the last pre-signed tokens stale.
			"--tolerance", "5m", "--max-clock-skew", "1s"}
		if name == "redis" {
			stop, url, err := startRedis(cfg.redisServer, filepath.Join(dir, "redis"))
			if err != nil {
				return res, err
			}
			defer stop()
			args = append(args, "--redis", url, "--redis-retention", "5m2s")
		}
		if name == "memory-nolog" {
			// No access log line per request (WARN and above only).
			args = append(args, "--log-level", "warn")
		}
		cmd = exec.Command(bin, append(args, cfg.proxyArgs...)...)
	}
	var stderr tailBuffer
	cmd.Stderr = &stderr // the access log: one line per request
	if err := cmd.Start(); err != nil {
		return res, err
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	base := "http://" + addr
	if err := waitUp(base+"/healthz", cmd); err != nil {
		return res, fmt.Errorf("%w; proxy's stderr:\n%s", err, stderr.String())
	}

	warm := max(cfg.n/20, 2*cfg.c)
	tokens := make([]string, warm+cfg.n)
	if !strings.HasPrefix(name, "bare") {
		if err := signAll(signer, tokens); err != nil {
			return res, err
		}
	}
	client := &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: cfg.c, MaxConnsPerHost: cfg.c, DisableCompression: true,
	}}
	defer client.CloseIdleConnections()
	if _, err := load(ctx, client, base+"/v1/items?page=2", tokens[:warm], cfg.c); err != nil {
		return res, fmt.Errorf("warm-up: %w; proxy's stderr:\n%s", err, stderr.String())
	}
	before, err := procCPU(cmd.Process.Pid)
	if err != nil {
		return res, err
	}
	start := time.Now()
	lat, err := load(ctx, client, base+"/v1/items?page=2", tokens[warm:], cfg.c)
	res.wall = time.Since(start)
	if err != nil {
		return res, fmt.Errorf("%w; proxy's stderr:\n%s", err, stderr.String())
	}
	after, err := procCPU(cmd.Process.Pid)
	if err != nil {
		return res, err
	}
	res.cpu = after - before
	slices.Sort(lat)
	res.p50 = lat[len(lat)*50/100]
	res.p99 = lat[min(len(lat)*99/100, len(lat)-1)]
	return res, nil
}

// load sends one GET per Authorization value (none when it is empty) from c
// goroutines and returns each request's latency; any response other than
// 200 "ok" is an error.
func load(ctx context.Context, client *http.Client, url string, tokens []string, c int) ([]time.Duration, error) {
	lat := make([]time.Duration, len(tokens))
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, c)
	for range c {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(tokens) {
					return
				}
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				if err != nil {
					errs <- err
					return
				}
				if tokens[i] != "" {
					req.Header.Set("Authorization", tokens[i])
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					errs <- err
					return
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				lat[i] = time.Since(t0)
				if err != nil {
					errs <- err
					return
				}
				if resp.StatusCode != http.StatusOK || string(body) != "ok" {
					errs <- fmt.Errorf("request %d: status %d, body %q", i, resp.StatusCode, body)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	return lat, nil
}

// signAll fills tokens with Authorization values, each with a fresh token
// of signer, signed on 4 goroutines.
func signAll(signer *asymjwt.Signer, tokens []string) error {
	var wg sync.WaitGroup
	var firstErr atomic.Pointer[error]
	workers := 4
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(tokens); i += workers {
				t, err := signer.Token()
				if err != nil {
					firstErr.CompareAndSwap(nil, &err)
					return
				}
				tokens[i] = signer.AuthorizationValue(t)
			}
		})
	}
	wg.Wait()
	if p := firstErr.Load(); p != nil {
		return *p
	}
	return nil
}

// signatureFloor times the bare Ed25519 signature check (golang-jwt's
// SigningMethodEdDSA.Verify: decode nothing but the signature, verify
// the signing input) in this process's CPU time, on a batch of the
// signer's tokens.
func signatureFloor(signer *asymjwt.Signer, pub ed25519.PublicKey) (time.Duration, error) {
	const n = 5000
	inputs := make([]string, 256)
	sigs := make([][]byte, len(inputs))
	for i := range inputs {
		tok, err := signer.Token()
		if err != nil {
			return 0, err
		}
		dot := strings.LastIndexByte(tok, '.')
		inputs[i] = tok[:dot]
		if sigs[i], err = jwt.NewParser().DecodeSegment(tok[dot+1:]); err != nil {
			return 0, err
		}
	}
	start, err := selfCPU()
	if err != nil {
		return 0, err
	}
	for i := range n {
		if err := jwt.SigningMethodEdDSA.Verify(inputs[i%len(inputs)], sigs[i%len(sigs)], pub); err != nil {
			return 0, err
		}
	}
	end, err := selfCPU()
	if err != nil {
		return 0, err
	}
	return (end - start) / n, nil
}

// serveBare is the bare proxy's child process: httputil.ReverseProxy to
// upstream, on addr ("addr=upstream"), plus /healthz as asymjwt proxy has.
// Like asymjwt proxy (server.UpstreamTransport) it keeps up to 1,024 idle
// upstream connections, where http.DefaultTransport keeps 2 per host.
func serveBare(arg string) error {
	addr, upstream, ok := strings.Cut(arg, "=")
	if !ok {
		return errors.New("-serve-bare ADDR=UPSTREAM")
	}
	u, err := url.Parse(upstream)
	if err != nil {
		return err
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 1024
	t.MaxIdleConnsPerHost = 1024
	rp.Transport = t
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.Handle("/", rp)
	return http.ListenAndServe(addr, mux)
}

func writeKeysDir(dir string, pub ed25519.PublicKey) error {
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, username), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600)
}

// startRedis runs a throwaway redis-server on a free loopback port,
// without persistence, in dir.
func startRedis(bin, dir string) (stop func(), url string, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, "", err
	}
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir, "--maxmemory-policy", "noeviction")
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("redis-server (scripts/ensure-test-servers.sh installs it): %w", err)
	}
	stop = func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for deadline := time.Now().Add(10 * time.Second); ; {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return stop, "redis://" + addr + "/0", nil
		}
		if time.Now().After(deadline) {
			stop()
			return nil, "", fmt.Errorf("redis-server at %s not up: %w", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitUp polls url until it answers 200, or the child exits.
func waitUp(url string, cmd *exec.Cmd) error {
	for deadline := time.Now().Add(30 * time.Second); ; {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("proxy at %s not up: %v", url, err)
		}
		if _, err := procCPU(cmd.Process.Pid); err != nil {
			return fmt.Errorf("proxy exited: %w", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tailBuffer keeps the last 8 KiB written to it (a child's stderr).
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 8192 {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-8192:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
