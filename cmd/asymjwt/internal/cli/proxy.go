package cli

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/asymjwt/asymjwt/cmd/asymjwt/internal/server"
	asymjwt "github.com/asymjwt/asymjwt/core"
	"github.com/redis/go-redis/v9"
)

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
	userHeader := fs.String("user-header", server.DefaultUserHeader, "`NAME` of the request header that carries the username to the upstream")
	tolerance := fs.Duration("tolerance", asymjwt.DefaultTolerance, "accept token times within ± `DURATION` of now")
	maxClockSkew := fs.Duration("max-clock-skew", asymjwt.DefaultTolerance, "a token is accepted at most once by all proxies sharing --redis whose clocks are within `DURATION` of each other; unset, the --tolerance. With --redis, --tolerance + --max-clock-skew must not exceed 40s")
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
	case !server.ValidHeaderName(*userHeader):
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
	logger := server.NewLogger(e.stderr, *logFormat, level)

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
	if flagWasSet(fs, "max-clock-skew") {
		opts = append(opts, asymjwt.WithMaxClockSkew(*maxClockSkew))
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
		client, store, err := server.OpenRedis(ctx, redisOptions, *insecureRedisUnchecked, logger)
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
	h := server.NewProxy(server.ProxyConfig{Verifier: v, Upstream: upstream, UserHeader: *userHeader, HealthPath: *healthPath, Logger: logger})
	return server.Serve(ctx, ln, h, server.Options{
		Name: "asymjwt proxy", TLS: tlsConfig, ShutdownTimeout: *shutdownTimeout, Logger: logger,
		Attrs: []any{"upstream", upstream.Redacted(), "replay_store", replay, "strict", *strict},
	})
}
