package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode"

	asymjwt "github.com/asymjwt/asymjwt/core"
	asymjwtredis "github.com/asymjwt/asymjwt/redis"
	"github.com/redis/go-redis/v9"
)

// DefaultUserHeader carries the authenticated username to the upstream.
const DefaultUserHeader = "X-Authenticated-User"

func runProxy(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "proxy", help{
		usage: "asymjwt proxy --listen ADDR --upstream URL --keys DIR [--redis URL] [--aud A]... [--strict] [flags]",
		text: `Runs an authenticating reverse proxy in front of a service written in any
language. Every request must carry a valid token from a user of the
authorized-keys directory DIR, whose edits apply within seconds, without
a restart. Accepted requests go to the upstream without their
Authorization header and with the username in X-Authenticated-User
(--user-header); any header of that name the client sent is removed
first, so the upstream can trust it. Refused requests get 401, or 503
when the replay store is down, and never reach the upstream; an
unreachable upstream gives 502.

What the upstream gets is what was verified: the query as sent (after
the --upstream URL's own), no request trailers, and none of the headers
that make some frameworks change a request's method or URL
(X-HTTP-Method-Override, X-HTTP-Method, X-Method-Override,
X-Original-URL, X-Rewrite-URL, also spelled with "_"). A query that
does not parse cleanly (a ";" separator, a bad %-escape, more than
10,000 parameters) gets 400 before authentication. A username that
would not read back unchanged from a header (white space at either
end, a ",", a control character) is refused with 401.

GET /healthz (--health-path) answers 200 without credentials. Each
request is logged to stderr (slog; refusal reasons at level WARN).
SIGINT or SIGTERM stops accepting connections and lets requests in
flight finish.

Replayed tokens are refused through an in-memory store, which protects
this one process: run several instances behind a load balancer only
with --redis. Redis's maxmemory-policy must be noeviction: the proxy
refuses to start otherwise, and also when it cannot read the policy
(CONFIG and INFO refused) unless --insecure-redis-unchecked-policy.

--strict requires every token to carry aud (so --aud is needed), and to
be bound to its request's method, path, query (qsh) and body (bh), as
"asymjwt request" and SignRequest with WithRequestBinding/WithBodyHash
make them.`,
		example: `asymjwt proxy --listen :8443 --tls-cert cert.pem --tls-key key.pem \
    --upstream http://127.0.0.1:8080 --keys /etc/asymjwt/keys --aud orders --strict`,
	})
	listen := fs.String("listen", "", "listen on `ADDR` (host:port; :0 picks a free port)")
	upstreamURL := fs.String("upstream", "", "forward accepted requests to `URL` (http or https)")
	keysDir := fs.String("keys", "", "authorized-keys `DIR`: one file per user")
	redisURL := fs.String("redis", "", "share the replay store through Redis at `URL` (redis:// or rediss://)")
	insecureRedisUnchecked := fs.Bool("insecure-redis-unchecked-policy", false, "with --redis, start even when Redis's maxmemory-policy cannot be read (CONFIG and INFO refused): replays become possible if it evicts")
	var aud stringList
	fs.Var(&aud, "aud", "this service's `NAME`: tokens must carry it in aud when they carry aud (always with --strict); repeat for several")
	strict := fs.Bool("strict", false, "require aud, qsh and bh on every token")
	userHeader := fs.String("user-header", DefaultUserHeader, "`NAME` of the request header that carries the username to the upstream")
	tolerance := fs.Duration("tolerance", asymjwt.DefaultTolerance, "accept token times within ± `DURATION` of now")
	maxBody := fs.Int64("max-body", asymjwt.DefaultMaxBodySize, "largest body, in `BYTES`, read to check a bh claim")
	healthPath := fs.String("health-path", "/healthz", "`PATH` answered with 200 to GET without credentials; empty to turn off")
	tlsCert := fs.String("tls-cert", "", "serve HTTPS with the certificate chain in `FILE` (PEM; needs --tls-key)")
	tlsKey := fs.String("tls-key", "", "private key of --tls-cert, in `FILE` (PEM)")
	logFormat := fs.String("log-format", "text", "log `FORMAT`: text or json")
	logLevel := fs.String("log-level", "info", "log `LEVEL`: debug, info, warn or error")
	shutdownTimeout := fs.Duration("shutdown-timeout", 10*time.Second, "on SIGINT/SIGTERM, wait this `DURATION` for requests in flight")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	var level slog.Level
	switch {
	case len(rest) != 0:
		return usagef("unexpected argument %q", rest[0])
	case *listen == "" || *upstreamURL == "" || *keysDir == "":
		return usagef("--listen, --upstream and --keys are required")
	case *strict && len(aud) == 0:
		return usagef("--strict needs --aud: the name clients put in their tokens' aud")
	case (*tlsCert == "") != (*tlsKey == ""):
		return usagef("--tls-cert and --tls-key go together")
	case *logFormat != "text" && *logFormat != "json":
		return usagef("--log-format must be text or json")
	case level.UnmarshalText([]byte(*logLevel)) != nil:
		return usagef("--log-level must be debug, info, warn or error")
	case !validHeaderName(*userHeader):
		return usagef("--user-header %q is not a header name", *userHeader)
	case *healthPath != "" && !strings.HasPrefix(*healthPath, "/"):
		return usagef("--health-path must start with /")
	case *insecureRedisUnchecked && *redisURL == "":
		return usagef("--insecure-redis-unchecked-policy goes with --redis")
	}
	upstream, err := url.Parse(*upstreamURL)
	if err != nil || (upstream.Scheme != "http" && upstream.Scheme != "https") || upstream.Host == "" {
		return usagef("--upstream must be an absolute http or https URL")
	}
	var redisOptions *redis.Options
	if *redisURL != "" {
		if redisOptions, err = redis.ParseURL(*redisURL); err != nil {
			return usagef("--redis: %v", err)
		}
	}
	logger := newLogger(e.stderr, *logFormat, level)

	var tlsConfig *tls.Config
	if *tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey)
		if err != nil {
			return fmt.Errorf("TLS: %w", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}

	keys, err := asymjwt.OpenAuthorizedKeysDir(*keysDir, asymjwt.WithAuthorizedKeysLogger(logger))
	if err != nil {
		return err
	}
	defer keys.Close()

	opts := []asymjwt.VerifierOption{
		asymjwt.WithLogger(logger),
		asymjwt.WithTolerance(*tolerance),
		asymjwt.WithMaxBodySize(*maxBody),
	}
	if len(aud) > 0 {
		opts = append(opts, asymjwt.WithAudience(aud...))
	}
	if *strict {
		opts = append(opts, asymjwt.RequireAudience(), asymjwt.RequireRequestBinding(), asymjwt.RequireBodyHash())
	}
	replay := "memory"
	if redisOptions == nil {
		// This process's own: what the help text promises, and what lets
		// several proxies run in one test process independently.
		opts = append(opts, asymjwt.WithReplayStore(asymjwt.NewMemoryReplayStore()))
	} else {
		client, store, err := openRedis(ctx, redisOptions, *insecureRedisUnchecked, logger)
		if err != nil {
			return err
		}
		defer client.Close()
		opts = append(opts, asymjwt.WithReplayStore(store))
		replay = "redis " + client.Options().Addr
	}
	v, err := asymjwt.NewVerifier(keys, opts...)
	if err != nil {
		return &usageError{msg: err.Error()}
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           newProxyHandler(v, upstream, *userHeader, *healthPath, logger),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		TLSConfig:         tlsConfig,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			served <- srv.ServeTLS(ln, "", "")
		} else {
			served <- srv.Serve(ln)
		}
	}()
	logger.Info("asymjwt proxy: listening", "addr", ln.Addr().String(), "tls", tlsConfig != nil,
		"upstream", upstream.Redacted(), "replay_store", replay, "strict", *strict)

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	stop() // a second signal kills at once
	logger.Info("asymjwt proxy: shutting down", "timeout", shutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), *shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	logger.Info("asymjwt proxy: stopped")
	return nil
}

