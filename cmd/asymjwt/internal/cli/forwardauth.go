package cli

import (
	"context"

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
	flags := addVerifyingFlags(fs, verifyingHelp{
		strict:     "require aud and qsh on every token",
		userHeader: "`NAME` of the response header that carries the username to the gateway",
		healthPath: "`PATH` answered with 200 to GET without credentials (none by default)",
	})
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return usagef("unexpected argument %q", rest[0])
	}
	if err := flags.check("--listen and --keys (or --keys-db)", true); err != nil {
		return err
	}
	s, err := flags.open(ctx, e, nil, []asymjwt.VerifierOption{asymjwt.RequireAudience(), asymjwt.RequireRequestBinding()})
	if err != nil {
		return err
	}
	defer s.close()
	h := server.NewForwardAuth(server.ForwardAuthConfig{Verifier: s.verifier, UserHeader: *flags.userHeader, HealthPath: *flags.healthPath, Logger: s.logger})
	return s.serve(ctx, "asymjwt forward-auth", h)
}
