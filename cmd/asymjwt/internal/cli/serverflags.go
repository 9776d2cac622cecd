package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/asymjwt/asymjwt/cmd/asymjwt/internal/server"
	asymjwt "github.com/asymjwt/asymjwt/core"
	asymjwtredis "github.com/asymjwt/asymjwt/redis"
	"github.com/redis/go-redis/v9"
)

// The flags the verifying servers (proxy, forward-auth) share, and the
// one place each turns into what it configures.

// keyFlags name where a verifying server finds its users' public keys:
// an authorized-keys directory, a key database, or both (chained).
type keyFlags struct {
	dir, db *string
}

func addKeyFlags(fs *flagSet) *keyFlags {
	return &keyFlags{
		dir: fs.String("keys", "", "authorized-keys `DIR`: one file per user"),
		db:  fs.String("keys-db", "", "key database `URL` (postgres://, postgresql:// or sqlite:PATH), alone or after --keys"),
	}
}

// given reports whether a key source was named.
func (k *keyFlags) given() bool { return *k.dir != "" || *k.db != "" }

// open opens the key store the flags name (openKeyStore), logging to
// logger; release frees it.
func (k *keyFlags) open(logger *slog.Logger, m *serverMetrics) (store asymjwt.KeyStore, release func(), err error) {
	src := keySource{dir: *k.dir, db: *k.db, watch: true, logger: logger}
	// Only the sources in use get series: a source never loaded would
	// show a last success at 0, which an alert on its age would fire on.
	if m != nil && src.dir != "" {
		src.dirReloaded = m.Verifier.KeySourceReloaded("directory")
	}
	if m != nil && src.db != "" {
		src.dbReloaded = m.Verifier.KeySourceReloaded("database")
	}
	return openKeyStore(context.Background(), src)
}

// replayFlags choose the replay store: this process's memory, or Redis
// shared by several instances.
type replayFlags struct {
	fs                *flagSet
	url               *string
	insecureUnchecked *bool
	retention         *time.Duration
	options           *redis.Options
	// redis is the store open opened on --redis, for checkFleet.
	redis *asymjwtredis.Store
}

func addReplayFlags(fs *flagSet) *replayFlags {
	return &replayFlags{
		fs:                fs,
		url:               fs.String("redis", "", "share the replay store through Redis at `URL` (redis:// or rediss://)"),
		insecureUnchecked: fs.Bool("insecure-redis-unchecked-policy", false, "with --redis, start even when Redis's maxmemory-policy cannot be read (CONFIG and INFO refused): replays become possible if it evicts"),
		retention:         fs.Duration("redis-retention", asymjwtredis.DefaultRetention, "with --redis, keep each token's entry this `DURATION` after its time: at least --tolerance + --max-clock-skew + 1s, and the same on every instance sharing the Redis"),
	}
}

// check validates the flags after parsing; it returns a usage error.
func (f *replayFlags) check() error {
	if *f.insecureUnchecked && *f.url == "" {
		return usagef("--insecure-redis-unchecked-policy goes with --redis")
	}
	if flagWasSet(f.fs, "redis-retention") && *f.url == "" {
		return usagef("--redis-retention goes with --redis")
	}
	if *f.url != "" {
		o, err := redis.ParseURL(*f.url)
		if err != nil {
			return usagef("--redis: %v", err)
		}
		f.options = o
	}
	return nil
}

// kind names the replay store in metrics: "memory" or "redis".
func (f *replayFlags) kind() string {
	if f.options == nil {
		return "memory"
	}
	return "redis"
}