func newLogger(w io.Writer, format string, level slog.Level) *slog.Logger {
	o := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, o))
	}
	return slog.New(slog.NewTextHandler(w, o))
}

// openRedis connects to Redis and refuses one that may evict replay
// entries (an evicted entry lets its token be replayed), and one whose
// policy cannot be read unless insecureUnchecked.
func openRedis(ctx context.Context, o *redis.Options, insecureUnchecked bool, logger *slog.Logger) (*redis.Client, *asymjwtredis.Store, error) {
	redisLogOnce.Do(func() { redis.SetLogger(&redisLog) })
	redisLog.logger.Store(logger)
	// Let a deadline end socket I/O, so a stalled Redis costs at most the
	// store's timeout per request.
	o.ContextTimeoutEnabled = true
	client := redis.NewClient(o)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		return nil, nil, fmt.Errorf("redis at %s: %w", o.Addr, err)
	}
	store, err := asymjwtredis.New(client)
	if err != nil {
		client.Close()
		return nil, nil, err
	}
	switch err := store.Check(ctx); {
	case errors.Is(err, asymjwtredis.ErrEvictionPolicy):
		client.Close()
		return nil, nil, err
	case err != nil && !insecureUnchecked:
		client.Close()
		return nil, nil, fmt.Errorf("%w (it must be noeviction: allow CONFIG GET or INFO, or start with --insecure-redis-unchecked-policy if you are sure)", err)
	case err != nil:
		logger.Warn("asymjwt proxy: could not check Redis's maxmemory-policy; it must be noeviction, or replayed tokens may be accepted (--insecure-redis-unchecked-policy)", "err", err)
	}
	return client, store, nil
}

