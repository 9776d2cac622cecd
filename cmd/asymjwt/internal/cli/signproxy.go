package cli

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/asymjwt/asymjwt/cmd/asymjwt/internal/server"
	asymjwt "github.com/asymjwt/asymjwt/core"
)

func runSignProxy(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "sign-proxy", help{
		usage: "asymjwt sign-proxy --upstream URL --key FILE --user NAME [--aud A]... [--listen ADDR] [flags]",
		text: `Signs the requests of a local client written in any language: point the
client at this proxy instead of the service, and each request goes to
the upstream with a fresh token made with the private key FILE for user
NAME. An Authorization header the client sent is replaced, never
forwarded. With --aud the token carries aud; a service using the Python
library (asymmetric_jwt_auth) refuses every token carrying aud, so leave
--aud out for those.

By default (--bind body) each token is bound to its request's method,
path and query (qsh) and to its body (bh), which a server run with
--strict requires: the body is then read first, up to --max-body bytes
(larger gets 413, nothing is sent). With --bind request tokens carry
qsh only and bodies are streamed; with --bind none, neither.

Every attempt gets its own token: a failed GET, HEAD, OPTIONS or TRACE
is retried once with a new one. Redirects are passed back to the
client, never followed: a Location on the upstream's origin is made
relative, so the client's next hop comes back through this proxy and is
signed for itself; one elsewhere is left as it is (the client goes
there without a token). The upstream's TLS certificate is verified,
against --cacert when given. A query that does not parse cleanly (a ";"
separator, a bad %-escape) gets 400; protocol upgrades are refused
unless --allow-websocket.

The key file is checked every second: replace it (rename a new file over
it) and the next requests are signed with the new key, no restart. A
file that does not load is logged and the last good key kept.

Anyone who can reach this proxy can make requests as NAME: it listens
on loopback only (default 127.0.0.1:8080) unless
--insecure-listen-any, for a network where only the client can
connect. A browser on the machine reaches loopback too, so requests
from web pages are refused with 403 and never signed: those carrying
Origin or Sec-Fetch-Site (which browsers send and HTTP libraries do
not), and, unless --insecure-listen-any, those whose Host is not
localhost or a loopback address (DNS rebinding).`,
		example: `asymjwt sign-proxy --listen 127.0.0.1:8080 --upstream https://orders.internal \
    --key client.pem --user billing --aud orders
curl http://127.0.0.1:8080/v1/orders?status=open`,
	})
	listen := fs.String("listen", "127.0.0.1:8080", "listen on `ADDR` (host:port on loopback; :0 picks a free port)")
	upstreamURL := fs.String("upstream", "", "send every request to `URL` (http or https)")
	keyPath := fs.String("key", "", "private key `FILE` (PEM or OpenSSH), reloaded when it changes")
	passFile := fs.String("passphrase-file", "", "passphrase of an encrypted private key, in `FILE` (read again with the key)")
	user := fs.String("user", "", "the `NAME` to authenticate as (the username claim)")
	var aud stringList
	fs.Var(&aud, "aud", "the `SERVICE` the tokens are meant for (aud claim); repeat for several")
	bind := fs.String("bind", "body", "what each token is bound to, `WHAT`: body (qsh and bh), request (qsh; bodies streamed) or none")
	maxBody := fs.Int64("max-body", asymjwt.DefaultMaxBodySize, "largest body, in `BYTES`, read to hash it (--bind body)")
	caFile := fs.String("cacert", "", "trust the CA certificates in `FILE` (PEM) for the upstream instead of the system's")
	insecureListen := fs.Bool("insecure-listen-any", false, "allow a --listen address that is not loopback, and any Host header: whoever reaches it signs as --user")
	allowWebSocket := fs.Bool("allow-websocket", false, "let WebSocket handshakes through (signed); the frames that follow carry no token")
	healthPath := fs.String("health-path", "", "`PATH` answered with 200 to GET without going upstream (none by default)")
	logFlags := addLogFlags(fs)
	shutdownTimeout := fs.Duration("shutdown-timeout", 10*time.Second, "on SIGINT/SIGTERM, wait this `DURATION` for requests in flight")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(rest) != 0:
		return usagef("unexpected argument %q", rest[0])
	case *upstreamURL == "" || *keyPath == "" || *user == "":
		return usagef("--upstream, --key and --user are required")
	case *keyPath == "-":
		return usagef("--key must be a file: it is read again when it changes")
	case *bind != "body" && *bind != "request" && *bind != "none":
		return usagef("--bind must be body, request or none")
	case *maxBody <= 0:
		return usagef("--max-body must be positive")
	case *healthPath != "" && !strings.HasPrefix(*healthPath, "/"):
		return usagef("--health-path must start with /")
	}
	if !*insecureListen && !server.LoopbackHost(*listen) {
		return usagef("--listen %s is not a loopback address: anyone reaching it could sign as %s (--insecure-listen-any if that is what you want)", *listen, *user)
	}
	logger, err := logFlags.logger(e)
	if err != nil {
		return err
	}
	upstream, err := url.Parse(*upstreamURL)
	if err != nil || (upstream.Scheme != "http" && upstream.Scheme != "https") || upstream.Host == "" || upstream.User != nil {
		return usagef("--upstream must be an absolute http or https URL without user info")
	}
	transport, err := httpTransport(*caFile)
	if err != nil {
		return err
	}
	opts := []asymjwt.SignerOption{}
	if len(aud) > 0 {
		opts = append(opts, asymjwt.WithAudience(aud...))
	}
	switch *bind {
	case "body":
		opts = append(opts, asymjwt.WithRequestBinding(), asymjwt.WithBodyHash())
	case "request":
		opts = append(opts, asymjwt.WithRequestBinding())
	}
	keys, err := server.OpenSignerFile(*keyPath, func(data []byte) (*asymjwt.Signer, error) {
		pass, err := readPassphrase(*passFile)
		if err != nil {
			return nil, err
		}
		key, err := asymjwt.ParsePrivateKey(data, pass)
		if err != nil {
			return nil, keyError(*keyPath, err)
		}
		return asymjwt.NewSigner(*user, key, opts...)
	}, logger)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	if addr, ok := ln.Addr().(*net.TCPAddr); !*insecureListen && (!ok || !addr.IP.IsLoopback()) {
		ln.Close()
		return fmt.Errorf("--listen %s resolved to %s, not loopback", *listen, ln.Addr())
	}
	h := server.NewSignProxy(server.SignProxyConfig{
		Signer: keys.Signer, Upstream: upstream, Transport: transport, MaxBody: *maxBody,
		HealthPath: *healthPath, Logger: logger, AllowWebSocket: *allowWebSocket, AnyHost: *insecureListen,
	})
	return server.Serve(ctx, ln, h, server.Options{
		Name: "asymjwt sign-proxy", ShutdownTimeout: *shutdownTimeout, Logger: logger,
		Attrs: []any{"upstream", upstream.Redacted(), "user", *user, "kid", keys.Signer().KeyID(), "bind", *bind},
	})
}
