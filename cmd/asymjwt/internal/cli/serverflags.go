package cli

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"

	"github.com/asymjwt/asymjwt/cmd/asymjwt/internal/server"
	asymjwt "github.com/asymjwt/asymjwt/core"
	"github.com/redis/go-redis/v9"
)

// The flags the verifying servers (proxy, forward-auth) share, and the
// one place each turns into what it configures.

// keyFlags name where a verifying server finds its users' public keys.
type keyFlags struct {
	dir *string
}

func addKeyFlags(fs *flagSet) *keyFlags {
	return &keyFlags{
		dir: fs.String("keys", "", "authorized-keys `DIR`: one file per user"),
	}
}

// given reports whether a key source was named.
func (k *keyFlags) given() bool { return *k.dir != "" }

// open opens the key store the flags name, logging to logger; release
// frees it.
func (k *keyFlags) open(logger *slog.Logger) (store asymjwt.KeyStore, release func(), err error) {
	keys, err := asymjwt.OpenAuthorizedKeysDir(*k.dir, asymjwt.WithAuthorizedKeysLogger(logger))
	if err != nil {
		return nil, nil, err
	}
	return keys, func() { keys.Close() }, nil
}

// replayFlags choose the replay store: this process's memory, or Redis
// shared by several instances.
type replayFlags struct {
	url               *string
	insecureUnchecked *bool
	options           *redis.Options
}

func addReplayFlags(fs *flagSet) *replayFlags {
	return &replayFlags{
		url:               fs.String("redis", "", "share the replay store through Redis at `URL` (redis:// or rediss://)"),
		insecureUnchecked: fs.Bool("insecure-redis-unchecked-policy", false, "with --redis, start even when Redis's maxmemory-policy cannot be read (CONFIG and INFO refused): replays become possible if it evicts"),
	}
}

// check validates the flags after parsing; it returns a usage error.
func (f *replayFlags) check() error {
	if *f.insecureUnchecked && *f.url == "" {
		return usagef("--insecure-redis-unchecked-policy goes with --redis")
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

// open returns the replay store and a description for the log; release
// frees it.
func (f *replayFlags) open(ctx context.Context, logger *slog.Logger) (store asymjwt.ReplayStore, desc string, release func(), err error) {
	if f.options == nil {
		// This process's own: what the help texts promise, and what lets
		// several servers run in one test process independently.
		return asymjwt.NewMemoryReplayStore(), "memory", func() {}, nil
	}
	client, rs, err := server.OpenRedis(ctx, f.options, *f.insecureUnchecked, logger)
	if err != nil {
		return nil, "", nil, err
	}
	return rs, "redis " + client.Options().Addr, func() { client.Close() }, nil
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
// given.
func (f *tlsFlags) config() (*tls.Config, error) {
	if (*f.cert == "") != (*f.key == "") {
		return nil, usagef("--tls-cert and --tls-key go together")
	}
	if *f.cert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(*f.cert, *f.key)
	if err != nil {
		return nil, fmt.Errorf("TLS: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}
