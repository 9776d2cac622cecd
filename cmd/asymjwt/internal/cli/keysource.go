package cli

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/asymjwt/asymjwt/cmd/asymjwt/internal/server"
	asymjwt "github.com/asymjwt/asymjwt/core"
	asymjwtsql "github.com/asymjwt/asymjwt/sql"
)

// openKeysOnce loads an authorized-keys directory for one command run:
// no polling, no log; each file that cannot be used is passed to warn.
func openKeysOnce(dir string, warn func(error)) (*asymjwt.AuthorizedKeysDir, error) {
	return asymjwt.OpenAuthorizedKeysDir(dir,
		asymjwt.WithAuthorizedKeysPollInterval(0),
		asymjwt.WithAuthorizedKeysLogger(slog.New(slog.DiscardHandler)),
		asymjwt.WithAuthorizedKeysErrorHandler(warn))
}

// warnTo returns a warn function that prints to stderr.
func warnTo(e *env) func(error) {
	return func(err error) { fmt.Fprintf(e.stderr, "warning: %v\n", err) }
}

// httpTransport is server.UpstreamTransport (http.DefaultTransport with
// room for idle connections), trusting the CA certificates in caFile
// instead of the system's when caFile is set.
func httpTransport(caFile string) (*http.Transport, error) {
	t := server.UpstreamTransport()
	if caFile == "" {
		return t, nil
	}
	data, err := readFileLimited(caFile, maxInput)
	if err != nil {
		return nil, fmt.Errorf("--cacert: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("--cacert: no PEM certificate in %s", caFile)
	}
	t.TLSClientConfig = &tls.Config{RootCAs: pool}
	return t, nil
}

// keySource is where a verifying command's keys come from: the key flags
// --keys DIR and --keys-db URL, alone or together.
type keySource struct {
	dir, db string
	// watch follows changes, as servers do; without it the keys are
	// loaded once (verify) and uses are not recorded.
	watch bool
	// logger gets loads and problems when watching; warn gets problems
	// otherwise.
	logger *slog.Logger
	warn   func(error)
	// dirReloaded, if set, is told of every load of the directory
	// (metrics).
	dirReloaded func(error)
	// dbReloaded, likewise, of every load of the database.
	dbReloaded func(error)
}

// openKeyStore builds the KeyStore of the key flags — the one place proxy,
// verify (and the other servers) do. With both, the directory comes first
// and the database second, chained by asymjwt.ChainKeyStores: a user with
// a file in the directory is decided by it alone. The database's store
// records key use (last_used_at) in either case. The returned close stops
// following the sources and writes pending uses.
func openKeyStore(ctx context.Context, src keySource) (_ asymjwt.KeyStore, _ func(), err error) {
	var (
		stores  []asymjwt.KeyStore
		closers []func() error
		dbStore *asymjwtsql.Store
	)
	closeAll := func() {
		for _, c := range slices.Backward(closers) {
			_ = c()
		}
	}
	defer func() {
		if err != nil {
			closeAll()
		}
	}()
	if src.dir != "" {
		var dir *asymjwt.AuthorizedKeysDir
		if src.watch {
			opts := []asymjwt.AuthorizedKeysOption{asymjwt.WithAuthorizedKeysLogger(src.logger)}
			if src.dirReloaded != nil {
				opts = append(opts, asymjwt.WithAuthorizedKeysReloadHandler(src.dirReloaded))
			}
			dir, err = asymjwt.OpenAuthorizedKeysDir(src.dir, opts...)
		} else {
			dir, err = openKeysOnce(src.dir, src.warn)
		}
		if err != nil {
			return nil, nil, err
		}
		stores, closers = append(stores, dir), append(closers, dir.Close)
	}
	if src.db != "" {
		db, err := openDB(ctx, src.db)
		if err != nil {
			return nil, nil, fmt.Errorf("--keys-db: %w", err)
		}
		closers = append(closers, db.Close)
		opts := []asymjwtsql.Option{asymjwtsql.WithLogger(src.logger)}
		if src.dbReloaded != nil {
			opts = append(opts, asymjwtsql.WithReloadHandler(src.dbReloaded))
		}
		if !src.watch {
			opts = []asymjwtsql.Option{
				asymjwtsql.WithLogger(slog.New(slog.DiscardHandler)),
				asymjwtsql.WithErrorHandler(src.warn),
			}
		}
		if dbStore, err = asymjwtsql.New(ctx, db, opts...); err != nil {
			return nil, nil, fmt.Errorf("--keys-db: %w", err)
		}
		stores, closers = append(stores, dbStore), append(closers, dbStore.Close)
	}
	switch {
	case len(stores) == 0:
		return nil, nil, usagef("give --keys, --keys-db or both")
	case !src.watch && dbStore != nil && len(stores) == 1:
		return lookupOnly{dbStore}, closeAll, nil
	case len(stores) == 1:
		return stores[0], closeAll, nil
	case !src.watch:
		return asymjwt.ChainKeyStores(stores...), closeAll, nil
	}
	return recordingChain{asymjwt.ChainKeyStores(stores...), dbStore}, closeAll, nil
}

// lookupOnly hides a store's KeyUseRecorder: a check from the command
// line is not a use of the key.
type lookupOnly struct{ store *asymjwtsql.Store }

func (l lookupOnly) Keys(ctx context.Context, username, kid string) ([]crypto.PublicKey, error) {
	return l.store.Keys(ctx, username, kid)
}

func (l lookupOnly) KeysWithIDs(ctx context.Context, username, kid string) ([]crypto.PublicKey, []string, error) {
	return l.store.KeysWithIDs(ctx, username, kid)
}

// recordingChain is a chain whose key uses go to the database's store,
// which writes those of its own keys (others it ignores).
type recordingChain struct {
	asymjwt.KeyStore
	recorder asymjwt.KeyUseRecorder
}

func (c recordingChain) KeysWithIDs(ctx context.Context, username, kid string) ([]crypto.PublicKey, []string, error) {
	return c.KeyStore.(asymjwt.KeyIDLister).KeysWithIDs(ctx, username, kid)
}

func (c recordingChain) KeyUsed(username, kid string, at time.Time) {
	c.recorder.KeyUsed(username, kid, at)
}