// open returns the replay store and a description for the log; release
// frees it.
//
// With Redis it also compares this process's clock with Redis's: further
// apart than half of maxSkew, the instances' clocks may be further apart
// than maxSkew, the bound of the replay guarantee, which no store can
// enforce; that is logged as a warning.
func (f *replayFlags) open(ctx context.Context, logger *slog.Logger, maxSkew time.Duration) (store asymjwt.ReplayStore, desc string, release func(), err error) {
	if f.options == nil {
		// This process's own: what the help texts promise, and what lets
		// several servers run in one test process independently.
		return asymjwt.NewMemoryReplayStore(), "memory", func() {}, nil
	}
	client, rs, err := server.OpenRedis(ctx, f.options, *f.insecureUnchecked, logger, asymjwtredis.WithRetention(*f.retention))
	if err != nil {
		return nil, "", nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rs.CheckClock(cctx, maxSkew); err != nil {
		logger.Warn("asymjwt: this host's clock may be too far from the other instances' sharing --redis: a token may then be accepted by two of them (keep clocks synchronized, or raise --max-clock-skew and --redis-retention)",
			"err", err, "max_clock_skew", maxSkew.String())
	}
	f.redis = rs
	return rs, "redis " + client.Options().Addr, func() { client.Close() }, nil
}

// checkFleet compares the --redis store's retention with the other
// instances' and records it (server.CheckRedisRetention); call it once
// the verifier has accepted the store. Nothing to do without --redis.
func (f *replayFlags) checkFleet(ctx context.Context, logger *slog.Logger) error {
	if f.redis == nil {
		return nil
	}
	return server.CheckRedisRetention(ctx, f.redis, logger)
}

// logFlags choose the servers' log format and level.
type logFlags struct {
	format, level *string
}

func addLogFlags(fs *flagSet) *logFlags {
	return &logFlags{
		format: fs.String("log-format", "text", "log `FORMAT`: text or json"),
		level:  fs.String("log-level", "info", "log `LEVEL`: debug, info, warn or error"),
	}
}

// logger returns the logger writing to stderr, or a usage error.
func (f *logFlags) logger(e *env) (*slog.Logger, error) {
	var level slog.Level
	switch {
	case *f.format != "text" && *f.format != "json":
		return nil, usagef("--log-format must be text or json")
	case level.UnmarshalText([]byte(*f.level)) != nil:
		return nil, usagef("--log-level must be debug, info, warn or error")
	}
	return server.NewLogger(e.stderr, *f.format, level), nil
}

// tlsFlags serve HTTPS.
type tlsFlags struct {
	cert, key *string
}

func addTLSFlags(fs *flagSet) *tlsFlags {
	return &tlsFlags{
		cert: fs.String("tls-cert", "", "serve HTTPS with the certificate chain in `FILE` (PEM; needs --tls-key)"),
		key:  fs.String("tls-key", "", "private key of --tls-cert, in `FILE` (PEM)"),
	}
}

// config returns nil for plain HTTP; a usage error when only one flag is
// given. The certificate and key are read again when their files change
// (server.CertReloader), reported to logger.
func (f *tlsFlags) config(logger *slog.Logger) (*tls.Config, error) {
	if (*f.cert == "") != (*f.key == "") {
		return nil, usagef("--tls-cert and --tls-key go together")
	}
	if *f.cert == "" {
		return nil, nil
	}
	certs, err := server.NewCertReloader(*f.cert, *f.key, 0, logger)
	if err != nil {
		return nil, fmt.Errorf("TLS: %w", err)
	}
	return certs.TLSConfig(), nil
}

// verifierError is NewVerifier's error as a usage error, naming the flags
// that fix a replay store that would not keep entries long enough.
func verifierError(err error) error {
	if errors.Is(err, asymjwt.ErrReplayRetention) {
		return usagef("%v; here: raise --redis-retention (the same on every instance), or lower --tolerance or --max-clock-skew", err)
	}
	return &usageError{msg: err.Error()}
}

// windowFlags set a verifier's time window and the clock offset between
// instances that its replay protection covers.
type windowFlags struct {
	tolerance, maxClockSkew *time.Duration
}

func addWindowFlags(fs *flagSet) *windowFlags {
	return &windowFlags{
		tolerance:    fs.Duration("tolerance", asymjwt.DefaultTolerance, "accept token times within ± `DURATION` of now"),
		maxClockSkew: fs.Duration("max-clock-skew", 0, "a token is accepted at most once by all instances sharing --redis whose clocks are within `DURATION` of each other (default: the --tolerance); with --redis, --tolerance + --max-clock-skew + 1s must not exceed --redis-retention"),
	}
}

// maxSkew is the clock offset between instances the replay guarantee
// covers: --max-clock-skew, or the tolerance when not given.
func (f *windowFlags) maxSkew() time.Duration {
	if *f.maxClockSkew != 0 {
		return *f.maxClockSkew
	}
	return *f.tolerance
}

// options returns WithTolerance and, when given, WithMaxClockSkew.
func (f *windowFlags) options() []asymjwt.VerifierOption {
	opts := []asymjwt.VerifierOption{asymjwt.WithTolerance(*f.tolerance)}
	if *f.maxClockSkew != 0 {
		opts = append(opts, asymjwt.WithMaxClockSkew(*f.maxClockSkew))
	}
	return opts
}

// metricsFlags serve Prometheus metrics on a listener of their own.
type metricsFlags struct {
	listen *string
}

func addMetricsFlags(fs *flagSet) *metricsFlags {
	return &metricsFlags{
		listen: fs.String("metrics-listen", "", "serve Prometheus metrics on http://`ADDR`/metrics, a listener of its own (host:port)"),
	}
}

// check refuses the server's own address: metrics are never served on
// the port that answers clients.
func (f *metricsFlags) check(listen string) error {
	if *f.listen != "" && *f.listen == listen && !strings.HasSuffix(listen, ":0") {
		return usagef("--metrics-listen must differ from --listen: metrics are never served on the proxied port")
	}
	return nil
}

// open returns the metrics to collect, or nil without --metrics-listen;
// upstream adds the proxy's upstream metrics.
func (f *metricsFlags) open(upstream bool) (*serverMetrics, error) {
	if *f.listen == "" {
		return nil, nil
	}
	m, err := server.NewMetrics(upstream)
	if err != nil {
		return nil, err
	}
	return &serverMetrics{Metrics: m, listen: *f.listen}, nil
}

// serverMetrics are --metrics-listen's metrics; its methods do nothing
// on nil (no --metrics-listen).
type serverMetrics struct {
	*server.Metrics
	listen string
}

// verifierOptions use store as the replay store, timed and counted as
// kind, and observe every verification.
func (m *serverMetrics) verifierOptions(store asymjwt.ReplayStore, kind string) []asymjwt.VerifierOption {
	if m == nil {
		return []asymjwt.VerifierOption{asymjwt.WithReplayStore(store)}
	}
	return []asymjwt.VerifierOption{
		asymjwt.WithReplayStore(m.Verifier.InstrumentReplayStore(kind, store)),
		asymjwt.WithObserver(m.Verifier.Observe),
	}
}

// proxy is what server.ProxyConfig.Metrics takes.
func (m *serverMetrics) proxy() *server.ProxyMetrics {
	if m == nil {
		return nil
	}
	return m.Proxy
}

// serve starts the metrics listener; stop ends it.
func (m *serverMetrics) serve(ctx context.Context, name string, shutdownTimeout time.Duration, logger *slog.Logger) (stop func(), err error) {
	if m == nil {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", m.listen)
	if err != nil {
		return nil, fmt.Errorf("--metrics-listen: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() {
		served <- server.Serve(ctx, ln, m.Handler(), server.Options{Name: name, ShutdownTimeout: shutdownTimeout, Logger: logger})
	}()
	return func() {
		cancel()
		if err := <-served; err != nil {
			logger.Error(name + ": " + err.Error())
		}
	}, nil
}