// redisLogger routes go-redis's own messages (failed dials, say) into
// the proxy's log, so that --log-format json output stays JSON. go-redis
// has one logger per process; the proxy started last owns it.
type redisLogger struct {
	logger atomic.Pointer[slog.Logger]
}

var (
	redisLog     redisLogger
	redisLogOnce sync.Once
)

func (r *redisLogger) Printf(ctx context.Context, format string, v ...any) {
	if l := r.logger.Load(); l != nil {
		l.WarnContext(ctx, fmt.Sprintf(format, v...))
	}
}

// validHeaderName reports whether name is an HTTP header field name (an
// RFC 9110 token).
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// headerKey folds a header name for comparison: case-insensitive, and
// "_" the same as "-", since CGI, WSGI and similar gateways turn both
// into the same variable (X_Authenticated_User would pose as
// X-Authenticated-User).
func headerKey(name string) string {
	return strings.ToLower(strings.ReplaceAll(name, "_", "-"))
}

type accessKey struct{}

// accessEntry collects what the access log line reports.
type accessEntry struct {
	user string
}

// overrideHeaders (folded by headerKey) let some frameworks change a
// request's method or URL: an upstream honouring them would run a token
// bound to one request as another.
var overrideHeaders = map[string]bool{
	"x-http-method-override": true,
	"x-http-method":          true,
	"x-method-override":      true,
	"x-original-url":         true,
	"x-rewrite-url":          true,
}

// unsafeHeaderValue says why name cannot be forwarded as a header value
// that the upstream reads back unchanged, or returns "". Parsers drop
// surrounding spaces and tabs (" admin" would read as "admin"), some any
// white space, and may split on "," (a list); control characters end or
// fold the header.
func unsafeHeaderValue(name string) string {
	switch {
	case name == "":
		return "empty"
	case strings.TrimFunc(name, unicode.IsSpace) != name:
		return "leading or trailing white space"
	case strings.Contains(name, ","):
		return `contains ","`
	case strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "contains a control character"
	}
	return ""
}

// queryError is url.ParseQuery's error for q, without its allocations
// for the common empty query.
func queryError(q string) error {
	if q == "" {
		return nil
	}
	_, err := url.ParseQuery(q)
	return err
}

var errUnsafeUsername = errors.New("asymjwt proxy: username cannot be forwarded in a header")

