package cli

import (
	"context"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/asymjwt/asymjwt/cmd/asymjwt/internal/server"
	asymjwt "github.com/asymjwt/asymjwt/core"
)

func runProxy(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "proxy", help{
		usage: "asymjwt proxy --listen ADDR --upstream URL (--keys DIR | --keys-db URL | both) [--redis URL] [--aud A]... [--strict] [flags]",
		text: `Runs an authenticating reverse proxy in front of a service written in any
language. Every request must carry a valid token from a user of the
authorized-keys directory DIR, whose edits apply within seconds, without
a restart, or of the key database --keys-db (see "asymjwt migrate";
changes apply within milliseconds on PostgreSQL, a second on SQLite;
with both, a user with a file in DIR is decided by DIR alone; while the
database cannot be read, its last keys serve for 5 minutes, then its
users get 503). Accepted requests go to the upstream without their
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

Nothing passes unverified through a tunnel: CONNECT gets 405, and a
request asking to switch protocols (an Upgrade header, or "upgrade" in
Connection: h2c, TLS, anything) gets 400 before authentication, since
after a switch the proxy could only copy bytes the client sends, more
requests with their own identity headers among them. --allow-websocket
lets an HTTP/1.1 GET with "Upgrade: websocket" through after the usual
verification of its handshake: the WebSocket frames that follow are
NOT verified, so the upstream must treat the socket as one session of
the user who opened it, and never read identities from inside it.

GET /healthz (--health-path) answers 200 without credentials. Each
request is logged to stderr (slog; refusal reasons at level WARN).
SIGINT or SIGTERM stops accepting connections and lets requests in
flight finish.

The --tls-cert and --tls-key files are read again when they change
(looked at, at most once a second, by new connections): a renewed
certificate serves new connections without a restart, and connections
already open keep theirs. Replace both files by rename; a pair that does
not load is logged and the previous one stays in use.

--metrics-listen ADDR serves Prometheus metrics at /metrics on a
listener of its own, never on the proxied port: requests by outcome
(accepted, or the refusal reason), accepted requests by username,
verification, replay store and upstream latency, replay store errors,
upstream errors (502), reloads of the keys directory, build info, and
the process's CPU and memory.

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
	keyFlags := addKeyFlags(fs)
	replayFlags := addReplayFlags(fs)
	var aud stringList
	fs.Var(&aud, "aud", "this service's `NAME`: tokens must carry it in aud when they carry aud (always with --strict); repeat for several")
	strict := fs.Bool("strict", false, "require aud, qsh and bh on every token")
	userHeader := fs.String("user-header", server.DefaultUserHeader, "`NAME` of the request header that carries the username to the upstream")
	windowFlags := addWindowFlags(fs)
	maxBody := fs.Int64("max-body", asymjwt.DefaultMaxBodySize, "largest body, in `BYTES`, read to check a bh claim")
	healthPath := fs.String("health-path", "/healthz", "`PATH` answered with 200 to GET without credentials; empty to turn off")
	tlsFlags := addTLSFlags(fs)
	logFlags := addLogFlags(fs)
	shutdownTimeout := fs.Duration("shutdown-timeout", 10*time.Second, "on SIGINT/SIGTERM, wait this `DURATION` for requests in flight")
	metricsFlags := addMetricsFlags(fs)
	allowWebSocket := fs.Bool("allow-websocket", false, "let verified WebSocket handshakes switch protocols; the frames that follow are not verified")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(rest) != 0:
		return usagef("unexpected argument %q", rest[0])
	case *listen == "" || *upstreamURL == "" || !keyFlags.given():
		return usagef("--listen, --upstream and --keys (or --keys-db) are required")
	case *strict && len(aud) == 0:
		return usagef("--strict needs --aud: the name clients put in their tokens' aud")
	case !server.ValidHeaderName(*userHeader):
		return usagef("--user-header %q is not a header name", *userHeader)
	case *healthPath != "" && !strings.HasPrefix(*healthPath, "/"):
		return usagef("--health-path must start with /")
	}
	if err := replayFlags.check(); err != nil {
		return err
	}
	if err := metricsFlags.check(*listen); err != nil {
		return err
	}
	logger, err := logFlags.logger(e)
	if err != nil {
		return err
	}
	upstream, err := url.Parse(*upstreamURL)
	if err != nil || (upstream.Scheme != "http" && upstream.Scheme != "https") || upstream.Host == "" {
		return usagef("--upstream must be an absolute http or https URL")
	}
	tlsConfig, err := tlsFlags.config(logger)
	if err != nil {
		return err
	}

	metrics, err := metricsFlags.open()
	if err != nil {
		return err
	}
	opts := []asymjwt.VerifierOption{asymjwt.WithMaxBodySize(*maxBody)}
	if *strict {
		opts = append(opts, asymjwt.RequireAudience(), asymjwt.RequireRequestBinding(), asymjwt.RequireBodyHash())
	}
	v, replay, release, err := verifierSetup{keys: keyFlags, replay: replayFlags, window: windowFlags, aud: aud,
		metrics: metrics, logger: logger, opts: opts}.open(ctx)
	if err != nil {
		return err
	}
	defer release()

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	stopMetrics, err := metrics.serve(ctx, "asymjwt proxy metrics", *shutdownTimeout, logger)
	if err != nil {
		ln.Close()
		return err
	}
	defer stopMetrics()
	h := server.NewProxy(server.ProxyConfig{Verifier: v, Upstream: upstream, UserHeader: *userHeader, HealthPath: *healthPath, Logger: logger,
		AllowWebSocket: *allowWebSocket, Metrics: metrics.proxy()})
	return server.Serve(ctx, ln, h, server.Options{
		Name: "asymjwt proxy", TLS: tlsConfig, ShutdownTimeout: *shutdownTimeout, Logger: logger,
		Attrs: []any{"upstream", upstream.Redacted(), "replay_store", replay, "strict", *strict},
	})
}
