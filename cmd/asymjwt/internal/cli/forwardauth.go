package cli

import (
	"context"
	"net"
	"strings"
	"time"

	"github.com/asymjwt/asymjwt/cmd/asymjwt/internal/server"
	asymjwt "github.com/asymjwt/asymjwt/core"
)

func runForwardAuth(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "forward-auth", help{
		usage: "asymjwt forward-auth --listen ADDR (--keys DIR | --keys-db URL | both) [--redis URL] [--aud A]... [--strict] [flags]",
		text: `Answers the authorization subrequests of a gateway already in front of a
service: nginx auth_request, Traefik ForwardAuth, Caddy forward_auth,
Envoy ext_authz (HTTP). For each subrequest, on any path, it checks the
token in its Authorization header and answers 200 with the username in
X-Authenticated-User (--user-header), 401 with WWW-Authenticate when the
token is missing or not valid, 503 when the replay store is down. The
gateway copies that header onto the request it forwards (replacing any
the client sent), and the upstream reads it.

From the gateway, each subrequest must carry:
  Authorization          the client's, unchanged
  X-Original-Method and X-Original-URI (nginx: $request_method,
  $request_uri), or X-Forwarded-Method and X-Forwarded-Uri (what Traefik
  and Caddy send): the original method and URI (path and query, as
  received), against which a token's qsh is checked. The gateway must
  set these itself, overwriting the client's. When both pairs come they
  must agree. Without either pair, only tokens bound to no request
  pass, and none with --strict.

The gateway sends no body, so a token carrying bh (a body hash) is
refused, with the reason logged: for body binding, run asymjwt proxy in
front of the service instead. Replayed tokens are refused through an
in-memory store, or Redis (--redis) shared by several instances, with
the proxy's rules (Redis's maxmemory-policy must be noeviction).

Clients must never reach forward-auth directly, nor the upstream other
than through the gateway: listen on loopback or an internal network
only. Examples for each gateway are in the repository's docs/gateways.

--strict requires every token to carry aud (so --aud is needed) and to
be bound to its request's method, path and query (qsh). There is no
health path unless --health-path names one; never let the gateway send
subrequests to it, as it answers 200 without credentials.

--metrics-listen ADDR serves Prometheus metrics at /metrics on a
listener of its own, as "asymjwt proxy" does (without its upstream
metrics). The --tls-cert and --tls-key files are read again when they
change.`,
		example: `asymjwt forward-auth --listen 127.0.0.1:9091 --keys /etc/asymjwt/keys --aud orders --strict`,
	})
	listen := fs.String("listen", "", "listen on `ADDR` (host:port; :0 picks a free port)")
	keyFlags := addKeyFlags(fs)
	replayFlags := addReplayFlags(fs)
	var aud stringList
	fs.Var(&aud, "aud", "this service's `NAME`: tokens must carry it in aud when they carry aud (always with --strict); repeat for several")
	strict := fs.Bool("strict", false, "require aud and qsh on every token")
	userHeader := fs.String("user-header", server.DefaultUserHeader, "`NAME` of the response header that carries the username to the gateway")
	windowFlags := addWindowFlags(fs)
	healthPath := fs.String("health-path", "", "`PATH` answered with 200 to GET without credentials (none by default)")
	tlsFlags := addTLSFlags(fs)
	logFlags := addLogFlags(fs)
	metricsFlags := addMetricsFlags(fs)
	shutdownTimeout := fs.Duration("shutdown-timeout", 10*time.Second, "on SIGINT/SIGTERM, wait this `DURATION` for requests in flight")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(rest) != 0:
		return usagef("unexpected argument %q", rest[0])
	case *listen == "" || !keyFlags.given():
		return usagef("--listen and --keys (or --keys-db) are required")
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
	tlsConfig, err := tlsFlags.config(logger)
	if err != nil {
		return err
	}
	metrics, err := metricsFlags.open()
	if err != nil {
		return err
	}
	var opts []asymjwt.VerifierOption
	if *strict {
		opts = append(opts, asymjwt.RequireAudience(), asymjwt.RequireRequestBinding())
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
	stopMetrics, err := metrics.serve(ctx, "asymjwt forward-auth metrics", *shutdownTimeout, logger)
	if err != nil {
		ln.Close()
		return err
	}
	defer stopMetrics()
	h := server.NewForwardAuth(server.ForwardAuthConfig{Verifier: v, UserHeader: *userHeader, HealthPath: *healthPath, Logger: logger})
	return server.Serve(ctx, ln, h, server.Options{
		Name: "asymjwt forward-auth", TLS: tlsConfig, ShutdownTimeout: *shutdownTimeout, Logger: logger,
		Attrs: []any{"replay_store", replay, "strict", *strict},
	})
}