func newProxyHandler(v *asymjwt.Verifier, upstream *url.URL, userHeader, healthPath string, logger *slog.Logger) http.Handler {
	userHeader = textproto.CanonicalMIMEHeaderKey(userHeader)
	userKey := headerKey(userHeader)
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(upstream)
			// Forward the query that was verified: Rewrite mode has already
			// re-encoded it when it held ";", bad escapes or too many
			// parameters (refused before this), or under GODEBUG=urlmaxqueryparams.
			pr.Out.URL.RawQuery = upstream.RawQuery
			if q := pr.In.URL.RawQuery; q != "" {
				if pr.Out.URL.RawQuery != "" {
					pr.Out.URL.RawQuery += "&"
				}
				pr.Out.URL.RawQuery += q
			}
			// Request trailers are client-controlled headers that arrive
			// after the body: they would bypass everything below.
			pr.Out.Trailer = nil
			pr.SetXForwarded()
			pr.Out.Header.Del("Authorization")
			for name := range pr.Out.Header {
				if k := headerKey(name); k == userKey || overrideHeaders[k] {
					delete(pr.Out.Header, name)
				}
			}
			// The middleware lets only authenticated requests get here.
			id, _ := asymjwt.FromContext(pr.In.Context())
			pr.Out.Header.Set(userHeader, id.Username)
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			logger.LogAttrs(r.Context(), slog.LevelError, "asymjwt proxy: upstream failed",
				slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.String("err", err.Error()))
			http.Error(w, http.StatusText(http.StatusBadGateway), http.StatusBadGateway)
		},
		ErrorLog:   slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BufferPool: &bufferPool{},
	}
	authenticated := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := asymjwt.FromContext(r.Context())
		// Defense in depth: the key store should never yield such a name.
		if reason := unsafeHeaderValue(id.Username); reason != "" {
			logger.LogAttrs(r.Context(), slog.LevelWarn, errUnsafeUsername.Error(),
				slog.String("user", id.Username), slog.String("reason", reason))
			v.WriteError(w, errUnsafeUsername, false)
			return
		}
		if entry, ok := r.Context().Value(accessKey{}).(*accessEntry); ok {
			entry.user = id.Username
		}
		rp.ServeHTTP(w, r)
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		entry := &accessEntry{}
		rec := &recorder{ResponseWriter: w}
		if healthPath != "" && r.URL.Path == healthPath && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			rec.Header().Set("Content-Type", "text/plain; charset=utf-8")
			rec.Header().Set("Cache-Control", "no-store")
			rec.WriteHeader(http.StatusOK)
			if r.Method == http.MethodGet {
				io.WriteString(rec, "ok\n")
			}
		} else if err := queryError(r.URL.RawQuery); err != nil {
			// ";" separators, bad escapes, too many parameters: net/http,
			// ReverseProxy and the upstream may each read such a query
			// differently from the verifier. Refused before authentication.
			logger.LogAttrs(r.Context(), slog.LevelWarn, "asymjwt proxy: malformed query refused", slog.String("err", err.Error()))
			http.Error(rec, http.StatusText(http.StatusBadRequest), http.StatusBadRequest)
		} else {
			authenticated.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), accessKey{}, entry)))
		}
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.EscapedPath()),
			slog.Int("status", status),
			slog.Int64("bytes", rec.bytes),
			slog.Duration("duration", time.Since(start)),
			slog.String("user", entry.user),
			slog.String("remote", r.RemoteAddr),
		)
	})
}

// bufferPool reuses the buffers responses are copied through, which
// ReverseProxy would otherwise allocate, 32 KiB each, for every request.
type bufferPool struct{ pool sync.Pool }

func (p *bufferPool) Get() []byte {
	if b, ok := p.pool.Get().(*[]byte); ok {
		return *b
	}
	return make([]byte, 32<<10)
}

func (p *bufferPool) Put(b []byte) { p.pool.Put(&b) }

// recorder notes the status and size of a response for the access log.
// Unwrap lets http.ResponseController reach the connection (flushes for
// streaming, hijacking for upgrades).
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *recorder) WriteHeader(code int) {
	// 1xx responses are interim, except 101 Switching Protocols (an upgrade).
	if r.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
