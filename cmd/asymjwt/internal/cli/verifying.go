package cli

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/asymjwt/asymjwt/cmd/asymjwt/internal/server"
	asymjwt "github.com/asymjwt/asymjwt/core"
)

// verifyingFlags are the flags of the servers that verify tokens (proxy,
// forward-auth), and the one place they become a verifier and a running
// server.
type verifyingFlags struct {
	listen          *string
	keys            *keyFlags
	replay          *replayFlags
	window          *windowFlags
	aud             stringList
	strict          *bool
	userHeader      *string
	healthPath      *string
	tls             *tlsFlags
	log             *logFlags
	metrics         *metricsFlags
	shutdownTimeout *time.Duration
	upstream        bool
}

// verifyingHelp words the flags whose meaning differs between servers;
// upstream says the server forwards requests (its metrics time them).
type verifyingHelp struct {
	strict, userHeader, healthPath, healthDefault string
	upstream                                      bool
}

func addVerifyingFlags(fs *flagSet, h verifyingHelp) *verifyingFlags {
	f := &verifyingFlags{
		listen:   fs.String("listen", "", "listen on `ADDR` (host:port; :0 picks a free port)"),
		keys:     addKeyFlags(fs),
		replay:   addReplayFlags(fs),
		window:   addWindowFlags(fs),
		strict:   fs.Bool("strict", false, h.strict),
		upstream: h.upstream,
	}
	fs.Var(&f.aud, "aud", "this service's `NAME`: tokens must carry it in aud when they carry aud (always with --strict); repeat for several")
	f.userHeader = fs.String("user-header", server.DefaultUserHeader, h.userHeader)
	f.healthPath = fs.String("health-path", h.healthDefault, h.healthPath)
	f.tls = addTLSFlags(fs)
	f.log = addLogFlags(fs)
	f.metrics = addMetricsFlags(fs)
	f.shutdownTimeout = fs.Duration("shutdown-timeout", 10*time.Second, "on SIGINT/SIGTERM, wait this `DURATION` for requests in flight")
	return f
}

// check validates the shared flags after parsing; it returns a usage
// error. required names the flags the command cannot do without.
func (f *verifyingFlags) check(required string, more bool) error {
	switch {
	case *f.listen == "" || !f.keys.given() || !more:
		return usagef("%s are required", required)
	case *f.strict && len(f.aud) == 0:
		return usagef("--strict needs --aud: the name clients put in their tokens' aud")
	case !server.ValidHeaderName(*f.userHeader):
		return usagef("--user-header %q is not a header name", *f.userHeader)
	case *f.healthPath != "" && !strings.HasPrefix(*f.healthPath, "/"):
		return usagef("--health-path must start with /")
	}
	if err := f.replay.check(); err != nil {
		return err
	}
	return f.metrics.check(*f.listen)
}

// verifying is a verifier with what a server around it needs; close
// releases its key and replay stores.
type verifying struct {
	flags    *verifyingFlags
	logger   *slog.Logger
	tls      *tls.Config
	metrics  *serverMetrics
	verifier *asymjwt.Verifier
	replay   string
	closers  []func()
}

// open builds the logger, TLS configuration, metrics, key and replay
// stores and the verifier: with the options of the flags, then opts, then
// strictOpts under --strict.
func (f *verifyingFlags) open(ctx context.Context, e *env, opts, strictOpts []asymjwt.VerifierOption) (_ *verifying, err error) {
	s := &verifying{flags: f}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	if s.logger, err = f.log.logger(e); err != nil {
		return nil, err
	}
	if s.tls, err = f.tls.config(s.logger); err != nil {
		return nil, err
	}
	if s.metrics, err = f.metrics.open(f.upstream); err != nil {
		return nil, err
	}
	keys, closeKeys, err := f.keys.open(s.logger, s.metrics)
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, closeKeys)
	all := []asymjwt.VerifierOption{asymjwt.WithLogger(s.logger), asymjwt.WithAudienceHint("--aud")}
	all = append(all, f.window.options()...)
	all = append(all, opts...)
	if len(f.aud) > 0 {
		all = append(all, asymjwt.WithAudience(f.aud...))
	}
	if *f.strict {
		all = append(all, strictOpts...)
	}
	store, replay, closeStore, err := f.replay.open(ctx, s.logger, f.window.maxSkew())
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, closeStore)
	s.replay = replay
	all = append(all, s.metrics.verifierOptions(store, f.replay.kind())...)
	if s.verifier, err = asymjwt.NewVerifier(keys, all...); err != nil {
		return nil, verifierError(err)
	}
	// Only now: a retention recorded by an instance refused above would
	// hold back the ones that run.
	if err = f.replay.checkFleet(ctx, s.logger); err != nil {
		return nil, err
	}
	return s, nil
}

// serve listens on --listen and serves h, and the metrics on their own
// listener, until ctx ends or a signal (server.Serve).
func (s *verifying) serve(ctx context.Context, name string, h http.Handler, attrs ...any) error {
	ln, err := net.Listen("tcp", *s.flags.listen)
	if err != nil {
		return err
	}
	stopMetrics, err := s.metrics.serve(ctx, name+" metrics", *s.flags.shutdownTimeout, s.logger)
	if err != nil {
		ln.Close()
		return err
	}
	defer stopMetrics()
	return server.Serve(ctx, ln, h, server.Options{
		Name: name, TLS: s.tls, ShutdownTimeout: *s.flags.shutdownTimeout, Logger: s.logger,
		Attrs: append([]any{"replay_store", s.replay, "strict", *s.flags.strict}, attrs...),
	})
}

// close releases the stores, last opened first.
func (s *verifying) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
}
